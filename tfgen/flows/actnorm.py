"""`ActNormLayer`: ActNorm's weights, with data-dependent initialization.

Glow initializes each ActNorm so that its output on the first batch has zero
mean and unit variance per channel:

    log_scale = -log(std(x)),   shift = -mean(x) / std(x)

The layer keeps an `initialized` flag as a non-trainable weight, so the
initialization is saved in `.keras` files and checkpoints, is mirrored under
`tf.distribute`, and is never repeated once done.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import bijectors
from tfgen.flows.layers import _FlowLayer

tfb = tfp.bijectors

__all__ = ["ActNormLayer"]

_EPSILON = 1e-6


@keras.saving.register_keras_serializable(package="tfgen")
class ActNormLayer(_FlowLayer):
    """Owns `shift` and `log_scale` of a `tfgen.bijectors.ActNorm`.

    Both start at zero (the identity). `Flow.initialize(x)` (called by
    `Flow.fit` on its first batch) sets them from data: while
    `initializing` is True, `bijector()` returns a bijector that computes
    the statistics of its own input, stores them in the weights and sets
    `initialized`.

    Args:
      event_shape: `[c]` or `[h, w, c]`; statistics are per channel (the last
        axis), over the batch and the pixels.

    Example:

    ```python
    layer = ActNormLayer([4, 4, 3])
    layer.bijector().forward(x)   # identity until initialized
    ```

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018, section 3.1.
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(event_shape, **kwargs)
        channels = self.event_shape[-1]
        self.shift = self.add_weight(shape=(channels,), name="shift", initializer="zeros")
        self.log_scale = self.add_weight(shape=(channels,), name="log_scale",
                                         initializer="zeros")
        self.initialized = self.add_weight(shape=(), name="initialized", initializer="zeros",
                                           trainable=False)
        self.initializing = False
        self.built = True

    @property
    def is_initialized(self):
        return bool(self.initialized.numpy() > 0)

    def bijector(self):
        if self.initializing:
            return _InitializingActNorm(self)
        return bijectors.ActNorm(self.shift, self.log_scale, len(self.event_shape))

    def initialize_from(self, x):
        """Sets the weights from the batch `x`; returns the new bijector."""
        axes = list(range(x.shape.rank - 1))
        mean, variance = tf.nn.moments(x, axes)
        log_std = 0.5 * tf.math.log(variance + _EPSILON)
        self.log_scale.assign(-log_std)
        self.shift.assign(-mean * tf.exp(-log_std))
        self.initialized.assign(1.0)
        return bijectors.ActNorm(self.shift, self.log_scale, len(self.event_shape))


class _InitializingActNorm(tfb.Bijector):
    """ActNorm whose parameters are set from the first input it maps (only
    used inside `Flow.initialize`, in the data -> latent direction)."""

    def __init__(self, layer):
        self._layer = layer
        super().__init__(forward_min_event_ndims=len(layer.event_shape),
                         parameters={}, name="initializing_actnorm")

    def _forward(self, x):
        return self._layer.initialize_from(x).forward(x)

    def _forward_log_det_jacobian(self, x):
        return self._layer.initialize_from(x).forward_log_det_jacobian(
            x, event_ndims=len(self._layer.event_shape))
