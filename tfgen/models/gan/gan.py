"""`GAN`: generative adversarial networks on the family contract.

A generator G maps noise z ~ N(0, I) to examples; a discriminator (critic)
D scores examples; they play the game a loss in `losses` defines
(non-saturating by default). One training step is Algorithm 1 of the GAN
paper:

    for i in 0 .. k-1:                       k = discriminator_steps
        x_i = x[i::k]                        its own real batch
        z_i ~ p(z), |z_i| = |x_i|
        step D on mean(d_loss(D(x_i), D(G(z_i))))   (+ gradient penalty)
        clip D's weights                     (WGAN)
    z ~ p(z), |z| = |x_0|
    step G on mean(g_loss(D(G(z))))

so a step takes a batch of k discriminator batches, and the batch size
comes from the data: `fit(x, batch_size=k * b)` trains D on batches of b
(`tfgen train` feeds k * `--batch-size`). The generator optimizer (the
model's `optimizer`) counts the steps; the discriminator optimizer takes k
per step. Means are over the global batch, so a MirroredStrategy update is
the one-device update.

Data: vectors are modeled as they are (G's output is linear). Discrete
data (a `dequantizer`, e.g. digits' 17 levels) reach D as their
dequantized intensities y in [0, 1], shown as 2 y - 1; G ends in tanh, and
its samples are returned in model space, where `dequantizer.to_levels`
reads their levels (floor(L y)).

Conditions (labels, or vectors) enter G at every layer (`ConditionedMLP`,
`ConditionedConvDecoder`) and D by projection
(`ProjectionDiscriminator`). `ema_decay` averages the generator's weights
(used by `sample`, evaluation and exports).
"""

import keras
import tensorflow as tf

from tfgen._validation import check_hidden_units, check_positive_int
from tfgen.models.base import GenerativeModel
from tfgen.models.distributed import replica_rows
from tfgen.models.gan.losses import get_loss, gradient_penalty
from tfgen.models.networks import ConditionedConvDecoder, ConditionedMLP, ProjectionDiscriminator

__all__ = ["GAN"]

_NETWORKS = ("mlp", "conv")
# Options a loss takes, by constructor argument.
_LOSS_OPTIONS = ("clip_value", "penalty_weight", "divergence")
_TRAIN_KEY = 0x6A11


