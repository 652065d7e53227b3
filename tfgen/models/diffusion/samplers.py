"""Reverse-process samplers as plain objects, and the loop that runs one
as a single graph.

A sampler walks a decreasing list of timesteps t_0 > t_1 > ... > t_{n-1},
each step from x_t to x_s, s the next timestep (after the last, s = -1:
abar_s = 1, x_s is the clean sample). From the network's output at
(x_t, t) it forms (x_0, e) (`DiffusionSchedule.split`), optionally clips
x_0 to [-clip, clip], then:

    DDPM (ancestral; Ho et al. 2020, eq. 6-7, for any s < t)
        x_s = mu(x_0, x_t) + sigma z,   z ~ N(0, I), no noise when s < 0
        sigma^2 = (1 - abar_s) / (1 - abar_t) (1 - abar_t / abar_s)  "fixed_small"
                = 1 - abar_t / abar_s                                "fixed_large"
    DDIM (Song et al. 2021, eq. 12)
        sigma = eta sqrt((1 - abar_s) / (1 - abar_t) (1 - abar_t / abar_s))
        x_s = sqrt(abar_s) x_0 + sqrt(1 - abar_s - sigma^2) e + sigma z

(with eta = 1, DDIM's step is DDPM's "fixed_small" one). The timesteps of
a shortened walk of n steps out of T follow diffusers' spacings:

    leading   round(arange(n) * (T // n)), reversed       (980, ..., 20, 0)
    trailing  round(arange(T, 0, -T / n)) - 1            (999, ..., 39, 19)
    linspace  round(linspace(0, T - 1, n)), reversed     (999, ..., 20, 0)

diffusers' DDIM steps from t to t - T // n whatever the spacing; here a
step goes to the next timestep of the walk (the same for "leading" and
"trailing"; for "linspace" the next timestep differs from t - T // n by up
to one).

`run_sampler` runs the walk as one `tf.while_loop` with stateless noise
folded from one seed: the same seed gives the same samples in eager code,
in a `tf.function` and in an exported graph. (Under XLA, TensorFlow's
stateless kernels draw a different stream, equally distributed: a walk
compiled by XLA takes its noise from the caller, `noises`, to stay on the
uncompiled stream.)

Example:

```python
schedule = DiffusionSchedule("linear")
sampler = DDIMSampler(schedule, "epsilon", num_steps=50)
x = run_sampler(lambda x, t: network(x, t), sampler, [16, 8, 8, 1], seed=(0, 0))
```

References:
  Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
  Song, Meng & Ermon, "Denoising Diffusion Implicit Models", ICLR 2021.
  Lin et al., "Common Diffusion Noise Schedules and Sample Steps are
  Flawed", WACV 2024 (the trailing spacing).
"""

import tensorflow as tf

from tfgen._validation import check_positive_int
from tfgen.models.diffusion.schedules import check_prediction_type, per_example

__all__ = ["SPACINGS", "DDIMSampler", "DDPMSampler", "run_sampler", "sampler_noise", "timesteps"]

SPACINGS = ("leading", "trailing", "linspace")
_VARIANCES = ("fixed_small", "fixed_large")


