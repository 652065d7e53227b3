"""`VAE`: a variational autoencoder on the family contract.

    q(z | x) = N(mu(x), diag sigma(x)^2)      the encoder (MLP or conv net),
               optionally refined by a flow  (`posteriors`: planar, radial, IAF)
    p(z)     = N(0, I)
    p(x | z) = a decoder likelihood (`tfgen.models.vae.likelihoods`)

trained on the ELBO = E_q[log p(x | z)] - beta KL(q || p), with the
reparametrization z = mu + sigma * eps, or on the importance-weighted bound
(`objective="iwae"`). The KL is in closed form for the Gaussian posterior;
for flow posteriors, the Gaussian's closed form plus a Monte Carlo
correction on the same samples (`bounds.sample_with_kl`). Free bits
(Kingma et al. 2016) keep each latent dimension's KL term at `free_bits`
nats or more in the loss:

    loss = -(r * E_q log p(x|z) - w * sum_j max(free_bits, KL_j(x)))

with `r = reconstruction_weight` and `w = kl_weight` (1 and beta unless a
schedule in `schedules` changes them). The floor is per example (the paper
floors the minibatch's mean KL_j): a per-example loss averages over the
global batch like any other, also under `tf.distribute`.

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

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import check_hidden_units, check_positive_int
from tfgen.models.base import GenerativeModel
from tfgen.models.networks import ConditionedConvDecoder, ConditionedConvEncoder, ConditionedMLP
from tfgen.models.vae.bounds import iwae, sample_with_kl
from tfgen.models.vae.decoded_data import DecodedData
from tfgen.models.vae.posteriors import make_posterior
from tfgen.models.vae.schedules import KLWarmup, TwoPhaseSchedule

tfd = tfp.distributions

__all__ = ["VAE"]

_OBJECTIVES = ("elbo", "iwae")
_NETWORKS = ("mlp", "conv")
_SCHEDULES = (None, "two_phase")
_TRAIN_SEED = 0x5EED


@keras.saving.register_keras_serializable(package="tfgen")
class VAE(DecodedData, GenerativeModel):
    """A VAE with MLP or convolutional encoder and decoder (conditions
    reach every layer of both: `ConditionedMLP`, `ConditionedConvEncoder`,
    `ConditionedConvDecoder`).

    Args:
      event_shape: the shape of one example (images are flattened by the
        MLPs).
      latent_dim: the size of z.
      hidden_units: widths of the encoder's hidden (Dense) layers (the
        decoder's are the same, reversed); empty: linear networks.
      network: "mlp", or "conv" for images: stride-2 3x3 conv blocks of
        `channels` before the Dense layers (the decoder mirrors them with
        x2 upsampling).
      channels: the conv blocks' channels (`network="conv"`).
      posterior_flow: None (diagonal Gaussian q), or "planar", "radial",
        "iaf": `flow_length` flow steps refining q (`posteriors`).
      flow_length: steps of the posterior flow.
      free_bits: nats per latent dimension below which a KL term stops
        being penalized (0: none; for the Gaussian posterior).
      kl_schedule: None, or "two_phase" (`schedules.TwoPhaseSchedule`:
        reconstruction 0.99 / KL 0.01 until the samples' variance rises,
        then 0.5 / 0.5), a callback `training_callbacks` returns.
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
    ELBO_SAMPLES = 16  # draws of z for the ELBO that `nll_bounds` reports
    loss_metric = "loss"
    loss_name = "negative ELBO"

    def __init__(self, event_shape, latent_dim=16, hidden_units=(256, 256), network="mlp",
                 channels=(32, 64), posterior_flow=None, flow_length=4,
                 decoder_likelihood="auto", beta=1.0, kl_warmup=0, free_bits=0.0,
                 kl_schedule=None, objective="elbo", num_samples=1, eval_samples=1000,
                 num_classes=None, condition_shape=None, dequantizer=None, ema_decay=None,
                 **kwargs):
        super().__init__(event_shape, num_classes=num_classes, condition_shape=condition_shape,
                         dequantizer=dequantizer, ema_decay=ema_decay, **kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.hidden_units = check_hidden_units(hidden_units, allow_empty=True)
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
        self._check_options(network, channels, free_bits, kl_schedule, posterior_flow)
        self.network, self.channels = network, check_hidden_units(channels, name="channels")
        self.free_bits, self.kl_schedule = float(free_bits), kl_schedule
        self.posterior_flow, self.flow_length = posterior_flow, flow_length
        self.posterior_family = make_posterior(posterior_flow, self.latent_dim, flow_length)
        self.decoder_distribution = self._likelihood()
        out_channels = self.event_shape[-1] * self.decoder_distribution.params_per_channel
        self._params_shape = [*self.event_shape[:-1], out_channels]
        self.encoder, self.decoder = self._networks(out_channels)
        self._start_flow_at_identity()
        # The loss weights, set by schedules (`schedules`); saved with the
        # model, so a resumed run goes on with them.
        self.kl_weight = self.add_weight(shape=(), initializer=keras.initializers.Constant(
            float(beta)), trainable=False, name="kl_weight")
        self.reconstruction_weight = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="reconstruction_weight")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="elbo_bits_per_dim")
        self.built = True

    def _check_options(self, network, channels, free_bits, kl_schedule, posterior_flow):
        if network not in _NETWORKS:
            raise ValueError(f"`network` must be one of {_NETWORKS}; received {network!r}.")
        if network == "conv" and len(self.event_shape) != 3:
            raise ValueError(f"`network` 'conv' is for images [h, w, c]; received event_shape "
                             f"{self.event_shape}.")
        if (isinstance(free_bits, bool) or not isinstance(free_bits, (int, float))
                or free_bits < 0):
            raise ValueError(f"`free_bits` must be a float >= 0; received {free_bits!r}.")
        if free_bits and (posterior_flow is not None or self.objective == "iwae"):
            raise ValueError(f"`free_bits` floors the Gaussian posterior's per-dimension KL in "
                             f"the ELBO; received posterior_flow={posterior_flow!r}, "
                             f"objective={self.objective!r}.")
        if kl_schedule not in _SCHEDULES:
            raise ValueError(f"`kl_schedule` must be one of {_SCHEDULES}; received "
                             f"{kl_schedule!r}.")
        if kl_schedule and (self.kl_warmup or self.objective == "iwae"):
            raise ValueError(f"`kl_schedule` {kl_schedule!r} sets the loss weights itself: "
                             f"received kl_warmup={self.kl_warmup!r}, "
                             f"objective={self.objective!r}.")
        if kl_schedule and self.conditional and not self.num_classes:
            raise ValueError(f"`kl_schedule` {kl_schedule!r} measures samples per class: it "
                             f"needs unconditional or class-conditional models; received "
                             f"condition_shape={self.condition_shape!r}.")

    def _networks(self, out_channels):
        """Encoder and decoder; conditions enter every layer of both."""
        params = self.posterior_family.params_size
        c = self.condition_size
        if self.network == "conv":
            return (ConditionedConvEncoder(self.event_shape, c, self.channels, self.hidden_units,
                                           params, name="encoder"),
                    ConditionedConvDecoder(self.latent_dim, c, self.event_shape, self.channels,
                                           self.hidden_units[::-1], out_channels, name="decoder"))
        return (ConditionedMLP(self.event_size, c, self.hidden_units, params, name="encoder"),
                ConditionedMLP(self.latent_dim, c, self.hidden_units[::-1],
                               self.event_size // self.event_shape[-1] * out_channels,
                               name="decoder"))

    def _start_flow_at_identity(self):
        """Zeroes the encoder outputs that make the posterior flow the
        identity (`posteriors`: a new flow posterior is the Gaussian)."""
        columns = self.posterior_family.identity_outputs
        if not columns:
            return
        head = self.encoder.head if self.network == "conv" else self.encoder
        layer = head.dense_layers[-1]
        keep = np.ones(layer.units, layer.kernel.dtype)
        keep[columns] = 0
        layer.kernel.assign(layer.kernel * keep)
        layer.bias.assign(layer.bias * keep)

    # The model's parts.

    def _encoder_input(self, x):
        """The encoder's input: intensities in [0, 1] of discrete data,
        flattened for the MLP."""
        x = self._intensities(x)
        return tf.reshape(x, [-1, self.event_size]) if self.network == "mlp" else x

    def posterior(self, x, condition=None):
        """q(z | x) with batch shape `[batch]`: `MultivariateNormalDiag`, or
        its flow refinement; `condition` is the float condition `[batch, k]`
        (or None)."""
        return self.posterior_family.distribution(self._encoded(x, condition))

    def _encoded(self, x, condition):
        """The encoder's outputs, in the variables' dtype (float32 under
        mixed precision): densities are computed at full precision."""
        return tf.cast(self.encoder(self._encoder_input(x), condition), self.variable_dtype)

    def prior(self):
        zeros = tf.zeros([self.latent_dim], self.variable_dtype)
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
        params = tf.reshape(tf.cast(self.decoder(flat_z, flat_c), self.variable_dtype),
                            tf.concat([lead, self._params_shape], 0))
        return self.decoder_distribution.distribution(params, event_rank=len(self.event_shape))

    def _log_likelihood(self, x, condition):
        data = self._data(x)
        return lambda z: self.decode(z, condition).log_prob(data)

    # Bounds.

    def _terms(self, x, condition, seed, num_samples=None):
        """q(z | x), and per example the reconstruction E_q log p(x|z) and
        KL(q || p), nats, over `num_samples` draws of z (the model's
        `num_samples` by default)."""
        posterior = self.posterior(x, condition)
        z, kl = sample_with_kl(posterior, self.prior(), num_samples or self.num_samples, seed)
        reconstruction = tf.reduce_mean(self._log_likelihood(x, condition)(z), axis=0)
        return posterior, reconstruction, kl

    def _iwae(self, x, condition, k, seed):
        """IWAE_k per example, nats."""
        return iwae(self.posterior(x, condition), self.prior(),
                    self._log_likelihood(x, condition), k, seed=seed)

    def nll_bounds(self, x, condition=None, seed=0):
        """`{"elbo": -ELBO, "iwae_<k>": -IWAE_k}` per example, nats: upper
        bounds on -log p(x) (of the discrete data, for discrete
        likelihoods), with `k = eval_samples`; the ELBO over
        `ELBO_SAMPLES` draws."""
        condition = self._condition(condition, tf.shape(x)[0])
        seed = tf.stack([tf.constant(1, tf.int32), tf.cast(seed, tf.int32)])
        _, reconstruction, kl = self._terms(x, condition, seed, num_samples=self.ELBO_SAMPLES)
        return {"elbo": kl - reconstruction,
                f"iwae_{self.eval_samples}": -self._iwae(x, condition, self.eval_samples, seed)}

    # Training.

    def training_callbacks(self):
        """The schedules this model's configuration asks for."""
        if self.kl_schedule == "two_phase":
            return [TwoPhaseSchedule()]
        return [KLWarmup(self.kl_warmup)] if self.kl_warmup else []

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker,
                self.elbo_tracker, self.bits_per_dim_tracker]

    def _loss(self, x, condition, seed, kl_weight, reconstruction_weight):
        """Per-example loss and the ELBO's terms."""
        posterior, reconstruction, kl = self._terms(x, condition, seed)
        if self.objective == "iwae":  # the ELBO's terms stay as metrics
            loss = -self._iwae(x, condition, self.num_samples, seed)
        else:
            penalized = self._free_bits_kl(posterior) if self.free_bits else kl
            loss = -(tf.cast(reconstruction_weight, kl.dtype) * reconstruction
                     - tf.cast(kl_weight, kl.dtype) * penalized)
        return loss, reconstruction, kl

    def _free_bits_kl(self, posterior):
        """sum_j max(free_bits, KL_j) per example: the closed-form KL of
        each latent dimension (Gaussian q, standard normal p), floored."""
        per_dim = tfd.kl_divergence(
            tfd.Normal(posterior.mean(), posterior.stddev()),
            tfd.Normal(tf.zeros([], posterior.dtype), tf.ones([], posterior.dtype)))
        return tf.reduce_sum(tf.maximum(per_dim, self.free_bits), axis=-1)

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
            loss, reconstruction, kl = self._loss(x, condition, self.step_seed(_TRAIN_SEED),
                                                  self.kl_weight, self.reconstruction_weight)
            mean_loss = self.global_mean(loss)
        self.minimize(tape, mean_loss, self.trainable_weights)
        self.update_ema()
        return self._update_metrics(loss, reconstruction, kl, x)

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        # Validation scores the objective itself, not a schedule's weight.
        seed = tf.constant([2, _TRAIN_SEED], tf.int32)
        return self._update_metrics(*self._loss(x, condition, seed, self.beta, 1.0), x)

    # Sampling and serving.

    def draw(self, n, condition, seed):
        seed = tf.constant([3, 0], tf.int32) if seed is None else seed
        z = self.latents(n, condition, tf.random.experimental.stateless_fold_in(seed, 0))
        values = self.decode(z, condition).sample(
            seed=tf.random.experimental.stateless_fold_in(seed, 1))
        return self._to_model_space(values)

    def latents(self, n, condition, seed):
        """`n` draws `[n, latent_dim]` of the latent the decoder takes, from
        the prior (given `condition` `[n, k]` where the prior has one)."""
        del condition  # p(z) = N(0, I)
        return self.prior().sample(n, seed=seed)

    def sample_variance(self, n=64, seed=0):
        """The variance across z ~ p(z) of the decoder's mode, averaged over
        values (and over classes, for class-conditional models): near 0 when
        the decoder ignores z. Discrete data in intensities `level / (L-1)`."""
        if self.conditional and not self.num_classes:
            raise ValueError("`sample_variance` needs unconditional or class-conditional "
                             f"models; this one has condition_shape {self.condition_shape}.")
        groups = self.num_classes or 1
        condition = None
        if self.num_classes:
            condition = tf.one_hot(tf.repeat(tf.range(groups), n), groups,
                                   dtype=self.compute_dtype)
        z = self.latents(groups * n, condition, tf.stack([4, tf.cast(seed, tf.int32)]))
        values = self.decode(z, condition).distribution.mode()
        values = tf.cast(values, tf.float32)
        if self.decoder_distribution.discrete:
            values = values / (self.dequantizer.levels - 1)
        _, variance = tf.nn.moments(tf.reshape(values, [groups, n, -1]), axes=[1])
        return tf.reduce_mean(variance)

    def encode(self, x, condition=None):
        """The Gaussian q(z | x)'s mean and standard deviation (before any
        posterior flow), `[batch, latent_dim]` each."""
        condition = self._condition(condition, tf.shape(x)[0])
        gaussian = self.posterior_family.gaussian(self._encoded(x, condition))
        return gaussian.mean(), gaussian.stddev()

    def decode_mean(self, z, condition=None):
        """The decoder's mode (discrete: the most likely level) for latents
        `z` `[batch, latent_dim]`, in model space."""
        condition = self._condition(condition, tf.shape(z)[0])
        return self._to_model_space(self.decode(z, condition).distribution.mode())

    def decode_sample(self, z, seed, condition=None):
        """A draw of p(x | z) for latents `z` `[batch, latent_dim]` and a
        stateless `[2]` `seed`, in model space."""
        condition = self._condition(condition, tf.shape(z)[0])
        return self._to_model_space(self.decode(z, condition).sample(seed=seed))

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

        if not self.conditional:
            return {"encode": (encode, [x_spec]),
                    "decode": (lambda z: {"x": self.decode_mean(z)}, [z_spec]),
                    "sample": (lambda n, seed: self._serve_sample(n, None, seed),
                               [n_spec, seed_spec])}
        c_spec = self.condition_spec()
        return {"encode": (encode, [x_spec, c_spec]),
                "decode": (lambda z, condition: {"x": self.decode_mean(z, condition)},
                           [z_spec, c_spec]),
                "sample": (lambda n, condition, seed: self._serve_sample(n, condition, seed),
                           [n_spec, c_spec, seed_spec])}

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "hidden_units": self.hidden_units, "network": self.network,
                "channels": self.channels, "posterior_flow": self.posterior_flow,
                "flow_length": self.flow_length,
                "decoder_likelihood": self.decoder_likelihood, "beta": self.beta,
                "kl_warmup": self.kl_warmup, "free_bits": self.free_bits,
                "kl_schedule": self.kl_schedule,
                "objective": self.objective, "num_samples": self.num_samples,
                "eval_samples": self.eval_samples}
