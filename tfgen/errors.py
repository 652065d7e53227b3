"""Exceptions tfgen raises besides `ValueError` and `TypeError`.

This module imports nothing heavy, so the command line can catch them
without loading TensorFlow.
"""

__all__ = ["NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """Training stopped: the loss became NaN or infinite.

    Attributes:
      step: the optimizer step whose loss was not finite (1-based).
    """

    def __init__(self, message, step=None):
        super().__init__(message)
        self.step = step
