"""`VAEGAN`: a tfgen VAE whose decoder is a GAN's generator, with the
reconstruction measured in the discriminator's features (Larsen et al. 2016).

With encoder q(z | x), decoder Dec (the mean of a Gaussian decoder, in
model space), discriminator D with features phi (its last hidden layer):

    z ~ q(z | x),  x~ = Dec(z),  z_p ~ p(z),  x_p = Dec(z_p)
    L_prior = KL(q(z | x) || p(z))                       closed form
    L_like  = |phi(x) - phi(x~)|^2 / 2                   a Gaussian in D's features
    encoder:        L_prior + L_like
    decoder:        gamma L_like + g_loss(D(x~)) + g_loss(D(x_p))
    discriminator:  (d_loss(D(x), D(x~)) + d_loss(D(x), D(x_p))) / 2

(Larsen et al., Algorithm 1, with the GAN loss of `losses`; the decoder's
GAN terms are the non-saturating ones by default). Each network has its
own optimizer, all stepped on the same forward pass. Without a pixel
likelihood the model has no likelihood to report; it is judged by its
samples (FID on digits) and its reconstructions.

References:
  Larsen, Sonderby, Larochelle & Winther, "Autoencoding beyond pixels
  using a learned similarity metric", ICML 2016.
"""

import keras
import tensorflow as tf

from tfgen.models.gan.gan import GAN
from tfgen.models.vae import VAE
from tfgen.models.vae.bounds import sample_with_kl

__all__ = ["VAEGAN"]

_TRAIN_KEY = 0x6A21


