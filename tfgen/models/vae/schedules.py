"""Loss-weight schedules of a VAE as Keras callbacks.

Each sets the model's `kl_weight` (and `reconstruction_weight`) before a
training step from the step count `model.optimizer.iterations`, so a resumed
run continues the schedule where it stopped. With `steps_per_execution > 1`
in `compile`, the weights change once per execution (Keras calls callbacks
between executions).

    KLWarmup(steps)           kl_weight = beta * min(1, t / steps)
    CyclicalKL(period, ratio) kl_weight rises linearly from 0 to beta over the
                              first `ratio` of every `period`, then stays
    TwoPhaseSchedule()        reconstruction / KL weights 0.99 / 0.01 beta
                              until the samples' variance across z rises to
                              `min_variance`, then 0.5 / 0.5 beta

References:
  Bowman et al., "Generating Sentences from a Continuous Space", CoNLL 2016.
  Fu et al., "Cyclical Annealing Schedule", NAACL 2019.
  Higgins et al., "beta-VAE", ICLR 2017 (weighted reconstruction and KL).
"""

import keras

__all__ = ["CyclicalKL", "KLWarmup", "TwoPhaseSchedule"]


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


class TwoPhaseSchedule(keras.callbacks.Callback):
    """Two phases of loss weights for a model whose decoder ignores z (a
    strongly conditioned VAE collapsed onto a class-average image):

        phase 1: reconstruction 0.99, KL 0.01 beta  (the decoder must use z)
        phase 2: reconstruction 0.5,  KL 0.5 beta   (the ELBO, halved)

    Every `check_every` steps of phase 1 it measures the samples' variance
    across z (`model.sample_variance`: per value, averaged over values and
    classes; intensities in [0, 1] for discrete data) and moves to phase 2
    once it reaches `min_variance`. The phase lives in the model's saved
    `reconstruction_weight`, which keeps the phase's value after training
    (validation and evaluation score the objective itself, weights 1 and
    beta), so a resumed run or a later `fit` goes on in its phase;
    `switched_at` is the step of the switch (None before it), `variances`
    the `(step, variance)` measured.

    Args:
      min_variance: the variance that ends phase 1.
      check_every: steps between measurements.
      samples: samples of z per class in a measurement.

    Example:

    ```python
    cvae.fit(data, epochs=20, callbacks=[TwoPhaseSchedule(min_variance=0.01)])
    ```
    """

    PHASES = ((0.99, 0.01), (0.5, 0.5))

    def __init__(self, min_variance=0.01, check_every=100, samples=64):
        super().__init__()
        if not isinstance(min_variance, (int, float)) or min_variance <= 0:
            raise ValueError(f"`min_variance` must be a float > 0; received {min_variance!r}.")
        self.min_variance = float(min_variance)
        self.check_every = _check_steps("check_every", check_every)
        self.samples = _check_steps("samples", samples)
        self.switched_at, self.variances = None, []

    def _set_phase(self, phase):
        reconstruction, kl = self.PHASES[phase]
        self.model.reconstruction_weight.assign(reconstruction)
        self.model.kl_weight.assign(kl * self.model.beta)

    def on_train_begin(self, logs=None):
        in_phase_2 = abs(float(self.model.reconstruction_weight.numpy()) - 0.5) < 1e-6
        self._phase = 1 if in_phase_2 else 0
        self._set_phase(self._phase)
        step = int(self.model.optimizer.iterations.numpy())
        self._next_check = (step // self.check_every + 1) * self.check_every

    def on_train_batch_begin(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if self._phase or step < self._next_check:
            return
        self._next_check = (step // self.check_every + 1) * self.check_every
        variance = float(self.model.sample_variance(self.samples, seed=step))
        self.variances.append((step, variance))
        if variance >= self.min_variance:
            self._phase, self.switched_at = 1, step
            self._set_phase(1)
