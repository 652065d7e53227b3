"""Noise schedules of diffusion models, as plain objects apart from any
network (diffusers' schedulers).

The forward process adds Gaussian noise over T steps,

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)
    q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I),  abar_t = prod_{s<=t} (1 - beta_s)

(timesteps t = 0 .. T-1, as in diffusers). A network reads x_t and t and
predicts one of (`prediction_type`):

    "epsilon"  the noise e in x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) e
    "sample"   x_0 itself
    "v"        v = sqrt(abar_t) e - sqrt(1 - abar_t) x_0   (Salimans & Ho 2022)

and `DiffusionSchedule.split` turns any of them back into (x_0, e). The
posterior of one reverse step, between any two timesteps s < t,

    q(x_s | x_t, x_0) = N(mu, var)
    mu  = sqrt(abar_s) b / (1 - abar_t) x_0 + sqrt(a) (1 - abar_s) / (1 - abar_t) x_t
    var = (1 - abar_s) / (1 - abar_t) b,    a = abar_t / abar_s,  b = 1 - a

(s = t - 1 is Ho et al.'s eq. 7; s = -1 means abar_s = 1), is what the
samplers and the likelihood bound build on.

Example:

```python
schedule = DiffusionSchedule("cosine")
x_t = schedule.q_sample(x0, t, noise)
target = schedule.target("epsilon", x0, noise, t)
```

References:
  Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
  Nichol & Dhariwal, "Improved Denoising Diffusion Probabilistic Models",
  ICML 2021 (the cosine schedule).
  Salimans & Ho, "Progressive Distillation for Fast Sampling of Diffusion
  Models", ICLR 2022 (v-prediction).
"""

import math

import numpy as np
import tensorflow as tf

from tfgen._validation import check_positive_int

__all__ = ["BETA_SCHEDULES", "PREDICTION_TYPES", "DiffusionSchedule", "beta_schedule",
           "check_prediction_type", "per_example"]

# diffusers' names in parentheses.
BETA_SCHEDULES = ("linear", "scaled_linear", "cosine", "sigmoid")
_ALIASES = {"squaredcos_cap_v2": "cosine"}
PREDICTION_TYPES = ("epsilon", "sample", "v")
_PREDICTION_ALIASES = {"v_prediction": "v", "x0": "sample"}


def beta_schedule(name, num_timesteps=1000, beta_start=1e-4, beta_end=0.02):
    """The betas `[num_timesteps]` (float64 NumPy) of a named schedule.

        linear         beta_t evenly spaced from beta_start to beta_end
        scaled_linear  sqrt(beta_t) evenly spaced (latent diffusion's)
        cosine         abar(u) = cos^2((u + 0.008) / 1.008 * pi / 2), u = t / T;
                       beta_t = min(1 - abar((t + 1) / T) / abar(t / T), 0.999)
        sigmoid        beta_start + (beta_end - beta_start) sigmoid(w_t),
                       w_t evenly spaced on [-6, 6]

    Args:
      name: one of `BETA_SCHEDULES` (or diffusers' "squaredcos_cap_v2").
      num_timesteps: T.
      beta_start, beta_end: the first and last beta (not used by "cosine").
    """
    key = _ALIASES.get(name, name)
    if key not in BETA_SCHEDULES:
        raise ValueError(f"`beta_schedule` must be one of {BETA_SCHEDULES}; received {name!r}.")
    steps = check_positive_int("num_timesteps", num_timesteps)
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError("`beta_start` and `beta_end` must satisfy 0 < beta_start <= beta_end < 1; "
                         f"received {beta_start!r} and {beta_end!r}.")
    if key == "linear":
        return np.linspace(beta_start, beta_end, steps)
    if key == "scaled_linear":
        return np.linspace(beta_start ** 0.5, beta_end ** 0.5, steps) ** 2
    if key == "sigmoid":
        return beta_start + (beta_end - beta_start) / (1 + np.exp(-np.linspace(-6, 6, steps)))
    u = np.arange(steps + 1) / steps
    alpha_bar = np.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
    return np.minimum(1 - alpha_bar[1:] / alpha_bar[:-1], 0.999)


