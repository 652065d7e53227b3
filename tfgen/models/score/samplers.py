"""Samplers of score models, as plain objects: each walk is one
`tf.while_loop` over its steps with stateless noise (z_i from the seed
and the step), so it runs as one graph. (Not XLA's: XLA draws other
stateless normals, and Python's samples are the exported graph's.)

Called as `sampler(score_fn, x, seed) -> x` with `score_fn(x, sigma)`
the score at noise levels `sigma` `[batch]`, `x` the starting points
(`sampler.prior(shape, seed)` draws the usual ones) and `seed` a
stateless `[2]` seed.

    Langevin (at one level sigma):
        x <- x + (eps / 2) s(x, sigma) + sqrt(eps) z            (T steps)
    annealed Langevin (Song & Ermon 2019, Algorithm 1), levels sigma_1 > ... > sigma_L:
        alpha_i = eps sigma_i^2 / sigma_L^2,  T steps of Langevin at each level
        then x <- x + sigma_L^2 s(x, sigma_L)                   (the denoising step)
    predictor-corrector (Song et al. 2021, Algorithms 2-3, VE SDE), per level i:
        corrector: eps = 2 (r mean||z|| / mean||s(x, sigma_i)||)^2   (means over the batch)
                   x <- x + eps s + sqrt(2 eps) z
        predictor: x <- x + (sigma_i^2 - sigma_{i+1}^2) s(x, sigma_i)
                          + sqrt(sigma_i^2 - sigma_{i+1}^2) z    (sigma_{L+1} = 0; no noise last)

References:
  Song & Ermon, "Generative Modeling by Estimating Gradients of the Data
  Distribution", NeurIPS 2019.
  Song & Ermon, "Improved Techniques for Training Score-Based Generative
  Models", NeurIPS 2020.
  Song et al., "Score-Based Generative Modeling through Stochastic
  Differential Equations", ICLR 2021.
"""

import tensorflow as tf

from tfgen._validation import check_positive_int

__all__ = ["SAMPLERS", "AnnealedLangevin", "LangevinDynamics", "PredictorCorrector",
           "make_sampler"]


def _noise(seed, step, shape):
    """z ~ N(0, I) of walk step `step`."""
    return tf.random.stateless_normal(shape, tf.random.experimental.stateless_fold_in(seed, step))


def _levels(sigma, x):
    """The scalar level `sigma` as the `[batch]` levels of `x`."""
    return tf.fill([tf.shape(x)[0]], tf.cast(sigma, tf.float32))


def _flat_norm(x):
    return tf.norm(tf.reshape(x, [tf.shape(x)[0], -1]), axis=-1)


def _positive(name, value):
    if not value > 0:
        raise ValueError(f"`{name}` must be > 0; received {value!r}.")
    return float(value)


def _steps(name, value):
    """An int >= 1, or an int tensor (a graph's input) as it is."""
    return tf.cast(value, tf.int32) if tf.is_tensor(value) else check_positive_int(name, value)


class _Walk:
    """Runs steps `start .. stop - 1` of `num_steps` (all by default) as one
    `tf.while_loop` of `step(score_fn, i, x, seed)`, then `finish` after
    the last one: a walk in pieces gives the samples of the whole."""

    def prior(self, shape, seed):
        """N(0, sigma_1^2 I): the largest level's noise swamps the data."""
        return self.sigmas[0] * _noise(seed, -1, shape)

    def __call__(self, score_fn, x, seed, start=0, stop=None):
        x = tf.convert_to_tensor(x, tf.float32)
        stop = self.num_steps if stop is None else stop
        x = tf.while_loop(lambda i, _: i < stop,
                          lambda i, x: (i + 1, self.step(score_fn, i, x, seed)),
                          (tf.cast(start, tf.int32), x))[1]
        if isinstance(stop, int) and isinstance(self.num_steps, int):
            return self.finish(score_fn, x) if stop == self.num_steps else x
        return tf.cond(tf.equal(stop, self.num_steps), lambda: self.finish(score_fn, x),
                       lambda: x)

    def finish(self, score_fn, x):
        return x


class LangevinDynamics(_Walk):
    """Unadjusted Langevin dynamics at one noise level.

    Args:
      step_size: eps.
      num_steps: T.
      sigma: the level whose score it follows (0: the data's own).
      init_scale: `prior` draws N(0, init_scale^2 I).

    Example:

    ```python
    walk = LangevinDynamics(0.01, 1000)
    x = walk(lambda x, sigma: -x, walk.prior([500, 2], seed), seed)   # ~ N(0, I)
    ```
    """

    def __init__(self, step_size, num_steps, sigma=0.0, init_scale=1.0):
        self.step_size = _positive("step_size", step_size)
        self.num_steps = _steps("num_steps", num_steps)
        self.sigma = tf.cast(sigma, tf.float32)
        self.init_scale = _positive("init_scale", init_scale)

    def prior(self, shape, seed):
        return self.init_scale * _noise(seed, -1, shape)

    def step(self, score_fn, i, x, seed):
        eps = self.step_size
        score = tf.cast(score_fn(x, _levels(self.sigma, x)), x.dtype)
        return x + 0.5 * eps * score + eps ** 0.5 * _noise(seed, i, tf.shape(x))