@keras.saving.register_keras_serializable(package="tfgen")
class GAN(GenerativeModel):
    """A GAN with MLP or DCGAN-style convolutional networks.

    Args:
      event_shape: the shape of one example.
      latent_dim: the size of z ~ N(0, I); default 4 times the data's
        size, at most 32 (on eight_gaussians, seeds 0-2, z of size 8
        covered all 8 modes from the first thousand steps; of size 32, one
        seed stayed on one mode for 10000 steps; of size 2, each mode came
        out as a thin arc).
      hidden_units: widths of the Dense layers: G's (MLP), and D's
        (reversed; the last of D's is its feature width).
      network: "mlp", or "conv" for images: G projects z linearly onto an
        `h / 2^L` grid and upsamples x2 per `channels` (reversed) with
        `Upsample2D`, so the step compiles under XLA; D has stride-2 convs
        of `channels`, then its Dense layers.
      channels: the conv blocks' channels (`network="conv"`).
      loss: a name in `tfgen.models.gan.losses.LOSSES`: "non_saturating",
        "minimax", "wasserstein", "wgan_gp", "hinge", "least_squares",
        "fgan".
      clip_value: "wasserstein": D's weights are clipped to this (0.01).
      penalty_weight: "wgan_gp": the gradient penalty's weight (10).
      divergence: "fgan": "kl", "reverse_kl", "js" or "pearson" ("js").
      discriminator_steps: k, D steps per G step, each on its own part of
        the batch.
      normalization: None, or "batch": batch normalization in the conv
        generator's blocks (DCGAN's; synchronized across replicas). It
        normalizes with the batch's statistics in training, with moving
        averages in `sample`.
      num_classes, condition_shape, dequantizer, ema_decay: see
        `tfgen.models.GenerativeModel`; `ema_decay` averages G.

    Example:

    ```python
    gan = GAN([2], loss="non_saturating")
    gan.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    gan.fit(x_train, batch_size=256, epochs=50)
    gan.sample(1000, seed=0)
    ```

    References:
      Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
      Radford, Metz & Chintala, "Unsupervised Representation Learning with
      Deep Convolutional Generative Adversarial Networks", ICLR 2016.
      Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014.
    """

    family = "gan"
    likelihood = None
    optimizer_names = ("generator_optimizer", "discriminator_optimizer")
    loss_metric = "discriminator_loss"
    loss_name = "discriminator loss"

    def __init__(self, event_shape, latent_dim=None, hidden_units=(256, 256), network="mlp",
                 channels=(32, 64), loss="non_saturating", clip_value=None,
                 penalty_weight=None, divergence=None, discriminator_steps=1,
                 normalization=None, num_classes=None, condition_shape=None, dequantizer=None, ema_decay=None,
                 **kwargs):
        super().__init__(event_shape, num_classes=num_classes, condition_shape=condition_shape,
                         dequantizer=dequantizer, ema_decay=ema_decay, **kwargs)
        self.latent_dim = check_positive_int(
            "latent_dim", min(32, 4 * self.event_size) if latent_dim is None else latent_dim)
        self.hidden_units = check_hidden_units(hidden_units)
        self.channels = check_hidden_units(channels, name="channels")
        if network not in _NETWORKS:
            raise ValueError(f"`network` must be one of {_NETWORKS}; received {network!r}.")
        if network == "conv" and len(self.event_shape) != 3:
            raise ValueError(f"`network` 'conv' is for images [h, w, c]; received event_shape "
                             f"{self.event_shape}.")
        self.network, self.normalization = network, normalization
        if normalization is not None and network != "conv":
            raise ValueError(f"`normalization` is for the conv generator (`network` 'conv'); "
                             f"received normalization={normalization!r}, "
                             f"network={network!r}.")
        self.discriminator_steps = check_positive_int("discriminator_steps",
                                                      discriminator_steps)
        self.clip_value, self.penalty_weight, self.divergence = (clip_value, penalty_weight,
                                                                 divergence)
        self.loss = self._make_loss(loss)
        self.generator, self.discriminator = self._networks()
        self.discriminator_loss_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.generator_loss_tracker = keras.metrics.Mean(name="generator_loss")
        self.penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.built = True

    @property
    def batches_per_step(self):
        return self.discriminator_steps

    def _make_loss(self, name):
        """The loss object, with the options given for it; an option the
        loss does not take is refused, naming it."""
        given = {key: getattr(self, key) for key in _LOSS_OPTIONS
                 if getattr(self, key) is not None}
        takes = {"wasserstein": ("clip_value",), "wgan_gp": ("penalty_weight",),
                 "fgan": ("divergence",)}.get(name, ())
        for key, value in given.items():
            if key not in takes:
                raise ValueError(f"`{key}` is not an option of `loss` {name!r}; received "
                                 f"{key}={value!r}.")
        return get_loss(name, **given)

    def _networks(self):
        c = self.condition_size
        if self.network == "conv":
            # DCGAN's projection of z straight onto the smallest grid: with
            # Dense layers before it (hidden_units) G collapsed onto one
            # digit within a few hundred steps in every run tried.
            generator = ConditionedConvDecoder(self.latent_dim, c, self.event_shape,
                                               self.channels, [], self.event_shape[-1],
                                               normalization=self.normalization,
                                               name="generator")
        else:
            generator = ConditionedMLP(self.latent_dim, c, self.hidden_units, self.event_size,
                                       name="generator")
        discriminator = ProjectionDiscriminator(self.event_shape, c, self.network,
                                                self.hidden_units[::-1], self.channels,
                                                name="discriminator")
        return generator, discriminator

    # Spaces.

    def _to_network(self, x):
        """Model-space data as D sees them: 2 y - 1 for discrete data's
        intensities y, else as they are."""
        if self.dequantizer is None:
            return tf.cast(x, self.compute_dtype)
        y = self.dequantizer.from_model(tf.cast(x, tf.float32))
        return tf.cast(2.0 * y - 1.0, self.compute_dtype)

    def _to_model_space(self, t):
        """Generator outputs in model space: intensities (t + 1) / 2 through
        the data's map to model space, for discrete data."""
        t = tf.cast(t, tf.float32)
        if self.dequantizer is None:
            return t
        y = tf.clip_by_value(0.5 * (t + 1.0), 0.0, 1.0)
        return self.dequantizer.bijector.forward(y)

    def _fake(self, z, condition, training=False):
        """G(z), shaped as examples, in D's space: through tanh for
        discrete data. `training`: batch statistics in G's normalization."""
        out = tf.reshape(self.generator(z, condition, training=training),
                         [-1, *self.event_shape])
        return tf.tanh(out) if self.dequantizer is not None else out

    def noise(self, n, seed):
        """`n` draws of z ~ N(0, I), `[n, latent_dim]`, for a stateless
        `seed`; under a tf.distribute strategy, this replica's rows of the
        global batch's draw (`replica_rows`), so a distributed step is the
        one-device step."""
        z = replica_rows(lambda total: tf.random.stateless_normal([total, self.latent_dim], seed),
                         n)
        return tf.cast(z, self.compute_dtype)

    def generate(self, z, condition=None):
        """G(z) in model space for latents `z` `[batch, latent_dim]`."""
        condition = self._condition(condition, tf.shape(z)[0])
        with self.averaged_weights():
            return self._to_model_space(self._fake(tf.cast(z, self.compute_dtype), condition))

    # Training.

    def optimizer_variables(self, name):
        network = self.generator if name == "generator_optimizer" else self.discriminator
        return network.trainable_variables

    def updates_per_step(self, name):
        return self.discriminator_steps if name == "discriminator_optimizer" else 1

    def ema_targets(self):
        return self.generator.trainable_weights

    @property
    def metrics(self):
        trackers = [self.discriminator_loss_tracker, self.generator_loss_tracker]
        return trackers + ([self.penalty_tracker] if self.loss.penalty_weight else [])

    def _discriminator_losses(self, real, condition, seed):
        """Per-example D loss on `real` against as many generated examples,
        and the gradient penalty's part of it (zeros without one)."""
        fold = tf.random.experimental.stateless_fold_in
        z = self.noise(tf.shape(real)[0], fold(seed, 0))
        fake = tf.stop_gradient(self._fake(z, condition, training=True))
        per_example = self.loss.discriminator_loss(self.discriminator(real, condition),
                                                   self.discriminator(fake, condition))
        penalty = tf.zeros_like(per_example)
        if self.loss.penalty_weight:
            penalty = gradient_penalty(
                lambda x: self.discriminator(x, condition), real, fake,
                fold(seed, 1),
                loss_scale=self.discriminator_optimizer.scale_loss(tf.constant(1.0)))
            per_example = per_example + self.loss.penalty_weight * penalty
        return per_example, penalty

    def _generator_losses(self, n, condition, seed):
        fake = self._fake(self.noise(n, seed), condition, training=True)
        return self.loss.generator_loss(self.discriminator(fake, condition))

    def train_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        x = self._to_network(x)
        k = self.discriminator_steps
        # The same on every replica: draws are over the global batch.
        seed = self.step_seed(_TRAIN_KEY, per_replica=False)
        fold = tf.random.experimental.stateless_fold_in
        for i in range(k):
            real, part = x[i::k], None if condition is None else condition[i::k]
            with tf.GradientTape() as tape:
                d_loss, penalty = self._discriminator_losses(real, part, fold(seed, i))
                mean_d_loss = self.global_mean(d_loss)
            self.minimize(tape, mean_d_loss, self.discriminator.trainable_variables,
                          "discriminator_optimizer")
            if self.loss.clip_value is not None:
                for weight in self.discriminator.trainable_variables:
                    weight.assign(tf.clip_by_value(weight, -self.loss.clip_value,
                                                   self.loss.clip_value))
            self.discriminator_loss_tracker.update_state(d_loss)
            self.penalty_tracker.update_state(penalty)
        part = None if condition is None else condition[0::k]
        with tf.GradientTape() as tape:
            g_loss = self._generator_losses(tf.shape(x[0::k])[0], part,
                                            fold(seed, k))
            mean_g_loss = self.global_mean(g_loss)
        self.minimize(tape, mean_g_loss, self.generator.trainable_variables,
                      "generator_optimizer")
        self.update_ema()
        self.generator_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        x = self._to_network(x)
        seed = tf.constant([2, _TRAIN_KEY], tf.int32)
        d_loss, penalty = self._discriminator_losses(x, condition, seed)
        self.discriminator_loss_tracker.update_state(d_loss)
        self.penalty_tracker.update_state(penalty)
        self.generator_loss_tracker.update_state(
            self._generator_losses(tf.shape(x)[0], condition, seed))
        return {m.name: m.result() for m in self.metrics}

    # Sampling and serving.

    def draw(self, n, condition, seed):
        seed = tf.constant([3, 0], tf.int32) if seed is None else seed
        return self._to_model_space(self._fake(self.noise(n, seed), condition))

    def serving_endpoints(self):
        """`sample(n, seed)` -> `{"samples"}` (model space; and `"pixels"`,
        the levels, for discrete data), `generate(z)` -> `{"samples"}`;
        conditional models take `condition` too."""
        z_spec = tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")
        n_spec = tf.TensorSpec([], tf.int32, name="n")
        seed_spec = tf.TensorSpec([], tf.int32, name="seed")
        if not self.conditional:
            return {"sample": (lambda n, seed: self._serve_sample(n, None, seed),
                               [n_spec, seed_spec]),
                    "generate": (lambda z: {"samples": self.generate(z)}, [z_spec])}
        c_spec = self.condition_spec()
        return {"sample": (lambda n, condition, seed: self._serve_sample(n, condition, seed),
                           [n_spec, c_spec, seed_spec]),
                "generate": (lambda z, condition: {"samples": self.generate(z, condition)},
                             [z_spec, c_spec])}

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "hidden_units": self.hidden_units, "network": self.network,
                "channels": self.channels, "loss": self.loss.name,
                "clip_value": self.clip_value, "penalty_weight": self.penalty_weight,
                "divergence": self.divergence, "discriminator_steps": self.discriminator_steps,
                "normalization": self.normalization}
