"""`VAE`: a variational autoencoder on the family contract.

    q(z | x) = N(mu(x), diag sigma(x)^2)      the encoder (an MLP)
    p(z)     = N(0, I)
    p(x | z) = a decoder likelihood (`tfgen.models.vae.likelihoods`)

trained on the ELBO = E_q[log p(x | z)] - beta KL(q || p), with the
reparametrization z = mu + sigma * eps, or on the importance-weighted bound
(`objective="iwae"`). The KL is in closed form.

Discrete data (a `dequantizer` from the data, e.g. digits' 17 levels) reach
the model as the data source's model-space floats; the VAE reads back their
exact integer levels (`dequantizer.to_levels`), scores them with a discrete
likelihood (categorical by default), and samples levels, returned at their
bin centres in model space. Its bounds are therefore of the discrete data,
in bits/dim with no dequantization. Continuous data get a Gaussian decoder
with a learned scale per value.

Randomness in training is stateless, keyed by the step and the replica, so a
resumed run draws the same noise as an uninterrupted one.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import check_positive_int
from tfgen.models.base import GenerativeModel
from tfgen.models.networks import ConditionedMLP
from tfgen.models.vae.bounds import elbo, iwae, kl_divergence
from tfgen.models.vae.likelihoods import Bernoulli, Categorical, DiscretizedLogistic, Gaussian
from tfgen.models.vae.schedules import KLWarmup

tfd = tfp.distributions

__all__ = ["VAE"]

_LIKELIHOODS = ("auto", "categorical", "logistic", "bernoulli", "gaussian")
_OBJECTIVES = ("elbo", "iwae")
_TRAIN_SEED = 0x5EED


@keras.saving.register_keras_serializable(package="tfgen")
class VAE(GenerativeModel):
    """A VAE with MLP encoder and decoder (`ConditionedMLP`: conditions
    reach every layer of both).

    Args:
      event_shape: the shape of one example (images are flattened by the
        MLPs).
      latent_dim: the size of z.
      hidden_units: widths of the encoder's hidden layers (the decoder's
        are the same, reversed).
      decoder_likelihood: "auto" (categorical over the levels of discrete
        data, else a Gaussian with learned scale), "categorical",
        "logistic" (discretized logistic mixture), "bernoulli", "gaussian".
      beta: the KL weight (beta-VAE; 1 is the ELBO).
      kl_warmup: steps of linear KL warm-up from 0 to `beta`
        (`schedules.KLWarmup`, which `training_callbacks` returns for
        `tfgen train`; pass it to `fit` yourself from Python). 0: none.
      objective: "elbo", or "iwae" with `num_samples` importance samples.
      num_samples: samples of z per example in training.
      eval_samples: importance samples of the IWAE bound in evaluation.
      num_classes, condition_shape, dequantizer, ema_decay: see
        `tfgen.models.GenerativeModel`; conditions reach encoder and decoder.

    Example:

    ```python
    digits = tfgen.data.load_data("digits")
    vae = VAE([8, 8, 1], dequantizer=digits.dequantizer)
    vae.compile(optimizer="adam")
    vae.fit(digits.dataset("train", 64), epochs=1)
    vae.nll_bounds(x)          # {"elbo": [b], "iwae_1000": [b]}, nats
    ```

    References:
      Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
      Higgins et al., "beta-VAE", ICLR 2017.
      Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
    """

    family = "vae"
    likelihood = "bound"
    loss_metric = "loss"
    loss_name = "negative ELBO"

    def __init__(self, event_shape, latent_dim=16, hidden_units=(256, 256),
                 decoder_likelihood="auto", beta=1.0, kl_warmup=0, objective="elbo",
                 num_samples=1, eval_samples=1000, num_classes=None, condition_shape=None, dequantizer=None,
                 ema_decay=None, **kwargs):
        super().__init__(event_shape, num_classes=num_classes, condition_shape=condition_shape,
                         dequantizer=dequantizer, ema_decay=ema_decay, **kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.hidden_units = [check_positive_int("hidden_units", u) for u in hidden_units]
        if decoder_likelihood not in _LIKELIHOODS:
            raise ValueError(f"`decoder_likelihood` must be one of {_LIKELIHOODS}; received "
                             f"{decoder_likelihood!r}.")
        if objective not in _OBJECTIVES:
            raise ValueError(f"`objective` must be one of {_OBJECTIVES}; received "
                             f"{objective!r}.")
        if not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"`beta` must be a float >= 0; received {beta!r}.")
        self.decoder_likelihood, self.objective, self.beta = decoder_likelihood, objective, beta
        if not isinstance(kl_warmup, int) or kl_warmup < 0:
            raise ValueError(f"`kl_warmup` must be an int >= 0; received {kl_warmup!r}.")
        self.kl_warmup = kl_warmup
        if objective == "iwae" and (beta != 1.0 or kl_warmup):
            raise ValueError(
                f"`objective` 'iwae' has no KL weight: received beta={beta!r}, "
                f"kl_warmup={kl_warmup!r}.")
        self.num_samples = check_positive_int("num_samples", num_samples)
        self.eval_samples = check_positive_int("eval_samples", eval_samples)
        self.decoder_distribution = self._likelihood()
        channels = self.event_shape[-1] * self.decoder_distribution.params_per_channel
        # Conditions enter every layer of both networks.
        self.encoder = ConditionedMLP(self.event_size, self.condition_size, self.hidden_units,
                                      2 * self.latent_dim, name="encoder")
        self.decoder = ConditionedMLP(self.latent_dim, self.condition_size,
                                      self.hidden_units[::-1],
                                      self.event_size // self.event_shape[-1] * channels,
                                      name="decoder")
        self._params_shape = [*self.event_shape[:-1], channels]
        # The KL's weight in the loss, set by schedules (`schedules`); saved
        # with the model, so a resumed run goes on with it.
        self.kl_weight = self.add_weight(shape=(), initializer=keras.initializers.Constant(
            float(beta)), trainable=False, name="kl_weight")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="elbo_bits_per_dim")
        self.built = True

    def _likelihood(self):
        name = self.decoder_likelihood
        if name == "auto":
            name = "categorical" if self.dequantizer is not None else "gaussian"
        if name != "gaussian" and self.dequantizer is None:
            raise ValueError(
                f"`decoder_likelihood` {name!r} is for discrete data: the model needs the "
                "data's `dequantizer` (its levels).")
        levels = None if self.dequantizer is None else self.dequantizer.levels
        if name == "bernoulli" and levels != 2:
            raise ValueError(f"`decoder_likelihood` 'bernoulli' is for binary data (2 levels); "
                             f"the data have {levels} levels.")
        return {"categorical": lambda: Categorical(levels),
                "logistic": lambda: DiscretizedLogistic(levels),
                "bernoulli": Bernoulli, "gaussian": Gaussian}[name]()

    # The model's parts.

    def _data(self, x):
        """What the likelihood scores: the integer levels of discrete data
        (exact from the dequantized floats), else `x`."""
        if self.decoder_distribution.discrete:
            return self.dequantizer.to_levels(x)
        return x

    def _encoder_input(self, x):
        """Flattened encoder input: intensities in [0, 1] of discrete data."""
        if self.decoder_distribution.discrete:
            x = tf.cast(self._data(x), self.compute_dtype) / (self.dequantizer.levels - 1)
        return tf.reshape(x, [-1, self.event_size])

    def posterior(self, x, condition=None):
        """q(z | x): `MultivariateNormalDiag` with batch shape `[batch]`;
        `condition` is the float condition `[batch, k]` (or None)."""
        out = self.encoder(self._encoder_input(x), condition)
        mean, raw_scale = tf.split(out, 2, axis=-1)
        return tfd.MultivariateNormalDiag(mean, 1e-4 + tf.nn.softplus(raw_scale))

    def prior(self):
        zeros = tf.zeros([self.latent_dim], self.compute_dtype)
        return tfd.MultivariateNormalDiag(zeros, tf.ones_like(zeros))

    def decode(self, z, condition=None):
        """p(x | z) for latents `z` `[..., batch, latent_dim]`: a
        distribution over examples (in the likelihood's units: levels of
        discrete data)."""
        lead = tf.shape(z)[:-1]
        if condition is not None:
            condition = tf.broadcast_to(condition, tf.concat([lead, tf.shape(condition)[-1:]], 0))
        flat_z = tf.reshape(z, [-1, self.latent_dim])  # the MLP takes [batch, k]
        flat_c = None if condition is None else tf.reshape(condition, [-1, self.condition_size])
        params = tf.reshape(self.decoder(flat_z, flat_c),
                            tf.concat([lead, self._params_shape], 0))
        return self.decoder_distribution.distribution(params, event_rank=len(self.event_shape))

    def _log_likelihood(self, x, condition):
        data = self._data(x)
        return lambda z: self.decode(z, condition).log_prob(data)

    # Bounds.

    def _step_seed(self):
        """A stateless seed of this training step and replica."""
        context = tf.distribute.get_replica_context()
        replica = 0 if context is None else context.replica_id_in_sync_group
        seed = tf.stack([tf.cast(replica, tf.int32), tf.constant(_TRAIN_SEED, tf.int32)])
        return tf.random.experimental.stateless_fold_in(
            seed, tf.cast(self.optimizer.iterations, tf.int32))

    def _terms(self, x, condition, seed):
        """Per-example reconstruction E_q log p(x|z) and KL(q || p), nats."""
        posterior, prior = self.posterior(x, condition), self.prior()
        z = posterior.sample(self.num_samples, seed=seed)
        reconstruction = tf.reduce_mean(self._log_likelihood(x, condition)(z), axis=0)
        return posterior, reconstruction, kl_divergence(posterior, prior, z)

    def nll_bounds(self, x, condition=None, seed=0):
        """`{"elbo": -ELBO, "iwae_<k>": -IWAE_k}` per example, nats: upper
        bounds on -log p(x) (of the discrete data, for discrete
        likelihoods), with `k = eval_samples`."""
        condition = self._condition(condition, tf.shape(x)[0])
        seed = tf.stack([tf.constant(1, tf.int32), tf.cast(seed, tf.int32)])
        posterior, prior = self.posterior(x, condition), self.prior()
        log_likelihood = self._log_likelihood(x, condition)
        return {"elbo": -elbo(posterior, prior, log_likelihood, num_samples=16, seed=seed),
                f"iwae_{self.eval_samples}": -iwae(posterior, prior, log_likelihood,
                                                   self.eval_samples, seed=seed)}

    def bits_per_dim(self, nll, x):
        """Bits/dim: of the discrete data directly for discrete likelihoods
        (no dequantization to account for), else the base's (with a
        Gaussian on dequantized data, its preprocessing accounted)."""
        if self.decoder_distribution.discrete:
            return nll / (self.event_size * math.log(2.0))
        return super().bits_per_dim(nll, x)

    # Training.

    def training_callbacks(self):
        """The schedules this model's configuration asks for."""
        return [KLWarmup(self.kl_warmup)] if self.kl_warmup else []

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker,
                self.elbo_tracker, self.bits_per_dim_tracker]

    def _loss(self, x, condition, seed, kl_weight):
        """Per-example loss and the ELBO's terms."""
        posterior, reconstruction, kl = self._terms(x, condition, seed)
        if self.objective == "iwae":  # the ELBO's terms stay as metrics
            loss = -iwae(posterior, self.prior(), self._log_likelihood(x, condition),
                         self.num_samples, seed=seed)
        else:
            loss = -(reconstruction - tf.cast(kl_weight, kl.dtype) * kl)
        return loss, reconstruction, kl

    def _update_metrics(self, loss, reconstruction, kl, x):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        self.elbo_tracker.update_state(reconstruction - kl)
        self.bits_per_dim_tracker.update_state(self.bits_per_dim(kl - reconstruction, x))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self._loss(x, condition, self._step_seed(),
                                                  self.kl_weight)
            mean_loss = self.global_mean(loss)
        self.minimize(tape, mean_loss, self.trainable_weights)
        self.update_ema()
        return self._update_metrics(loss, reconstruction, kl, x)

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        # Validation scores the objective itself, not a schedule's weight.
        seed = tf.constant([2, _TRAIN_SEED], tf.int32)
        return self._update_metrics(*self._loss(x, condition, seed, self.beta), x)

    # Sampling and serving.

    def draw(self, n, condition, seed):
        seed = tf.constant([3, 0], tf.int32) if seed is None else seed
        z = self.prior().sample(n, seed=tf.random.experimental.stateless_fold_in(seed, 0))
        values = self.decode(z, condition).sample(
            seed=tf.random.experimental.stateless_fold_in(seed, 1))
        return self._to_model_space(values)

    def _to_model_space(self, values):
        """Decoder values in model space: levels at their bin centres, or
        the continuous values as they are."""
        if not self.decoder_distribution.discrete:
            return tf.cast(values, self.compute_dtype)
        levels = tf.cast(values, tf.int32)
        return self.dequantizer.to_model(levels, tf.fill(tf.shape(levels), 0.5))

    def encode(self, x, condition=None):
        """q(z | x)'s mean and standard deviation, `[batch, latent_dim]` each."""
        condition = self._condition(condition, tf.shape(x)[0])
        posterior = self.posterior(x, condition)
        return posterior.mean(), posterior.stddev()

    def decode_mean(self, z, condition=None):
        """The decoder's mode (discrete: the most likely level) for latents
        `z` `[batch, latent_dim]`, in model space."""
        condition = self._condition(condition, tf.shape(z)[0])
        return self._to_model_space(self.decode(z, condition).distribution.mode())

    def serving_endpoints(self):
        """`encode(x)` -> `{"mean", "stddev"}`, `decode(z)` -> `{"x"}`
        (the decoder's mode, model space), `sample(n, seed)` ->
        `{"samples"}` (and `"pixels"`, the levels, for discrete data);
        conditional models take `condition` too."""
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        z_spec = tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")
        n_spec = tf.TensorSpec([], tf.int32, name="n")
        seed_spec = tf.TensorSpec([], tf.int32, name="seed")

        def encode(x, condition=None):
            mean, stddev = self.encode(x, condition)
            return {"mean": mean, "stddev": stddev}

        def sample(n, seed, condition=None):
            samples = self.sample(n, condition, seed=seed)
            out = {"samples": samples}
            if self.dequantizer is not None:
                out["pixels"] = self.dequantizer.to_levels(samples)
            return out

        if not self.conditional:
            return {"encode": (encode, [x_spec]),
                    "decode": (lambda z: {"x": self.decode_mean(z)}, [z_spec]),
                    "sample": (sample, [n_spec, seed_spec])}
        c_spec = (tf.TensorSpec([None], tf.int32, name="condition") if self.num_classes
                  else tf.TensorSpec([None, self.condition_size], tf.float32, name="condition"))
        return {"encode": (encode, [x_spec, c_spec]),
                "decode": (lambda z, condition: {"x": self.decode_mean(z, condition)},
                           [z_spec, c_spec]),
                "sample": (lambda n, condition, seed: sample(n, seed, condition),
                           [n_spec, c_spec, seed_spec])}

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "hidden_units": self.hidden_units,
                "decoder_likelihood": self.decoder_likelihood, "beta": self.beta,
                "kl_warmup": self.kl_warmup,
                "objective": self.objective, "num_samples": self.num_samples,
                "eval_samples": self.eval_samples}
