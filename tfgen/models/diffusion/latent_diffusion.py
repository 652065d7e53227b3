"""`LatentDiffusion`: a DDPM over the latents of a trained VAE.

    z = s (mu(x) + sigma(x) e),  e ~ N(0, I)   a draw of the frozen VAE's q(z | x)
    the prior: a `DDPM` on z, trained on its simple loss
    sampling:  z ~ the prior's walk (DDPM or DDIM),  x ~ p(x | z / s) or its mode

The autoencoder stays frozen: only the prior trains, and only its weights
are averaged (`ema_decay`). The scale s (`latent_scale`) brings the
latents to about unit variance, where the prior's noise schedule is set:
draws of a KL-regularized VAE's q(z | x) have about that already (their
per-dimension standard deviations are 0.95 to 1.13 for `tfgen train vae
--data digits`), so s defaults to 1 (Rombach et al. use 0.18215 for their
autoencoder, whose KL term is weak).

Discrete data are decoded to the decoder's most likely levels (the LDM
paper's deterministic decoding; on digits, FID-digits 11.4 against 23.1
for levels drawn from p(x | z), with the zoo's VAE and prior), continuous
data are drawn from p(x | z): a VAE on 2D points keeps much of their
spread in the decoder's noise (on two_moons, energy distance 0.131 to the
test points with the decoder's means, 0.0059 with its draws). The model
has no likelihood of its own, so `tfgen eval` reports sample quality.

References:
  Rombach, Blattmann, Lorenz, Esser & Ommer, "High-Resolution Image
  Synthesis with Latent Diffusion Models", CVPR 2022.
  Vahdat, Kreis & Kautz, "Score-based Generative Modeling in Latent Space",
  NeurIPS 2021.
"""

import keras
import tensorflow as tf

from tfgen.models.base import GenerativeModel
from tfgen.models.diffusion.ddpm import DDPM, sample_endpoint
from tfgen.models.distributed import replica_rows
from tfgen.models.pretrained import (check_compatible, load_pretrained, part_config,
                                     with_averaged_weights)

__all__ = ["LatentDiffusion"]

_TRAIN_KEY = 0x1D4
_DECODINGS = (None, "mode", "sample")