def timesteps(num_steps, num_timesteps, spacing="leading"):
    """The decreasing timesteps (int32 `[num_steps]`) of a walk of
    `num_steps` (an int, or an int tensor inside a graph) out of
    `num_timesteps`, with diffusers' `spacing` (its NumPy arithmetic, in
    float64)."""
    total = check_positive_int("num_timesteps", num_timesteps)
    if spacing not in SPACINGS:
        raise ValueError(f"`spacing` must be one of {SPACINGS}; received {spacing!r}.")
    if not tf.is_tensor(num_steps):
        n = check_positive_int("num_steps", num_steps)
        if n > total:
            raise ValueError(f"`num_steps` must be at most num_timesteps={total}; received {n!r}.")
    n = tf.cast(num_steps, tf.int64)
    i = tf.range(n)
    if spacing == "leading":
        steps = i * (total // n)
    elif spacing == "trailing":  # round(arange(T, 0, -T / n)) - 1
        steps = tf.round(total - tf.cast(i, tf.float64) * (total / tf.cast(n, tf.float64))) - 1
    else:  # round(linspace(0, T - 1, n)), its last point exactly T - 1
        step = (total - 1) / tf.cast(tf.maximum(n - 1, 1), tf.float64)
        last = tf.cast(total - 1, tf.float64) * tf.cast(n > 1, tf.float64)  # n = 1: [0]
        steps = tf.round(tf.where(i == n - 1, last, tf.cast(i, tf.float64) * step))
    steps = tf.cast(steps, tf.int32)
    return steps if spacing == "trailing" else tf.reverse(steps, [0])


class _Sampler:
    """Base: the walk (`walk`) and the shared first half of a step (x_0
    and e from the network's output, clipped)."""

    stochastic = True

    def __init__(self, schedule, prediction_type, num_steps, spacing, clip):
        self.schedule = schedule
        self.prediction_type = check_prediction_type(prediction_type)
        self.num_steps = schedule.num_timesteps if num_steps is None else num_steps
        self.spacing = spacing
        timesteps(self.num_steps, schedule.num_timesteps, spacing)  # checks the arguments
        if clip is not None and not clip > 0:
            raise ValueError(f"`clip` must be None or > 0; received {clip!r}.")
        self.clip = clip

    def walk(self, num_steps=None):
        """(t, s) int32 `[n]`: the walk's timesteps and each step's target
        (the next timestep; -1 after the last), `num_steps` (default the
        sampler's) an int or an int tensor."""
        steps = timesteps(self.num_steps if num_steps is None else num_steps,
                          self.schedule.num_timesteps, self.spacing)
        return steps, tf.concat([steps[1:], [-1]], 0)

    def predict_x0(self, output, t, x_t):
        """(x_0, e) from the network's `output` at (x_t, t), x_0 clipped
        to [-clip, clip] and e re-derived from it when clipping."""
        x0, noise = self.schedule.split(self.prediction_type, x_t, t, output)
        if self.clip is not None:
            x0 = tf.clip_by_value(x0, -self.clip, self.clip)
            noise = self.schedule.split("sample", x_t, t, x0)[1]
        return x0, noise


class DDPMSampler(_Sampler):
    """Ancestral sampling of the DDPM reverse process.

    Args:
      schedule: a `DiffusionSchedule`.
      prediction_type: what the network predicts ("epsilon", "sample", "v").
      num_steps: the walk's length (default T: every timestep).
      variance: "fixed_small" (the posterior's, Ho et al.'s sigma^2 =
        beta~_t) or "fixed_large" (sigma^2 = beta_t).
      spacing: of a shortened walk (see `timesteps`).
      clip: None, or clip predicted x_0 to [-clip, clip] (1 for data in
        [-1, 1]).
    """

    def __init__(self, schedule, prediction_type="epsilon", num_steps=None,
                 variance="fixed_small", spacing="leading", clip=None):
        super().__init__(schedule, prediction_type, num_steps, spacing, clip)
        if variance not in _VARIANCES:
            raise ValueError(f"`variance` must be one of {_VARIANCES}; received {variance!r}.")
        self.variance = variance

    def step(self, output, t, x_t, noise, s):
        """(x_s, x_0) from the network's `output` at (x_t, t); `t`, `s`
        int tensors `[b]` (or scalars), `noise` like x_t."""
        x0, _ = self.predict_x0(output, t, x_t)
        mean, posterior_variance = self.schedule.posterior(x0, x_t, t, s)
        if self.variance == "fixed_small":
            variance = tf.maximum(posterior_variance, 1e-20)
        else:
            variance = per_example(self.schedule.step_beta(t, s), x_t)
        # No noise on the step that lands on x_0.
        noisy = per_example(tf.convert_to_tensor(s) >= 0, x_t)
        return mean + noisy * tf.sqrt(variance) * noise, x0


class DDIMSampler(_Sampler):
    """The DDIM sampler (deterministic at eta = 0).

    Args:
      schedule: a `DiffusionSchedule`.
      prediction_type: what the network predicts.
      num_steps: the walk's length (50).
      eta: the noise's scale, 0 (deterministic) to 1 (DDPM's).
      spacing: see `timesteps`.
      clip: None, or clip predicted x_0 to [-clip, clip].
    """

    def __init__(self, schedule, prediction_type="epsilon", num_steps=50, eta=0.0,
                 spacing="leading", clip=None):
        super().__init__(schedule, prediction_type, num_steps, spacing, clip)
        if not 0 <= eta <= 1:
            raise ValueError(f"`eta` must be in [0, 1]; received {eta!r}.")
        self.eta = float(eta)
        self.stochastic = self.eta > 0

    def step(self, output, t, x_t, noise, s):
        """(x_s, x_0) from the network's `output` at (x_t, t)."""
        x0, eps = self.predict_x0(output, t, x_t)
        abar_t, abar_s = self.schedule.alpha_bar(t), self.schedule.alpha_bar(s)
        sigma = self.eta * tf.sqrt((1 - abar_s) / (1 - abar_t) * self.schedule.step_beta(t, s))
        direction = tf.sqrt(tf.maximum(1 - abar_s - sigma ** 2, 0.0))
        return (per_example(tf.sqrt(abar_s), x_t) * x0 + per_example(direction, x_t) * eps
                + per_example(sigma, x_t) * noise), x0


def sampler_noise(seed, i, shape, dtype=tf.float32):
    """The noise of step `i` of a walk seeded by `seed` (step -1: x_T)."""
    return tf.random.stateless_normal(
        shape, tf.random.experimental.stateless_fold_in(seed, i + 1), dtype=dtype)


def run_sampler(predict, sampler, shape, seed, x=None, start=0, stop=None, num_steps=None,
                noises=None, walk=None):
    """Runs steps `start .. stop - 1` of `sampler`'s walk as one
    `tf.while_loop`.

    Args:
      predict: `(x_t [b, ...], t [b] int32) -> output` like x_t.
      sampler: a `DDPMSampler` or `DDIMSampler`.
      shape: the samples' shape `[b, ...]`.
      seed: a stateless seed (shape [2] int).
      x: the state at step `start` (default x_T ~ N(0, I) from the seed).
      start, stop: the steps to run (default all of them), so a caller can
        run the walk in pieces, e.g. to show progress.
      num_steps: the walk's length (default the sampler's; an int tensor
        in an exported graph).
      noises: the noise of steps `start .. stop - 1` (`[stop - start,
        *shape]`), drawn by the caller (`sampler_noise`) instead of inside
        the loop, so a loop compiled by XLA uses the uncompiled stream.
      walk: `(t, s)` int32 `[n]`, the timesteps to walk instead of
        `sampler.walk(num_steps)` (a piece of it, say).

    Returns:
      The state after step `stop - 1` (the samples, after the last step).
    """
    seed = tf.cast(seed, tf.int32)
    if x is None:
        x = sampler_noise(seed, -1, shape)
    walk, previous = sampler.walk(num_steps) if walk is None else walk
    stop = tf.shape(walk)[0] if stop is None else stop
    batch = tf.shape(x)[0]

    def body(i, x):
        t, s = tf.fill([batch], walk[i]), tf.fill([batch], previous[i])
        output = tf.cast(predict(x, t), x.dtype)
        if not sampler.stochastic:
            noise = tf.zeros_like(x)
        elif noises is not None:
            noise = tf.cast(noises[i - start], x.dtype)
        else:
            noise = sampler_noise(seed, i, tf.shape(x), x.dtype)
        # (The network may lose the batch's static size, e.g. of one sample.)
        return i + 1, tf.ensure_shape(sampler.step(output, t, x, noise, s)[0], x.shape)

    _, x = tf.while_loop(lambda i, _: i < stop, body, (tf.cast(start, tf.int32), x))
    return x
