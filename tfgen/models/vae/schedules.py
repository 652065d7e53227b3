"""Loss-weight schedules of a VAE as Keras callbacks.

Each sets the model's `kl_weight` (and `reconstruction_weight`) before a
training step from the step count `model.optimizer.iterations`, so a resumed
run continues the schedule where it stopped. With `steps_per_execution > 1`
in `compile`, the weights change once per execution (Keras calls callbacks
between executions).

    KLWarmup(steps)           kl_weight = beta * min(1, t / steps)
    CyclicalKL(period, ratio) kl_weight rises linearly from 0 to beta over the
                              first `ratio` of every `period`, then stays

References:
  Bowman et al., "Generating Sentences from a Continuous Space", CoNLL 2016.
  Fu et al., "Cyclical Annealing Schedule", NAACL 2019.
"""

import keras

__all__ = ["CyclicalKL", "KLWarmup"]


def _check_steps(name, value):
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int; received {value!r}.")
    return value


class _KLSchedule(keras.callbacks.Callback):
    """Base: `fraction(step)` in [0, 1] of the model's `beta`."""

    def on_train_batch_begin(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self.model.kl_weight.assign(self.model.beta * self.fraction(step))

    def on_train_end(self, logs=None):
        # Evaluation after training sees the objective's own weight.
        self.model.kl_weight.assign(self.model.beta)


class KLWarmup(_KLSchedule):
    """Linear KL warm-up over the first `steps` training steps.

    Example:

    ```python
    vae.fit(data, epochs=20, callbacks=[KLWarmup(300)])
    ```
    """

    def __init__(self, steps):
        super().__init__()
        self.steps = _check_steps("steps", steps)

    def fraction(self, step):
        return min(1.0, step / self.steps)


class CyclicalKL(_KLSchedule):
    """Cyclical annealing: every `period` steps the KL weight restarts at 0
    and rises linearly to beta over `ratio * period` steps."""

    def __init__(self, period, ratio=0.5):
        super().__init__()
        self.period = _check_steps("period", period)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"`ratio` must be in (0, 1]; received {ratio!r}.")
        self.ratio = ratio

    def fraction(self, step):
        return min(1.0, (step % self.period) / (self.ratio * self.period))