@keras.saving.register_keras_serializable(package="tfgen")
class LatentDiffusion(GenerativeModel):
    """A diffusion prior over a frozen VAE's latents, decoded to examples.

    Args:
      event_shape: the shape of one example (the autoencoder's).
      autoencoder: the trained, unconditional `tfgen.models.vae.VAE` with
        a Gaussian posterior: the model, its `tfgen train` run directory, or
        a `.keras` file (`--set autoencoder=RUN_DIR`). A VAE that averages
        its weights is used with its averages.
      prior: `DDPM` arguments of the latent model (its network, schedule,
        sampler, ...): e.g. `{"hidden_units": [256, 256], "sampler": "ddim"}`.
        Its event shape, conditions and averaging are this model's.
      latent_scale: s, the factor between q(z | x)'s draws and the prior's
        space.
      decoding: "mode" (the decoder's most likely value) or "sample" (a
        draw of p(x | z)); None: "mode" for discrete data, else "sample".
      num_classes, condition_shape: conditional models condition the
        prior (with its label dropout and guidance); the autoencoder stays
        unconditional.
      dequantizer: the data's (the autoencoder's by default; they must
        agree).
      ema_decay, ema_warmup: of the prior's weights (see
        `tfgen.models.GenerativeModel`).

    Example:

    ```python
    vae = VAE([8, 8, 1], latent_dim=8, network="conv", dequantizer=digits.dequantizer)
    ...  # train the VAE
    model = LatentDiffusion([8, 8, 1], vae, prior={"hidden_units": [64, 64]})
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=100, epochs=10)
    model.sample(16, seed=0, sampler="ddim", steps=50)
    ```

    References:
      Rombach et al., "High-Resolution Image Synthesis with Latent
      Diffusion Models", CVPR 2022.
    """

    family = "diffusion"
    likelihood = None

    def __init__(self, event_shape, autoencoder=None, prior=None, latent_scale=1.0,
                 decoding=None, num_classes=None, condition_shape=None, dequantizer=None,
                 ema_decay=0.999, ema_warmup=True, **kwargs):
        from tfgen.models.vae import VAE  # the VAE family loads with its first use

        if autoencoder is None:
            raise ValueError("`autoencoder` is required: a trained VAE, its run directory or "
                             ".keras file (`tfgen train ldm --set autoencoder=RUN_DIR`).")
        autoencoder = load_pretrained(autoencoder, "autoencoder", VAE)
        _check_autoencoder(autoencoder, event_shape, dequantizer)
        if dequantizer is None and autoencoder.dequantizer is not None:
            dequantizer = autoencoder.dequantizer.get_config()
        super().__init__(event_shape, num_classes=num_classes, condition_shape=condition_shape,
                         dequantizer=dequantizer, ema_decay=ema_decay, ema_warmup=ema_warmup,
                         **kwargs)
        if not (isinstance(latent_scale, (int, float)) and latent_scale > 0):
            raise ValueError(f"`latent_scale` must be a positive number; received "
                             f"{latent_scale!r}.")
        self.latent_scale = float(latent_scale)
        if decoding not in _DECODINGS:
            raise ValueError(f"`decoding` must be one of {_DECODINGS}; received {decoding!r}.")
        self.decoding = decoding
        # Whether samples are draws of p(x | z) rather than its mode.
        self._draws_decoder = (decoding or (
            "mode" if self.dequantizer is not None else "sample")) == "sample"
        self.prior_config = part_config(prior, "prior", "latent model")
        self.autoencoder = with_averaged_weights(autoencoder)
        self.autoencoder.trainable = False
        self.latent_dim = self.autoencoder.latent_dim
        self.prior = DDPM([self.latent_dim], num_classes=self.num_classes,
                          condition_shape=self.condition_shape, ema_decay=None,
                          name="prior", **self.prior_config)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    @property
    def sampling_options(self):
        """The prior's (see `DDPM.draw`)."""
        return self.prior.sampling_options

    # Latents.

    def to_latents(self, x, seed):
        """Draws of q(z | x) `[batch, latent_dim]` in the prior's space (times
        `latent_scale`), for model-space `x` and a stateless `[2]` seed; the
        noise is drawn over the global batch (`replica_rows`)."""
        mean, stddev = self.autoencoder.encode(x)
        noise = replica_rows(lambda total: tf.random.stateless_normal(
            [total, self.latent_dim], seed, dtype=mean.dtype), tf.shape(x)[0])
        return tf.stop_gradient(self.latent_scale * (mean + stddev * noise))

    def from_latents(self, z, seed=None):
        """Model-space examples decoded from prior-space latents `z`: the
        decoder's mode, or with `seed` (a stateless `[2]` seed) and
        `decoding` "sample", a draw of p(x | z / s)."""
        z = tf.cast(z, tf.float32) / self.latent_scale
        if seed is not None and self._draws_decoder:
            return self.autoencoder.decode_sample(z, seed)
        return self.autoencoder.decode_mean(z)

    # Training.

    @property
    def metrics(self):
        return [self.loss_tracker]

    def latent_losses(self, data, seed, training):
        """The prior's per-example simple losses `[b]` on draws of q(z | x) of a
        batch `data` (`x`, or `(x, labels)`)."""
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        fold = tf.random.experimental.stateless_fold_in
        z = self.to_latents(x, fold(seed, 0))
        return self.prior.example_losses(z, condition, fold(seed, 1), training=training)

    def train_step(self, data):
        seed = self.step_seed(_TRAIN_KEY, per_replica=False)
        with tf.GradientTape() as tape:
            losses = self.latent_losses(data, seed, training=True)
            loss = self.global_mean(losses)
        self.minimize(tape, loss, self.prior.trainable_weights)
        self.update_ema()
        self.loss_tracker.update_state(losses)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        self.loss_tracker.update_state(
            self.latent_losses(data, tf.constant([2, _TRAIN_KEY]), training=False))
        return {m.name: m.result() for m in self.metrics}

    # Sampling and serving.

    def draw(self, n, condition, seed, **options):
        """`n` examples decoded from the prior's samples; `options` are the
        prior's (`sampler`, `steps`, `eta`, `guidance_scale`, `progress`)."""
        seed = tf.constant([3, 0], tf.int32) if seed is None else seed
        fold = tf.random.experimental.stateless_fold_in
        return self.from_latents(self.prior.draw(n, condition, fold(seed, 0), **options),
                                 fold(seed, 1))

    def serving_endpoints(self):
        """`sample(n, steps, seed)` (with `condition` and `guidance_scale`
        for conditional models) -> `{"samples"}` (and `"pixels"` for
        discrete data); `decode(z)` -> `{"x"}`, the decoder's mode at
        prior-space latents."""
        z_spec = tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")
        return {"sample": sample_endpoint(self),
                "decode": (lambda z: {"x": self.from_latents(z)}, [z_spec])}

    def get_config(self):
        return {**super().get_config(),
                "autoencoder": keras.saving.serialize_keras_object(self.autoencoder),
                "prior": self.prior_config, "latent_scale": self.latent_scale,
                "decoding": self.decoding}


def _check_autoencoder(autoencoder, event_shape, dequantizer):
    """Raises unless `autoencoder` can encode this model's examples."""
    if autoencoder.conditional or autoencoder.posterior_flow is not None:
        raise ValueError(
            "`autoencoder` must be an unconditional VAE with a Gaussian posterior; received "
            f"one with num_classes={autoencoder.num_classes!r}, condition_shape="
            f"{autoencoder.condition_shape!r}, posterior_flow={autoencoder.posterior_flow!r}.")
    check_compatible(autoencoder, "autoencoder", event_shape, dequantizer)
