"""The variational bound of a diffusion model, as plain functions.

With z_t ~ q(z_t | x) for t = 0 .. T-1 (diffusers' timesteps; Ho et al.'s
x_{t+1}), the negative log-likelihood is bounded by (Ho et al. 2020, eq. 5)

    -log p(x) <= KL(q(z_{T-1} | x) || N(0, I))                        prior
               + sum_{t=1}^{T-1} E_q KL(q(z_{t-1} | z_t, x) || p(z_{t-1} | z_t))
               - E_q log p(x | z_0)                                    decoder

where p(z_{t-1} | z_t) = N(mu(x0_hat, z_t), sigma_t^2) is the sampler's
step with the network's x_0, and the decoder is N(x0_hat(z_0), sigma_0^2)
for continuous data or, for data of L levels at 2 k / (L - 1) - 1 in
[-1, 1], its mass on the level's bin (edges open to +-infinity; section
3.3). sigma_0^2 is the posterior variance of the step from t = 1 to 0
(Ho et al.'s code, for both variance choices). Each timestep's term is
estimated with its own draw of z_t.

References:
  Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
  Sohl-Dickstein et al., "Deep Unsupervised Learning using Nonequilibrium
  Thermodynamics", ICML 2015.
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

from tfgen.models.diffusion.schedules import per_example

__all__ = ["discretized_gaussian_log_likelihood", "gaussian_log_likelihood", "normal_kl",
           "variational_bound"]


def normal_kl(mean1, var1, mean2, var2):
    """KL(N(mean1, var1) || N(mean2, var2)), elementwise."""
    return 0.5 * (tf.math.log(var2 / var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1.0)


def gaussian_log_likelihood(x, mean, var):
    """log N(x; mean, var), elementwise."""
    return -0.5 * (math.log(2 * math.pi) + tf.math.log(var) + (x - mean) ** 2 / var)


def log_ndtr(x):
    """log Phi(x), accurate in the lower tail: log(erfc(-x / sqrt 2) / 2)."""
    return tfp.math.logerfc(-x / math.sqrt(2.0)) - math.log(2.0)


def _log_mass(log_lower, log_upper):
    """log(exp(log_upper) - exp(log_lower)) for log_lower <= log_upper."""
    gap = log_lower - log_upper  # <= 0
    return log_upper + tf.where(gap > -math.log(2.0), tf.math.log(-tf.math.expm1(gap)),
                                tf.math.log1p(-tf.exp(gap)))


def discretized_gaussian_log_likelihood(x, mean, std, levels):
    """log P(x) of levels `x` (at 2 k / (levels - 1) - 1) under N(mean,
    std^2) integrated over each level's bin, the outer bins open; the
    tail of the CDF on the side it is small, so far bins stay finite."""
    half = 1.0 / (levels - 1)
    upper = (x + half - mean) / std
    lower = (x - half - mean) / std
    # Phi(u) - Phi(l) = Phi(-l) - Phi(-u): the form whose terms are small.
    left = _log_mass(log_ndtr(lower), log_ndtr(upper))
    right = _log_mass(log_ndtr(-upper), log_ndtr(-lower))
    middle = tf.where(lower > 0, right, left)
    return tf.where(x < -1 + half, log_ndtr(upper),
                    tf.where(x > 1 - half, log_ndtr(-lower), middle))


def variational_bound(schedule, predict_x0, x, seed, variance="fixed_small", levels=None):
    """The bound above, in nats per example `[b]`, summed over every
    timestep in one `tf.while_loop`.

    Args:
      schedule: a `DiffusionSchedule`.
      predict_x0: `(z_t [b, ...], t [b]) -> x0_hat` like x.
      x: data `[b, ...]` (float; for `levels`, at the level values).
      seed: a stateless seed; z_t's noise folds in t.
      variance: the reverse steps' variance, "fixed_small" or "fixed_large".
      levels: None (continuous data), or the number of levels of discrete
        data in [-1, 1].
    """
    x = tf.convert_to_tensor(x)
    axes = list(range(1, x.shape.rank))
    batch = tf.shape(x)[0]
    total = schedule.num_timesteps
    last = tf.fill([batch], total - 1)
    signal, sigma = schedule._coefficients(last, x)
    prior = tf.reduce_sum(normal_kl(signal * x, sigma ** 2, 0.0, 1.0), axes)
    decoder_var = tf.cast(schedule.posterior(x, x, tf.ones([batch], tf.int32))[1], x.dtype)

    def term(t):
        t = tf.fill([batch], t)
        noise = tf.random.stateless_normal(
            tf.shape(x), tf.random.experimental.stateless_fold_in(seed, t[0]), dtype=x.dtype)
        z_t = schedule.q_sample(x, t, noise)
        x0_hat = tf.cast(predict_x0(z_t, t), x.dtype)
        if levels is None:
            decoder = -gaussian_log_likelihood(x, x0_hat, decoder_var)
        else:
            decoder = -discretized_gaussian_log_likelihood(x, x0_hat, tf.sqrt(decoder_var),
                                                           levels)
        true_mean, true_var = schedule.posterior(x, z_t, t)
        model_mean, _ = schedule.posterior(x0_hat, z_t, t)
        model_var = (true_var if variance == "fixed_small"
                     else per_example(schedule.step_beta(t, t - 1), x))
        # At t = 0 the posterior is a point (variance 0): the decoder's term.
        step = normal_kl(true_mean, true_var, model_mean, model_var)
        return tf.reduce_sum(tf.where(t[0] > 0, step, decoder), axes)

    def body(t, total_terms):
        return t + 1, total_terms + term(t)

    _, terms = tf.while_loop(lambda t, _: t < total, body,
                             (tf.constant(0), tf.zeros([batch], x.dtype)))
    return prior + terms