class DiffusionSchedule:
    """A beta schedule and the closed forms every diffusion piece uses.

    Args:
      betas: a name in `BETA_SCHEDULES`, or an array of betas in (0, 1).
      num_timesteps, beta_start, beta_end: see `beta_schedule` (ignored
        when `betas` is an array).

    Attributes:
      betas, alphas_cumprod: float32 tensors `[T]`.
      num_timesteps: T.

    Coefficients are computed in float64 and cast to the data's dtype:
    in float32, 1 - abar_1 / abar_0 (= beta_1, about 1e-4) keeps only
    three or four digits.
    """

    def __init__(self, betas="linear", num_timesteps=1000, beta_start=1e-4, beta_end=0.02):
        if isinstance(betas, str):
            self.name = _ALIASES.get(betas, betas)
            values = beta_schedule(betas, num_timesteps, beta_start, beta_end)
        else:
            self.name = None
            values = np.asarray(betas, np.float64)
            if values.ndim != 1 or not values.size or not np.all((values > 0) & (values < 1)):
                raise ValueError(
                    f"`betas` must be a schedule name or a 1-D array in (0, 1); received {betas!r}.")
        self.config = {"betas": betas if isinstance(betas, str) else values.tolist(),
                       "num_timesteps": len(values), "beta_start": beta_start,
                       "beta_end": beta_end}
        self.num_timesteps = len(values)
        self._alphas_cumprod = tf.constant(np.cumprod(1 - values), tf.float64)
        self.betas = tf.constant(values, tf.float32)
        self.alphas_cumprod = tf.cast(self._alphas_cumprod, tf.float32)

    def alpha_bar(self, t):
        """abar_t (float64) for integer timesteps `t` (any shape); 1 where
        t < 0."""
        t = tf.convert_to_tensor(t)
        gathered = tf.gather(self._alphas_cumprod, tf.maximum(t, 0))
        return tf.where(t >= 0, gathered, tf.ones_like(gathered))

    def _coefficients(self, t, x):
        """sqrt(abar_t), sqrt(1 - abar_t), shaped against `x`."""
        abar = self.alpha_bar(t)
        return per_example(tf.sqrt(abar), x), per_example(tf.sqrt(1 - abar), x)

    def q_sample(self, x0, t, noise):
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise."""
        signal, sigma = self._coefficients(t, x0)
        return signal * x0 + sigma * noise

    def velocity(self, x0, noise, t):
        """v = sqrt(abar_t) noise - sqrt(1 - abar_t) x_0."""
        signal, sigma = self._coefficients(t, x0)
        return signal * noise - sigma * x0

    def target(self, prediction_type, x0, noise, t):
        """What a network of `prediction_type` regresses on at x_t."""
        kind = check_prediction_type(prediction_type)
        if kind == "epsilon":
            return noise
        if kind == "sample":
            return x0
        return self.velocity(x0, noise, t)

    def split(self, prediction_type, x_t, t, output):
        """(x_0, noise) that a network `output` of `prediction_type` implies
        at x_t:

            epsilon: x_0 = (x_t - sqrt(1 - abar) e) / sqrt(abar)
            sample:  e = (x_t - sqrt(abar) x_0) / sqrt(1 - abar)
            v:       x_0 = sqrt(abar) x_t - sqrt(1 - abar) v
                     e   = sqrt(abar) v + sqrt(1 - abar) x_t
        """
        kind = check_prediction_type(prediction_type)
        x_t = tf.convert_to_tensor(x_t)
        output = tf.cast(output, x_t.dtype)
        signal, sigma = self._coefficients(t, x_t)
        if kind == "epsilon":
            return (x_t - sigma * output) / signal, output
        if kind == "sample":
            return output, (x_t - signal * output) / sigma
        return signal * x_t - sigma * output, signal * output + sigma * x_t

    def step_beta(self, t, s):
        """1 - abar_t / abar_s (float64): the variance one step from x_s to
        x_t adds (beta_t when s = t - 1)."""
        return 1 - self.alpha_bar(t) / self.alpha_bar(s)

    def posterior(self, x0, x_t, t, s=None):
        """Mean and variance of q(x_s | x_t, x_0), s < t (default t - 1;
        s < 0 means abar_s = 1, where the posterior is x_0 itself)."""
        s = t - 1 if s is None else s
        abar_t, abar_s, beta = self.alpha_bar(t), self.alpha_bar(s), self.step_beta(t, s)
        x0_weight = tf.sqrt(abar_s) * beta / (1 - abar_t)
        x_t_weight = tf.sqrt(1 - beta) * (1 - abar_s) / (1 - abar_t)
        mean = per_example(x0_weight, x_t) * x0 + per_example(x_t_weight, x_t) * x_t
        return mean, per_example((1 - abar_s) / (1 - abar_t) * beta, x_t)

    def get_config(self):
        return dict(self.config)

    def __repr__(self):
        return f"DiffusionSchedule({self.name or 'custom'}, T={self.num_timesteps})"


def per_example(value, x):
    """`value` `[b]` (or a scalar) in x's dtype, shaped to broadcast
    against `x` `[b, ...]`."""
    value = tf.cast(value, x.dtype)
    trailing = tf.ones([tf.rank(x) - tf.rank(value)], tf.int32)
    return tf.reshape(value, tf.concat([tf.shape(value), trailing], 0))


def check_prediction_type(value):
    """The canonical name of a prediction type (diffusers' "v_prediction"
    and "x0" accepted); a ValueError naming the choices otherwise."""
    kind = _PREDICTION_ALIASES.get(value, value)
    if kind not in PREDICTION_TYPES:
        raise ValueError(f"`prediction_type` must be one of {PREDICTION_TYPES}; received {value!r}.")
    return kind