class AnnealedLangevin(_Walk):
    """Annealed Langevin dynamics over decreasing noise levels, with the
    final denoising step (Song & Ermon 2020's).

    Args:
      sigmas: the levels sigma_1 > ... > sigma_L.
      steps_per_level: T.
      epsilon: the step at the last level (alpha_i = eps sigma_i^2 / sigma_L^2).
      denoise: end with x + sigma_L^2 s(x, sigma_L) (Tweedie's estimate
        of the noiseless x).
    """

    def __init__(self, sigmas, steps_per_level=100, epsilon=2e-5, denoise=True):
        self.sigmas = tf.constant(sigmas, tf.float32)
        self.steps_per_level = _steps("steps_per_level", steps_per_level)
        self.num_steps = int(self.sigmas.shape[0]) * self.steps_per_level
        self.epsilon, self.denoise = _positive("epsilon", epsilon), bool(denoise)

    def step(self, score_fn, i, x, seed):
        sigma = self.sigmas[i // self.steps_per_level]
        alpha = self.epsilon * (sigma / self.sigmas[-1]) ** 2
        score = tf.cast(score_fn(x, _levels(sigma, x)), x.dtype)
        return x + 0.5 * alpha * score + tf.sqrt(alpha) * _noise(seed, i, tf.shape(x))

    def finish(self, score_fn, x):
        if not self.denoise:
            return x
        last = self.sigmas[-1]
        return x + last ** 2 * tf.cast(score_fn(x, _levels(last, x)), x.dtype)


class PredictorCorrector(_Walk):
    """The predictor-corrector sampler of the variance-exploding SDE over
    the levels: at each level, `corrector_steps` Langevin corrector steps
    of signal-to-noise ratio `snr`, then a reverse-diffusion predictor
    step to the next level.

    Args:
      sigmas: the levels sigma_1 > ... > sigma_L.
      snr: r, the corrector's signal-to-noise ratio (Song et al.: 0.16).
      corrector_steps: Langevin steps per level (0: the predictor alone).
      denoise: no noise in the last predictor step (its mean).
    """

    def __init__(self, sigmas, snr=0.16, corrector_steps=1, denoise=True):
        self.sigmas = tf.constant(sigmas, tf.float32)
        self.snr = _positive("snr", snr)
        if tf.is_tensor(corrector_steps):
            self.corrector_steps = tf.cast(corrector_steps, tf.int32)
        elif int(corrector_steps) != corrector_steps or corrector_steps < 0:
            raise ValueError(f"`corrector_steps` must be an int >= 0; received "
                             f"{corrector_steps!r}.")
        else:
            self.corrector_steps = int(corrector_steps)
        self.num_steps = int(self.sigmas.shape[0]) * (self.corrector_steps + 1)
        self.denoise = bool(denoise)

    def step(self, score_fn, i, x, seed):
        per_level = self.corrector_steps + 1
        level = i // per_level
        sigma = self.sigmas[level]
        score = tf.cast(score_fn(x, _levels(sigma, x)), x.dtype)
        z = _noise(seed, i, tf.shape(x))
        # Song et al.'s step, from the batch's mean norms: a step that
        # followed each example's own score would change where it settles.
        eps = 2.0 * (self.snr * tf.reduce_mean(_flat_norm(z))
                     / tf.maximum(tf.reduce_mean(_flat_norm(score)), 1e-12)) ** 2
        corrected = x + eps * score + tf.sqrt(2.0 * eps) * z
        next_sigma = tf.concat([self.sigmas[1:], [0.0]], 0)[level]
        variance = sigma ** 2 - next_sigma ** 2
        quiet = tf.logical_and(tf.equal(level, tf.shape(self.sigmas)[0] - 1), self.denoise)
        predicted = x + variance * score + tf.where(quiet, 0.0, tf.sqrt(variance)) * z
        return tf.where(i % per_level < self.corrector_steps, corrected, predicted)


def make_sampler(name, sigmas, steps=None, step_size=2e-5, snr=0.16, denoise=True):
    """A score model's sampler by `name`: "annealed_langevin" (`steps`:
    per level; `step_size`: its epsilon), "pc" (`steps`: corrector steps
    per level) or "langevin" (`steps`: all of them, at the smallest level)."""
    if name == "annealed_langevin":
        return AnnealedLangevin(sigmas, 100 if steps is None else steps, step_size, denoise)
    if name == "pc":
        return PredictorCorrector(sigmas, snr, 1 if steps is None else steps, denoise)
    if name == "langevin":
        return LangevinDynamics(step_size, 1000 if steps is None else steps,
                                tf.constant(sigmas, tf.float32)[-1])
    raise ValueError(f"`sampler` must be one of {SAMPLERS}; received {name!r}.")


SAMPLERS = ("annealed_langevin", "langevin", "pc")
