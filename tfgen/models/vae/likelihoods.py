"""Decoder likelihoods p(x | z): plain objects between a decoder's outputs
and a TFP distribution over one example.

A likelihood says how many output channels per data channel the decoder
must produce (`params_per_channel`) and turns those outputs into a
distribution whose event is the whole example (`distribution(params)`), so
`log_prob(x)` is the log-likelihood of each example in nats:

    Bernoulli              binarized data {0, 1}
    Gaussian               real data; fixed scale, or learned per pixel
    Categorical            L discrete levels (digits: 17), a softmax per pixel
    DiscretizedLogistic    L levels, a mixture of logistics binned to the
                           levels (PixelCNN++), few parameters per pixel

The discrete likelihoods take the data's integer levels `0 .. L-1`, so a
VAE's digits results are bits/dim of the discrete data with no
dequantization.

Example:

```python
likelihood = Categorical(levels=17)
params = decoder(z)                      # [batch, 8, 8, 1 * 17]
likelihood.distribution(params).log_prob(levels)   # [batch], nats
```
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["Bernoulli", "Categorical", "DiscretizedLogistic", "Gaussian"]


def _per_channel(params, count):
    """`[..., C * count]` -> `[..., C, count]`."""
    shape = tf.shape(params)
    return tf.reshape(params, tf.concat([shape[:-1], [shape[-1] // count, count]], 0))


def _check_levels(levels):
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"`levels` must be an int >= 2; received {levels!r}.")
    return levels


class _Likelihood:
    """Base: `params_per_channel`, `distribution(params, event_rank)`."""

    params_per_channel = 1
    discrete = False

    def distribution(self, params, event_rank=3):
        """The distribution of examples given decoder outputs `params`
        `[batch, *spatial, C * params_per_channel]`; its event is the last
        `event_rank` dimensions of the data (3 for images `[h, w, c]`, 1
        for vectors)."""
        return tfd.Independent(self._per_value(params), reinterpreted_batch_ndims=event_rank)

    def get_config(self):
        return {}


class Bernoulli(_Likelihood):
    """p(x | z) = prod Bernoulli(x_i; sigmoid(l_i)) for x in {0, 1}."""

    discrete = True

    def _per_value(self, params):
        return tfd.Bernoulli(logits=params, dtype=params.dtype)


class Gaussian(_Likelihood):
    """p(x | z) = prod N(x_i; m_i, s_i^2).

    Args:
      scale: a fixed standard deviation `s`, or None to learn `log s_i`
        per pixel (the decoder emits `[mean, log_scale]` per channel).
      min_scale: the smallest learned scale (keeps the density bounded).
    """

    def __init__(self, scale=None, min_scale=1e-3):
        if scale is not None and not scale > 0:
            raise ValueError(f"`scale` must be positive or None; received {scale!r}.")
        self.scale, self.min_scale = scale, min_scale
        self.params_per_channel = 1 if scale is not None else 2

    def _per_value(self, params):
        if self.scale is not None:
            return tfd.Normal(params, tf.constant(self.scale, params.dtype))
        mean, log_scale = tf.unstack(_per_channel(params, 2), axis=-1)
        return tfd.Normal(mean, self.min_scale + tf.exp(log_scale))

    def get_config(self):
        return {"scale": self.scale, "min_scale": self.min_scale}


class Categorical(_Likelihood):
    """p(x | z) = prod softmax(l_i)[x_i] over `levels` values per pixel."""

    discrete = True

    def __init__(self, levels):
        self.levels = self.params_per_channel = _check_levels(levels)

    def _per_value(self, params):
        return tfd.Categorical(logits=_per_channel(params, self.levels), dtype=tf.int32)

    def get_config(self):
        return {"levels": self.levels}


class DiscretizedLogistic(_Likelihood):
    """A mixture of logistics binned to `levels` values per pixel
    (Salimans et al. 2017, without the channel coupling).

    The levels `k` sit at `c_k = 2k / (L - 1) - 1` in [-1, 1] with bins of
    half-width `1 / (L - 1)`; the outer bins extend to -inf and +inf, so
    the probabilities of the L levels sum to 1:

        P(k) = sum_m pi_m [S((c_k + w - mu_m) / s_m) - S((c_k - w - mu_m) / s_m)]

    with `S` the logistic CDF. The decoder emits `[logits, means, log_scales]`
    of the `num_mixtures` components per channel.

    References:
      Salimans, Karpathy, Chen & Kingma, "PixelCNN++", ICLR 2017.
    """

    discrete = True

    def __init__(self, levels, num_mixtures=5):
        self.levels = _check_levels(levels)
        if not isinstance(num_mixtures, int) or num_mixtures < 1:
            raise ValueError(f"`num_mixtures` must be a positive int; received {num_mixtures!r}.")
        self.num_mixtures = num_mixtures
        self.params_per_channel = 3 * num_mixtures

    def _per_value(self, params):
        logits, means, log_scales = tf.split(
            _per_channel(params, self.params_per_channel), 3, axis=-1)
        log_scales = tf.maximum(log_scales, -7.0)
        # Log-probabilities of every level [..., levels] under each component.
        k = tf.range(self.levels, dtype=params.dtype)
        centres = 2.0 * k / (self.levels - 1) - 1.0
        half = 1.0 / (self.levels - 1)
        inv_scale = tf.exp(-log_scales)[..., None]
        upper = (centres + half - means[..., None]) * inv_scale
        lower = (centres - half - means[..., None]) * inv_scale
        log_cdf_upper = tf.math.log_sigmoid(upper)      # log S(upper)
        log_sf_lower = tf.math.log_sigmoid(-lower)      # log (1 - S(lower))
        # log (S(upper) - S(lower)) for the inner bins, stably.
        log_mass = log_cdf_upper + _log1mexp(tf.math.log_sigmoid(lower) - log_cdf_upper)
        log_mass = tf.concat([log_cdf_upper[..., :1], log_mass[..., 1:-1],
                              log_sf_lower[..., -1:]], axis=-1)
        log_probs = tf.reduce_logsumexp(
            tf.nn.log_softmax(logits)[..., None] + log_mass, axis=-2)
        return tfd.Categorical(logits=log_probs, dtype=tf.int32)

    def get_config(self):
        return {"levels": self.levels, "num_mixtures": self.num_mixtures}


def _log1mexp(a):
    """log(1 - exp(a)) for a <= 0 (Maechler's two branches)."""
    a = tf.minimum(a, -1e-12)
    return tf.where(a > -math.log(2.0), tf.math.log(-tf.math.expm1(a)),
                    tf.math.log1p(-tf.exp(a)))
