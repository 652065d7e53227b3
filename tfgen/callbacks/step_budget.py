"""`StopAtStep`: end `fit` when the optimizer has taken a given number of steps."""

import keras

__all__ = ["StopAtStep"]


class StopAtStep(keras.callbacks.Callback):
    """Stops training once `model.optimizer.iterations` reaches `steps`.

    Keras runs whole epochs of `steps_per_epoch` steps; a step budget that is
    not a multiple of it (validation every K steps, say) would overrun the
    budget and a learning-rate schedule sized to it. The epoch in which the
    budget ends is cut short and still validated. With `steps_per_execution`
    set in `compile`, the budget is met exactly when the execution size
    divides it.

    Args:
      steps: the step budget.

    Example:

    ```python
    model.fit(data, epochs=4, steps_per_epoch=300, callbacks=[StopAtStep(1000)])
    ```
    """

    def __init__(self, steps):
        super().__init__()
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"`steps` must be a positive int; received {steps!r}.")
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.steps:
            self.model.stop_training = True