@keras.saving.register_keras_serializable(package="tfgen")
class VAEGAN(GAN):
    """A VAE-GAN: `GAN`'s discriminator and losses, a tfgen `VAE`
    (Gaussian decoder) as encoder and generator.

    Args:
      event_shape, latent_dim, hidden_units, network, channels, loss,
        num_classes, condition_shape, dequantizer: as in `GAN` (the VAE's
        encoder and decoder have its networks).
      feature_weight: gamma, the weight of the feature-space reconstruction
        in the decoder's loss.
      ema_decay: averages the decoder's weights (used by `sample`).

    Example:

    ```python
    digits = tfgen.data.load_data("digits")
    model = VAEGAN([8, 8, 1], network="conv", dequantizer=digits.dequantizer)
    model.compile(decoder_optimizer="adam", encoder_optimizer="adam",
                  discriminator_optimizer="adam")
    model.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=100)
    model.reconstruct(x)
    ```
    """

    optimizer_names = ("decoder_optimizer", "encoder_optimizer", "discriminator_optimizer")

    def __init__(self, event_shape, feature_weight=1.0, **kwargs):
        if kwargs.get("discriminator_steps", 1) != 1 or kwargs.get("normalization"):
            raise ValueError(
                "VAEGAN steps each network once per batch and its decoder has no "
                f"normalization; received discriminator_steps="
                f"{kwargs.get('discriminator_steps')!r}, "
                f"normalization={kwargs.get('normalization')!r}.")
        if isinstance(feature_weight, bool) or not isinstance(
                feature_weight, (int, float)) or feature_weight < 0:
            raise ValueError(f"`feature_weight` must be a float >= 0; received "
                             f"{feature_weight!r}.")
        self.feature_weight = float(feature_weight)
        super().__init__(event_shape, **kwargs)
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.feature_tracker = keras.metrics.Mean(name="feature_reconstruction")

    def _networks(self):
        self.vae = VAE(self.event_shape, latent_dim=self.latent_dim,
                       hidden_units=self.hidden_units, network=self.network,
                       channels=self.channels, decoder_likelihood="gaussian",
                       num_classes=self.num_classes, condition_shape=self.condition_shape,
                       dequantizer=self.dequantizer, name="vae")
        _, discriminator = super()._networks()
        return self.vae.decoder, discriminator

    def _fake(self, z, condition, training=False):
        """Dec(z) (the Gaussian decoder's mean) in D's space: for discrete
        data through the inverse of the data's map to model space, not
        clipped to [0, 1] as data are (a clip would stop the gradient of
        every pixel the decoder pushes past black or white)."""
        mean = self.vae.decode(z, condition).mean()
        if self.dequantizer is None:
            return tf.cast(mean, self.compute_dtype)
        y = self.dequantizer.bijector_for(mean.dtype).inverse(mean)
        return tf.cast(2.0 * y - 1.0, self.compute_dtype)

    def optimizer_variables(self, name):
        network = {"decoder_optimizer": self.vae.decoder, "encoder_optimizer": self.vae.encoder,
                   "discriminator_optimizer": self.discriminator}[name]
        return network.trainable_variables

    @property
    def metrics(self):
        return [self.discriminator_loss_tracker, self.generator_loss_tracker, self.kl_tracker,
                self.feature_tracker]

    def _objectives(self, x, condition, seed):
        """Per-example encoder, decoder and discriminator losses, and the
        KL and feature reconstruction terms."""
        fold = tf.random.experimental.stateless_fold_in
        real = self._to_network(x)
        posterior = self.vae.posterior(x, condition)
        z, kl = sample_with_kl(posterior, self.vae.prior(), 1, fold(seed, 0))
        reconstructed = self._fake(tf.cast(z[0], self.compute_dtype), condition)
        prior_sample = self._fake(self.noise(tf.shape(x)[0], fold(seed, 1)), condition)
        phi_real = self.discriminator.feature_map(real)
        phi_rec = self.discriminator.feature_map(reconstructed)
        features = 0.5 * tf.reduce_sum(
            tf.square(tf.cast(phi_real, tf.float32) - tf.cast(phi_rec, tf.float32)), axis=-1)
        d = self.discriminator
        real_score, rec_score = d.score(phi_real, condition), d.score(phi_rec, condition)
        prior_score = d(prior_sample, condition)
        d_loss = 0.5 * (self.loss.discriminator_loss(real_score, rec_score)
                        + self.loss.discriminator_loss(real_score, prior_score))
        g_loss = self.loss.generator_loss(rec_score) + self.loss.generator_loss(prior_score)
        return (tf.cast(kl, tf.float32) + features, self.feature_weight * features + g_loss,
                d_loss, kl, features, g_loss)

    def train_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        seed = self.step_seed(_TRAIN_KEY, per_replica=False)
        with tf.GradientTape(persistent=True) as tape:
            enc_loss, dec_loss, d_loss, kl, features, g_loss = self._objectives(x, condition, seed)
            means = [self.global_mean(loss) for loss in (enc_loss, dec_loss, d_loss)]
        # All three steps use the gradients of this one forward pass.
        for mean, name in zip(means, ("encoder_optimizer", "decoder_optimizer",
                                      "discriminator_optimizer")):
            self.minimize(tape, mean, self.optimizer_variables(name), name)
        del tape
        self.update_ema()
        return self._update_metrics(d_loss, g_loss, kl, features)

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        _, _, d_loss, kl, features, g_loss = self._objectives(
            x, condition, tf.constant([2, _TRAIN_KEY], tf.int32))
        return self._update_metrics(d_loss, g_loss, kl, features)

    def _update_metrics(self, d_loss, g_loss, kl, features):
        for tracker, value in ((self.discriminator_loss_tracker, d_loss),
                               (self.generator_loss_tracker, g_loss), (self.kl_tracker, kl),
                               (self.feature_tracker, features)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def ema_targets(self):
        return self.vae.decoder.trainable_weights

    def encode(self, x, condition=None):
        """q(z | x)'s mean and standard deviation, `[batch, latent_dim]` each."""
        return self.vae.encode(x, condition)

    def reconstruct(self, x, condition=None):
        """Dec(E[z | x]) in model space."""
        mean, _ = self.encode(x, condition)
        return self.generate(mean, condition)

    def serving_endpoints(self):
        """`GAN`'s (`sample`, `generate`) and `encode(x)` -> `{"mean", "stddev"}`."""
        endpoints = super().serving_endpoints()
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")

        def encode(x, condition=None):
            mean, stddev = self.encode(x, condition)
            return {"mean": mean, "stddev": stddev}

        if not self.conditional:
            endpoints["encode"] = (encode, [x_spec])
        else:
            endpoints["encode"] = (encode, [x_spec, endpoints["sample"][1][1]])
        return endpoints

    def get_config(self):
        config = {**super().get_config(), "feature_weight": self.feature_weight}
        del config["discriminator_steps"], config["normalization"]
        return config
