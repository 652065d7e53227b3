"""`HierarchicalVAE`: a VAE with two stochastic layers and a learned
top-down prior.

Generative model (top-down):

    p(z2)      = N(0, I)
    p(z1 | z2) = N(mu(z2), diag sigma(z2)^2)     the top-down prior (an MLP)
    p(x | z1)  = a decoder likelihood (`tfgen.models.vae.likelihoods`)

Inference (bottom-up: z1 is drawn first, then z2 from it):

    q(z1 | x)  = N(mu(x), diag sigma(x)^2)       the VAE's encoder (and flow)
    q(z2 | z1) = N(mu(z1), diag sigma(z1)^2)     an MLP on the sample z1

    ELBO = E_q[log p(x | z1)] - KL
    KL   = E_q[log q(z1 | x) - log p(z1 | z2)] + E_q(z1|x)[KL(q(z2 | z1) || p(z2))]

The z2 term is in closed form given z1; the z1 term is a Monte Carlo
estimate on the same samples (z2 depends on z1, so it has no closed form).
`kl` in the metrics is the sum of both. The importance-weighted bound takes
the joint samples (z1, z2) ~ q as importance samples:

    IWAE_k = E[log (1/k) sum_i w_i],
    log w_i = log p(x | z1_i) + log p(z1_i | z2_i) + log p(z2)
              - log q(z1_i | x) - log q(z2_i | z1_i)

drawn in chunks (`bounds.iwae_from_log_weights`), so memory stays bounded.

The likelihoods, the data handling, the encoder and decoder networks
(`network="mlp"` or `"conv"`), flow refinements of q(z1 | x)
(`posterior_flow`), training steps, metrics, KL warm-up, conditions,
exports and `encode`/`decode` (of z1) are the VAE's; `latents` draws z1
through the top-down prior, so sampling and the two-phase schedule's sample
variance go z2 -> z1 -> x. Free bits, which assume the single layer's
N(0, I) prior, are refused.

References:
  Sønderby, Raiko, Maaløe, Sønderby & Winther, "Ladder Variational
    Autoencoders", NeurIPS 2016.
  Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import check_positive_int
from tfgen.models.networks import ConditionedMLP
from tfgen.models.vae.bounds import iwae_from_log_weights, kl_divergence
from tfgen.models.vae.posteriors import GaussianPosterior
from tfgen.models.vae.vae import VAE

tfd = tfp.distributions

__all__ = ["HierarchicalVAE"]


def _fold(seed, i):
    return tf.random.experimental.stateless_fold_in(seed, i)


@keras.saving.register_keras_serializable(package="tfgen")
class HierarchicalVAE(VAE):
    """A two-layer VAE: z2 -> z1 -> x, with bottom-up inference x -> z1 -> z2.

    `encode` and `decode` (and the exported `encode`/`decode`) work on z1;
    `sample` draws z2, then z1, then x.

    Args:
      event_shape: the shape of one example.
      latent_dims: `(d1, d2)`, the sizes of z1 (next to the data) and z2
        (the top).
      hidden_units: widths of the hidden layers of the encoder (x -> z1)
        and of q(z2 | z1); the decoder (z1 -> x) and the top-down prior
        (z2 -> z1) use them reversed.
      **kwargs: the `VAE`'s other arguments (`decoder_likelihood`, `beta`,
        `kl_warmup`, `objective`, `num_samples`, `eval_samples`,
        `num_classes`, `condition_shape`, `dequantizer`, `ema_decay`, ...);
        conditions reach all four networks.

    Example:

    ```python
    digits = tfgen.data.load_data("digits")
    hvae = HierarchicalVAE([8, 8, 1], latent_dims=(32, 16), network="conv",
                           kl_warmup=1000, dequantizer=digits.dequantizer)
    hvae.compile(optimizer="adam")
    hvae.fit(digits.dataset("train", 64), epochs=20,
             callbacks=hvae.training_callbacks())   # the KL warm-up
    hvae.nll_bounds(x)          # {"elbo": [b], "iwae_1000": [b]}, nats
    hvae.sample(16, seed=0)     # [16, 8, 8, 1], model space
    ```
    """

    def __init__(self, event_shape, latent_dims=(32, 16), hidden_units=(256, 256), **kwargs):
        if isinstance(latent_dims, (str, bytes)) or not hasattr(latent_dims, "__len__") \
                or len(latent_dims) != 2:
            raise ValueError(
                f"`latent_dims` must be a pair (d1, d2) of positive ints; received "
                f"{latent_dims!r}.")
        latent_dims = [check_positive_int("latent_dims", d) for d in latent_dims]
        # The VAE's encoder and decoder are q(z1 | x) and p(x | z1).
        super().__init__(event_shape, latent_dim=latent_dims[0], hidden_units=hidden_units,
                         **kwargs)
        if self.free_bits:
            raise ValueError(
                "HierarchicalVAE has no `free_bits` (per-dimension KLs of one latent layer "
                f"with an N(0, I) prior); received free_bits={self.free_bits!r}.")
        self.latent_dims = latent_dims
        # q(z2 | z1) and p(z1 | z2): diagonal Gaussians from MLPs.
        self._upper_gaussian = GaussianPosterior(latent_dims[1])
        self._top_down_gaussian = GaussianPosterior(latent_dims[0])
        self.upper_encoder = ConditionedMLP(latent_dims[0], self.condition_size,
                                            self.hidden_units,
                                            self._upper_gaussian.params_size,
                                            name="upper_encoder")
        self.top_down = ConditionedMLP(latent_dims[1], self.condition_size,
                                       self.hidden_units[::-1],
                                       self._top_down_gaussian.params_size, name="top_down")

    # The model's parts.

    def _gaussian(self, family, network, inputs, condition):
        """`family`'s diagonal Gaussian from `network`'s outputs for `inputs`
        `[..., d]` (the MLP sees them as `[-1, d]`): batch shape `[...]`."""
        lead = tf.shape(inputs)[:-1]
        flat_c = None
        if condition is not None:
            condition = tf.broadcast_to(condition, tf.concat([lead, [self.condition_size]], 0))
            flat_c = tf.reshape(condition, [-1, self.condition_size])
        out = tf.cast(network(tf.reshape(inputs, [-1, network.input_size]), flat_c),
                      self.variable_dtype)  # densities at full precision
        return family.gaussian(tf.reshape(out, tf.concat([lead, [family.params_size]], 0)))

    def prior(self):
        """p(z2) = N(0, I)."""
        zeros = tf.zeros([self.latent_dims[1]], self.variable_dtype)
        return tfd.MultivariateNormalDiag(zeros, tf.ones_like(zeros))

    def conditional_prior(self, z2, condition=None):
        """p(z1 | z2) for `z2` `[..., batch, d2]` (batch shape `[..., batch]`)."""
        return self._gaussian(self._top_down_gaussian, self.top_down, z2, condition)

    def upper_posterior(self, z1, condition=None):
        """q(z2 | z1) for `z1` `[..., batch, d1]` (batch shape `[..., batch]`)."""
        return self._gaussian(self._upper_gaussian, self.upper_encoder, z1, condition)

    def _joint_sample(self, posterior, condition, n, seed):
        """`n` joint draws from q per example: `(z1, log q(z1 | x), z2,
        q(z2 | z1))` (z1 and its log-density drawn together, so a flow
        posterior is never inverted)."""
        z1, log_q1 = posterior.experimental_sample_and_log_prob(n, seed=_fold(seed, 0))
        upper = self.upper_posterior(z1, condition)
        return z1, log_q1, upper.sample(seed=_fold(seed, 1)), upper

    # Bounds.

    def _terms(self, x, condition, seed, num_samples=None):
        """q(z1 | x), and per example the reconstruction E_q log p(x|z1) and
        the KL of both layers (see the module's docstring), nats, over
        `num_samples` joint draws (the model's `num_samples` by default)."""
        posterior = self.posterior(x, condition)
        z1, log_q1, z2, upper = self._joint_sample(posterior, condition,
                                                   num_samples or self.num_samples, seed)
        reconstruction = self._log_likelihood(x, condition)(z1)
        kl = (log_q1 - self.conditional_prior(z2, condition).log_prob(z1)
              + kl_divergence(upper, self.prior()))
        return posterior, tf.reduce_mean(reconstruction, axis=0), tf.reduce_mean(kl, axis=0)

    def _iwae(self, x, condition, k, seed):
        """IWAE_k per example, nats, over joint importance samples (z1, z2)."""
        posterior, prior = self.posterior(x, condition), self.prior()
        log_likelihood = self._log_likelihood(x, condition)

        def log_weights(n, chunk_seed):
            z1, log_q1, z2, upper = self._joint_sample(posterior, condition, n, chunk_seed)
            return (log_likelihood(z1) + self.conditional_prior(z2, condition).log_prob(z1)
                    + prior.log_prob(z2) - log_q1 - upper.log_prob(z2))

        return iwae_from_log_weights(log_weights, k, seed=seed)

    # Sampling.

    def latents(self, n, condition, seed):
        """`n` draws of z1: z2 ~ p(z2), then z1 ~ p(z1 | z2)."""
        z2 = self.prior().sample(n, seed=_fold(seed, 0))
        return self.conditional_prior(z2, condition).sample(seed=_fold(seed, 1))

    def get_config(self):
        config = {**super().get_config(), "latent_dims": self.latent_dims}
        del config["latent_dim"]  # the VAE's, here latent_dims[0]
        return config
