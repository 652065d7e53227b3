"""`VQVAEPrior`: a PixelCNN over the code indices of a trained VQ-VAE,
sampled and decoded to examples (van den Oord et al. 2017, section 3.2).

    k(x) = the nearest codes' indices of the frozen VQ-VAE's encoder, [gh, gw] in 0..K-1
    the prior: a `PixelCNN` on k (K levels), trained by maximum likelihood
    sampling:  k ~ the prior's walk,  x = the decoder's mode at the codes e_k

With the VQ-VAE's one-hot posterior (entropy 0) the prior makes its bound
on the data's likelihood tight where the uniform prior was loose:

    -log p(x) <= -log p(x | e_k(x)) - log p_prior(k(x))

the VQ-VAE's `elbo` with the uniform prior's m log K replaced by the
learned prior's NLL; `tfgen eval` reports it as a bound (of the discrete
data for the VQ-VAE's discrete decoders) next to FID-digits.

Example:

```python
vqvae = VQVAE([8, 8, 1], dequantizer=digits.dequantizer, ema_codebook=True)
...  # train the VQ-VAE
model = VQVAEPrior([8, 8, 1], vqvae, prior={"channels": 64, "num_blocks": 4})
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=100, epochs=10)
model.sample(16, seed=0)
```

References:
  van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation
  Learning", NeurIPS 2017.
"""

import keras
import tensorflow as tf

from tfgen.data.preprocessing import Dequantizer
from tfgen.models.autoregressive.pixelcnn import PixelCNN
from tfgen.models.base import GenerativeModel
from tfgen.models.pretrained import (check_compatible, load_pretrained, part_config,
                                     with_averaged_weights)

__all__ = ["VQVAEPrior"]



