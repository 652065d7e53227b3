"""Posteriors q(z | x) of a VAE: a diagonal Gaussian, optionally refined by a
normalizing flow whose parameters the encoder emits for each example
(amortized, Rezende & Mohamed 2015).

    z_0 ~ N(mu(x), diag sigma(x)^2),   z_K = f_K o ... o f_1 (z_0)
    log q(z_K | x) = log N(z_0; mu, sigma) - sum_k log |det df_k / dz_{k-1}|

Planar and radial steps take all their parameters from the encoder
(tfgen's `Planar`/`Radial` bijectors with per-example parameters). IAF
steps (Kingma et al. 2016) are MADE networks (weights of their own) that
also see a context vector h(x) from the encoder, each a
`tfb.Invert(tfb.MaskedAutoregressiveFlow)`: one network pass per step to
sample and to score the sample.

Planar and IAF steps start as the identity, so a new flow posterior is the
Gaussian one: the encoder outputs listed in `identity_outputs` start at
zero (the VAE zeroes their weights), and the MADEs' output layers start at
zero.

The VAE draws z and log q(z | x) together
(`experimental_sample_and_log_prob`), so no flow is ever inverted.

Each posterior says how many encoder outputs it needs
(`params_size(latent_dim)`) and turns them into a TFP distribution with
batch shape `[batch]` (`distribution(params)`).

Example:

```python
posterior = PlanarPosterior(latent_dim=2, length=4)
params = encoder(x)                        # [batch, posterior.params_size]
q = posterior.distribution(params)          # batch [batch], event [2]
z, log_q = q.experimental_sample_and_log_prob(16, seed=[0, 1])
```

References:
  Rezende & Mohamed, "Variational Inference with Normalizing Flows", ICML 2015.
  Kingma et al., "Improved Variational Inference with Inverse
  Autoregressive Flow", NeurIPS 2016.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen.bijectors import Planar, Radial
from tfgen.flows.made_adapter import AutoregressiveNetworkLayer

tfb, tfd = tfp.bijectors, tfp.distributions

__all__ = ["GaussianPosterior", "IAFPosterior", "PlanarPosterior", "RadialPosterior",
           "make_posterior"]

POSTERIOR_FLOWS = (None, "planar", "radial", "iaf")


class GaussianPosterior:
    """q(z | x) = N(mu, diag (1e-4 + softplus(s))^2) from `[mu, s]`."""

    def __init__(self, latent_dim):
        self.latent_dim = int(latent_dim)

    @property
    def params_size(self):
        return 2 * self.latent_dim

    @property
    def identity_outputs(self):
        """Indices of the encoder outputs whose zero makes the flow the
        identity (none: no flow)."""
        return []

    def gaussian(self, params):
        mean, raw_scale = tf.split(params[..., :2 * self.latent_dim], 2, axis=-1)
        return tfd.MultivariateNormalDiag(mean, 1e-4 + tf.nn.softplus(raw_scale))

    def distribution(self, params):
        return self.gaussian(params)

    def _flow(self, steps, params):
        """The Gaussian pushed through `steps` (applied first to last)."""
        return tfd.TransformedDistribution(self.gaussian(params), tfb.Chain(steps[::-1]))


class PlanarPosterior(GaussianPosterior):
    """The Gaussian through `length` planar steps `z + u_hat tanh(w^T z + b)`,
    each with its own `(w, u, b)` per example. The encoder emits `w`, `b`
    and `v`, with

        u = v + c w / |w|^2,   c = log(e - 1)   (softplus(c) = 1)

    so that `v = 0` gives `u_hat = 0`: the identity, where training starts."""

    def __init__(self, latent_dim, length):
        super().__init__(latent_dim)
        self.length = int(length)

    @property
    def params_size(self):
        return 2 * self.latent_dim + self.length * (2 * self.latent_dim + 1)

    @property
    def identity_outputs(self):
        d, step = self.latent_dim, 2 * self.latent_dim + 1
        return [2 * d + k * step + i for k in range(self.length) for i in range(d, step)]

    def distribution(self, params):
        d = self.latent_dim
        steps = []
        for p in tf.split(params[..., 2 * d:], self.length, axis=-1):
            w, v, b = p[..., :d], p[..., d:2 * d], p[..., 2 * d]
            c = tf.math.log(tf.math.expm1(tf.ones([], w.dtype)))
            u = v + (c / tf.reduce_sum(tf.square(w), axis=-1))[..., None] * w
            steps.append(Planar(w, u, b))
        return self._flow(steps, params)


class RadialPosterior(GaussianPosterior):
    """The Gaussian through `length` radial steps around per-example centres
    `z0`, with `alpha = softplus(a) > 0` and `beta = -alpha + softplus(b)`
    (so `beta >= -alpha`: invertible)."""

    def __init__(self, latent_dim, length):
        super().__init__(latent_dim)
        self.length = int(length)

    @property
    def params_size(self):
        return 2 * self.latent_dim + self.length * (self.latent_dim + 2)

    def distribution(self, params):
        d = self.latent_dim
        steps = []
        for p in tf.split(params[..., 2 * d:], self.length, axis=-1):
            alpha = tf.nn.softplus(p[..., d])
            steps.append(Radial(p[..., :d], alpha, -alpha + tf.nn.softplus(p[..., d + 1])))
        return self._flow(steps, params)


@keras.saving.register_keras_serializable(package="tfgen")
class IAFPosterior(keras.layers.Layer):
    """The Gaussian through `length` inverse autoregressive steps, each a
    MADE of `z` and the encoder's context `h` (the last `context_size`
    encoder outputs), the MADEs' orders alternating left-to-right and
    right-to-left:

        z <- (z - m(z, h)) * exp(-s(z, h)),   s bounded to (-3, 3)

    Args:
      latent_dim: size of z.
      length: number of IAF steps.
      context_size: width of h.
      hidden_units: MADE hidden widths.
    """

    _LOG_SCALE_BOUND = 3.0

    def __init__(self, latent_dim, length, context_size=32, hidden_units=(64, 64), **kwargs):
        super().__init__(**kwargs)
        self.latent_dim, self.length = int(latent_dim), int(length)
        self.context_size = int(context_size)
        self.hidden_units = [int(u) for u in hidden_units]
        self._gaussian = GaussianPosterior(latent_dim)
        self.mades = [AutoregressiveNetworkLayer(
            self.latent_dim, 2, self.hidden_units,
            input_order="right-to-left" if i % 2 else "left-to-right",
            condition_size=self.context_size, name=f"iaf_{i}",
            dtype=self.variable_dtype)  # TFP's MADE is full precision
            for i in range(self.length)]
        for made in self.mades:  # the output layer (kernel, bias, context kernel)
            for variable in made.trainable_weights[-3:]:
                variable.assign(tf.zeros_like(variable))
        self.built = True

    @property
    def identity_outputs(self):
        return []

    @property
    def params_size(self):
        return 2 * self.latent_dim + self.context_size

    def gaussian(self, params):
        """The Gaussian before the flow (`GaussianPosterior.gaussian`)."""
        return self._gaussian.gaussian(params)

    def _step(self, made, context):
        bound = self._LOG_SCALE_BOUND

        def shift_and_log_scale(z):
            # MADE takes [n, d]: flatten sample axes, the context broadcast to them.
            lead = tf.shape(z)[:-1]
            h = tf.broadcast_to(context, tf.concat([lead, [self.context_size]], 0))
            out = made(tf.reshape(z, [-1, self.latent_dim]), tf.reshape(h, [-1, self.context_size]))
            shift, raw = tf.unstack(tf.reshape(out, tf.concat([lead, [self.latent_dim, 2]], 0)),
                                    axis=-1)
            return shift, bound * tf.tanh(raw / bound)

        return tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=shift_and_log_scale))

    def distribution(self, params):
        context = params[..., 2 * self.latent_dim:]
        return self._gaussian._flow([self._step(made, context) for made in self.mades], params)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "length": self.length,
                "context_size": self.context_size, "hidden_units": self.hidden_units}


def make_posterior(flow, latent_dim, length):
    """The posterior for `flow` (None, "planar", "radial", "iaf")."""
    if flow not in POSTERIOR_FLOWS:
        raise ValueError(f"`posterior_flow` must be one of {POSTERIOR_FLOWS}; received {flow!r}.")
    if flow is None:
        return GaussianPosterior(latent_dim)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"`flow_length` must be a positive int; received {length!r}.")
    return {"planar": PlanarPosterior, "radial": RadialPosterior,
            "iaf": lambda d, k: IAFPosterior(d, k, name="iaf_posterior")}[flow](latent_dim, length)