@keras.saving.register_keras_serializable(package="tfgen")
class VQVAEPrior(GenerativeModel):
    """A PixelCNN prior over a frozen VQ-VAE's code indices (see the
    module docstring).

    Args:
      event_shape: the shape of one example (the VQ-VAE's).
      vqvae: the trained `tfgen.models.vae.VQVAE` (unconditional): the
        model, its `tfgen train` run directory or a `.keras` file (`--set
        vqvae=RUN_DIR`); one that averages its weights is used with its
        averages.
      prior: `PixelCNN` arguments (`channels`, `num_blocks`, `dropout`,
        ...); its event shape (the code grid), levels (the codes) and
        conditions are this model's.
      num_classes: a class-conditional prior (the VQ-VAE stays
        unconditional).
      dequantizer: the data's (the VQ-VAE's by default; they must agree).
      ema_decay, ema_warmup: of the prior's weights.
    """

    family = "autoregressive"
    likelihood = "bound"
    event_ranks = (3,)
    loss_metric = "prior_nll"
    loss_name = "the prior's negative log-likelihood of the codes"

    def __init__(self, event_shape, vqvae=None, prior=None, num_classes=None, dequantizer=None,
                 ema_decay=None, ema_warmup=False, **kwargs):
        from tfgen.models.vae import VQVAE  # the VAE family loads with its first use

        if vqvae is None:
            raise ValueError("`vqvae` is required: a trained VQVAE, its run directory or "
                             ".keras file (`tfgen train vqvae_prior --set vqvae=RUN_DIR`).")
        vqvae = load_pretrained(vqvae, "vqvae", VQVAE)
        check_compatible(vqvae, "VQ-VAE", event_shape, dequantizer)
        if dequantizer is None and vqvae.dequantizer is not None:
            dequantizer = vqvae.dequantizer.get_config()
        super().__init__(event_shape, num_classes=num_classes, dequantizer=dequantizer,
                         ema_decay=ema_decay, ema_warmup=ema_warmup, **kwargs)
        self.prior_config = part_config(prior, "prior", "VQ-VAE prior")
        self.vqvae = with_averaged_weights(vqvae)
        self.vqvae.trainable = False
        self.latent_shape = list(self.vqvae.latent_shape)
        self.prior = PixelCNN([*self.latent_shape, 1], dequantizer=Dequantizer(vqvae.num_codes),
                              num_classes=self.num_classes, name="prior", **self.prior_config)
        self.prior_nll_tracker = keras.metrics.Mean(name="prior_nll")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="elbo_bits_per_dim")
        self.built = True

    @property
    def likelihood_of_levels(self):
        """The VQ-VAE's: bounds of the discrete data for discrete decoders."""
        return self.vqvae.likelihood_of_levels

    # Codes.

    def encode_indices(self, x):
        """The VQ-VAE's code indices `[b, gh, gw]` of model-space `x`."""
        return tf.stop_gradient(self.vqvae.encode_indices(x))

    def prior_log_prob(self, indices, condition=None, training=False):
        """log p_prior(indices) in nats `[b]` of int indices `[b, gh, gw]`."""
        flat = tf.reshape(tf.cast(indices, tf.int32), [-1, self.prior.event_size])
        return self.prior.log_prob_of_levels(flat, training=training,
                                             condition=self._condition(condition))

    def nll_bounds(self, x, condition=None):
        """`{"elbo": -log p(x | e_k(x)) - log p_prior(k(x))}` per example,
        nats (see the module docstring)."""
        uniform = self.vqvae.nll_bounds(x)["elbo"] - self.vqvae.prior_nats
        return {"elbo": uniform - self.prior_log_prob(self.encode_indices(x), condition)}

    # Training.

    @property
    def metrics(self):
        return [self.prior_nll_tracker, self.bits_per_dim_tracker]

    def train_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        indices = self.encode_indices(x)
        with tf.GradientTape() as tape:
            nll = -self.prior_log_prob(indices, condition, training=True)
            loss = self.global_mean(nll)
        self.minimize(tape, loss, self.prior.trainable_weights)
        self.update_ema()
        self.prior_nll_tracker.update_state(nll)
        return {self.prior_nll_tracker.name: self.prior_nll_tracker.result()}

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.prior_nll_tracker.update_state(-self.prior_log_prob(self.encode_indices(x),
                                                                 condition))
        self.bits_per_dim_tracker.update_state(
            self.bits_per_dim(self.nll_bounds(x, condition)["elbo"], x))
        return {m.name: m.result() for m in self.metrics}

    # Sampling and serving.

    def draw(self, n, condition, seed):
        """`n` examples: the decoder's mode at indices the prior draws."""
        codes = self.prior.draw(n, condition, seed)
        indices = self.prior.dequantizer.to_levels(codes)[..., 0]
        return self.vqvae.decode_indices(indices)

    def serving_endpoints(self):
        """`sample(n, seed)` (with `condition`, int labels `[n]`, for a
        conditional prior) -> `{"samples"}` (and `"pixels"` for discrete
        data); `decode_indices(indices)` -> `{"x"}`; `prior_log_prob(indices)`
        -> `{"log_prob"}` (nats; with `condition` too)."""
        indices_spec = tf.TensorSpec([None, *self.latent_shape], tf.int32, name="indices")
        n_spec = tf.TensorSpec([], tf.int32, name="n")
        seed_spec = tf.TensorSpec([], tf.int32, name="seed")
        endpoints = {"decode_indices": (lambda indices: {"x": self.vqvae.decode_indices(indices)},
                                        [indices_spec])}
        if self.conditional:
            c_spec = self.condition_spec()
            endpoints["sample"] = (lambda n, condition, seed: self._serve_sample(
                n, condition, seed), [n_spec, c_spec, seed_spec])
            endpoints["prior_log_prob"] = (lambda indices, condition: {
                "log_prob": self.prior_log_prob(indices, condition)}, [indices_spec, c_spec])
        else:
            endpoints["sample"] = (lambda n, seed: self._serve_sample(n, None, seed),
                                   [n_spec, seed_spec])
            endpoints["prior_log_prob"] = (lambda indices: {
                "log_prob": self.prior_log_prob(indices)}, [indices_spec])
        return endpoints

    def get_config(self):
        return {**super().get_config(),
                "vqvae": keras.saving.serialize_keras_object(self.vqvae),
                "prior": self.prior_config}

