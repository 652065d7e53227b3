"""`VQVAE`: the vector-quantized VAE, on the family contract.

    z_e = E(x)                       a conv encoder's grid [gh, gw, D]
    k   = argmin_j ||z_e - e_j||^2   per position: m = gh * gw indices in [0, K)
    z_q = e_k                        straight-through in training
    p(x | z_q)                       a decoder likelihood (`likelihoods`):
                                     categorical over the levels of discrete data

trained on, per example,

    loss = -log p(x | z_q) + ||sg(z_e) - e_k||^2 + beta ||z_e - sg(e_k)||^2

(`quantizer`); with `ema_codebook=True` the codebook follows moving averages
of the encoder outputs assigned to each code instead of the middle term,
which is then only reported.

Likelihood: q(k | x) is the one-hot at the nearest codes. Under a uniform
prior p(k) = K^-m its KL is m log K, so

    -log p(x) <= -log p(x | z_q(x)) + m log K,

reported as the `elbo` bound (nats; of the discrete data, so bits/dim with
no dequantization, like the VAE's). The bound is loose: the uniform prior
stands in for a learned prior over the indices (the paper's autoregressive
prior, a later addition), which removes the part of m log K the indices'
distribution does not need. `sample` draws uniform indices for the same
reason, so its samples show the decoder's range more than the data.

Discrete data reach the model as the data source's model-space floats; it
reads back their exact levels (`dequantizer.to_levels`), encodes their
intensities `level / (L - 1)` and scores the levels. Continuous data get a
Gaussian decoder with a learned scale per value.

Training is deterministic (there is no noise to draw), so under
`tf.distribute` a step equals one device's on the same global batch, the
EMA codebook included.

References:
  van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation
    Learning", NeurIPS 2017.
  Razavi, van den Oord & Vinyals, "Generating Diverse High-Fidelity Images
    with VQ-VAE-2", NeurIPS 2019.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfgen.models.base import GenerativeModel
from tfgen.models.networks import ConditionedConvGridDecoder, ConditionedConvGridEncoder
from tfgen.models.vae.decoded_data import DecodedData
from tfgen.models.vae.quantizer import (VectorQuantizer, codebook_loss, commitment_loss,
                                        perplexity)

__all__ = ["VQVAE"]

_LIKELIHOODS = ("auto", "categorical", "logistic", "gaussian")
# Encoder outputs drawn for the codebook's first values, when a training
# batch has fewer latent vectors than codes: jittered copies (relative to
# the outputs' spread), so that no two codes tie.
_INIT_JITTER = 1e-3


@keras.saving.register_keras_serializable(package="tfgen")
class VQVAE(DecodedData, GenerativeModel):
    """A VQ-VAE with a convolutional encoder to a grid of vectors, a
    codebook, and a convolutional decoder (`ConditionedConvGridEncoder`,
    `VectorQuantizer`, `ConditionedConvGridDecoder`).

    When training starts (step 0 of `fit`), the codebook is set to encoder
    outputs of the first training batch (K of its latent vectors at random),
    so that no code starts far from every output and stays unused.

    Args:
      event_shape: `[h, w, c]`; h and w divisible by `2 ** len(channels)`.
      num_codes: K, the codebook's size.
      embedding_dim: D, the size of each code and latent vector.
      channels: the encoder's stride-2 conv blocks (the latent grid is
        `h / 2^L` by `w / 2^L`, `L = len(channels)`); the decoder mirrors
        them.
      beta: the commitment loss's weight.
      ema_codebook: update the codebook by moving averages of its
        assigned encoder outputs (decay `codebook_decay`, Laplace
        smoothing) instead of the codebook loss's gradient.
      codebook_decay: the moving averages' decay.
      decoder_likelihood: "auto" (categorical over the levels of discrete
        data, else a Gaussian with learned scale), "categorical",
        "logistic" (discretized logistic mixture; both for discrete data),
        "gaussian" (for continuous data).
      dequantizer, ema_decay: see `tfgen.models.GenerativeModel`.
      num_classes, condition_shape: not supported (no conditional form).

    Example:

    ```python
    digits = tfgen.data.load_data("digits")
    model = VQVAE([8, 8, 1], num_codes=64, dequantizer=digits.dequantizer)
    model.compile(optimizer="adam")
    model.fit(digits.dataset("train", 64), epochs=1)
    indices = model.encode_indices(x)      # int32 [b, 2, 2]
    model.decode_indices(indices)          # [b, 8, 8, 1], model space
    model.nll_bounds(x)                    # {"elbo": [b]}, nats
    ```

    References:
      van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation
        Learning", NeurIPS 2017.
    """

    family = "vae"
    likelihood = "bound"
    supports_conditions = False
    event_ranks = (3,)
    loss_metric = "loss"
    loss_name = "VQ-VAE loss"

    def __init__(self, event_shape, num_codes=64, embedding_dim=16, channels=(32, 64), beta=0.25,
                 ema_codebook=False, codebook_decay=0.99, decoder_likelihood="auto",
                 num_classes=None, condition_shape=None, dequantizer=None, ema_decay=None,
                 **kwargs):
        super().__init__(event_shape, num_classes=num_classes, condition_shape=condition_shape,
                         dequantizer=dequantizer, ema_decay=ema_decay, **kwargs)
        if len(self.event_shape) != 3:
            raise ValueError(f"`event_shape` must be an image shape [h, w, c]; received "
                             f"{self.event_shape}.")
        if not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"`beta` must be a float >= 0; received {beta!r}.")
        if not isinstance(codebook_decay, (int, float)) or not 0.0 <= codebook_decay < 1.0:
            raise ValueError(f"`codebook_decay` must be a float in [0, 1); received "
                             f"{codebook_decay!r}.")
        self.beta, self.ema_codebook = float(beta), bool(ema_codebook)
        self.decoder_likelihood = decoder_likelihood
        self.decoder_distribution = self._likelihood(_LIKELIHOODS)
        if decoder_likelihood == "gaussian" and self.dequantizer is not None:
            raise ValueError("`decoder_likelihood` 'gaussian' is for continuous data; the data "
                             "are discrete (they have a dequantizer).")
        self.quantizer = VectorQuantizer(num_codes, embedding_dim, ema=self.ema_codebook,
                                         decay=codebook_decay, name="quantizer",
                                         dtype=self.variable_dtype)  # full precision
        self.encoder = ConditionedConvGridEncoder(self.event_shape, 0, channels, embedding_dim,
                                                  name="encoder")
        self.channels = self.encoder.channels
        out_channels = self.event_shape[-1] * self.decoder_distribution.params_per_channel
        self.decoder = ConditionedConvGridDecoder(embedding_dim, 0, self.channels, out_channels,
                                                  name="decoder")
        factor = 2 ** len(self.channels)
        self.latent_shape = [self.event_shape[0] // factor, self.event_shape[1] // factor]
        # KL(q || uniform prior) per example: m log K.
        self.prior_nats = math.prod(self.latent_shape) * math.log(num_codes)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.codebook_tracker = keras.metrics.Mean(name="codebook_loss")
        self.commitment_tracker = keras.metrics.Mean(name="commitment_loss")
        self.perplexity_tracker = keras.metrics.Mean(name="perplexity")
        self.codes_used_tracker = keras.metrics.Mean(name="codes_used")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="elbo_bits_per_dim")
        self.built = True

    @property
    def num_codes(self):
        return self.quantizer.num_codes

    @property
    def embedding_dim(self):
        return self.quantizer.embedding_dim

    # The model's parts.

    def _encode(self, x):
        """Encoder outputs z_e `[b, gh, gw, D]` of model-space examples `x`
        (discrete data as intensities `level / (L - 1)`)."""
        # Full precision from here: distances, losses and densities.
        return tf.cast(self.encoder(self._intensities(x)), self.variable_dtype)

    def decode(self, z_q):
        """p(x | z_q) for code grids `z_q` `[b, gh, gw, D]`: a distribution
        over examples (levels of discrete data)."""
        params = tf.cast(self.decoder(z_q), self.variable_dtype)  # densities at full precision
        return self.decoder_distribution.distribution(params, event_rank=3)

    def _terms(self, x):
        """Per example: log p(x | z_q) and the codebook and commitment
        losses (unweighted), with z_e and the indices."""
        z_e = self._encode(x)
        z_q, codes, indices = self.quantizer(z_e)
        reconstruction = self.decode(z_q).log_prob(self._data(x))
        return reconstruction, codebook_loss(z_e, codes), commitment_loss(z_e, codes), z_e, indices

    # Codes.

    def encode_indices(self, x):
        """The nearest codes' indices of examples `x` (model space), int32
        `[b, gh, gw]`."""
        return self.quantizer.assign(self._encode(x))

    def decode_indices(self, indices):
        """The decoder's mode (discrete: the most likely level) for code
        indices `[b, gh, gw]`, in model space."""
        indices = tf.convert_to_tensor(indices)
        if not indices.dtype.is_integer or indices.shape.rank != 3:
            raise ValueError(f"`indices` must be ints of shape [batch, {self.latent_shape[0]}, "
                             f"{self.latent_shape[1]}]; received {indices.dtype.name} of shape "
                             f"{indices.shape.as_list()}.")
        z_q = tf.cast(self.quantizer.lookup(indices), self.compute_dtype)
        return self._to_model_space(self.decode(z_q).distribution.mode())

    # Bounds.

    def nll_bounds(self, x, condition=None):
        """`{"elbo": -log p(x | z_q) + m log K}` per example, nats: the
        uniform-prior bound on -log p(x) (of the discrete data, for discrete
        likelihoods); loose until a learned prior replaces the uniform one."""
        self._condition(condition)
        reconstruction = self._terms(x)[0]
        return {"elbo": tf.cast(self.prior_nats, reconstruction.dtype) - reconstruction}

    def evaluation_metrics(self, source, split="test"):
        """Over `split`: the mean reconstruction NLL -log p(x | z_q)
        (`reconstruction_nats`, `reconstruction_bits_per_dim`), and the
        codebook's use by the split's latent vectors (`codebook_perplexity`,
        `codes_used` of `num_codes`)."""
        nats, bits, count = 0.0, 0.0, 0
        counts = np.zeros([self.num_codes])
        for x in source.dataset(split, 512, shuffle=False):
            reconstruction, _, _, _, indices = self._terms(x)
            nats -= float(np.sum(reconstruction, dtype=np.float64))
            bits += float(np.sum(self.bits_per_dim(-reconstruction, x), dtype=np.float64))
            counts += np.bincount(np.ravel(indices), minlength=self.num_codes)
            count += int(x.shape[0])
        return {"reconstruction_nats": nats / count,
                "reconstruction_bits_per_dim": bits / count,
                "codebook_perplexity": float(perplexity(counts)),
                "codes_used": int(np.count_nonzero(counts)), "num_codes": self.num_codes}

    # Training.

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.codebook_tracker,
                self.commitment_tracker, self.perplexity_tracker, self.codes_used_tracker,
                self.bits_per_dim_tracker]

    def prepare_training(self, x, y, batch_size):
        """At step 0, sets the codebook to K latent vectors of the first
        training batch (of an array or a `tf.data.Dataset`; other inputs
        keep the random codebook), drawn without replacement when the batch
        has enough of them, else with replacement and jittered."""
        if not getattr(self, "compiled", False) or int(self.optimizer.iterations.numpy()):
            return
        if isinstance(x, tf.data.Dataset):
            batch = keras.utils.unpack_x_y_sample_weight(next(iter(x)))[0]
        elif isinstance(x, np.ndarray):
            batch = x[:batch_size or 32]
        else:
            return
        z = tf.reshape(self._encode(batch), [-1, self.embedding_dim]).numpy()
        rng = np.random.default_rng(0)
        few = len(z) < self.num_codes
        codes = z[rng.choice(len(z), self.num_codes, replace=few)]
        if few:
            codes = codes + _INIT_JITTER * z.std() * rng.normal(size=codes.shape)
        self.quantizer.set_codebook(codes)

    def _loss(self, reconstruction, codebook, commitment):
        """Per example: -log p(x | z_q) + beta commitment, + the codebook
        loss unless moving averages train the codebook."""
        loss = self.beta * commitment - reconstruction
        return loss if self.ema_codebook else loss + codebook

    def _update_metrics(self, x, loss, reconstruction, codebook, commitment, indices):
        counts = self.quantizer.usage(indices)
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.codebook_tracker.update_state(codebook)
        self.commitment_tracker.update_state(self.beta * commitment)
        self.perplexity_tracker.update_state(perplexity(counts))
        self.codes_used_tracker.update_state(tf.math.count_nonzero(counts, dtype=counts.dtype))
        self.bits_per_dim_tracker.update_state(self.bits_per_dim(self.prior_nats - reconstruction, x))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        self._condition(condition)
        with tf.GradientTape() as tape:
            reconstruction, codebook, commitment, z_e, indices = self._terms(x)
            loss = self._loss(reconstruction, codebook, commitment)
            mean_loss = self.global_mean(loss)
        self.minimize(tape, mean_loss, self.trainable_weights)
        if self.ema_codebook:
            self.quantizer.ema_update(z_e, indices)
        self.update_ema()
        return self._update_metrics(x, loss, reconstruction, codebook, commitment, indices)

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        self._condition(condition)
        reconstruction, codebook, commitment, _, indices = self._terms(x)
        return self._update_metrics(x, self._loss(reconstruction, codebook, commitment),
                                    reconstruction, codebook, commitment, indices)

    # Sampling and serving.

    def draw(self, n, condition, seed):
        """Decoder samples at uniformly random indices (a placeholder for a
        learned prior over them)."""
        seed = tf.constant([3, 0], tf.int32) if seed is None else seed
        indices = tf.random.stateless_uniform(
            tf.stack([tf.cast(n, tf.int32), *self.latent_shape]),
            seed=tf.random.experimental.stateless_fold_in(seed, 0), minval=0,
            maxval=self.num_codes, dtype=tf.int32)
        z_q = tf.cast(self.quantizer.lookup(indices), self.compute_dtype)
        values = self.decode(z_q).sample(seed=tf.random.experimental.stateless_fold_in(seed, 1))
        return self._to_model_space(values)

    def serving_endpoints(self):
        """`encode_indices(x)` -> `{"indices"}` (int32 `[b, gh, gw]`),
        `decode_indices(indices)` -> `{"x"}` (the decoder's mode, model
        space), `sample(n, seed)` -> `{"samples"}` (and `"pixels"`, the
        levels, for discrete data)."""
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        indices_spec = tf.TensorSpec([None, *self.latent_shape], tf.int32, name="indices")
        n_spec = tf.TensorSpec([], tf.int32, name="n")
        seed_spec = tf.TensorSpec([], tf.int32, name="seed")

        return {"encode_indices": (lambda x: {"indices": self.encode_indices(x)}, [x_spec]),
                "decode_indices": (lambda indices: {"x": self.decode_indices(indices)},
                                   [indices_spec]),
                "sample": (lambda n, seed: self._serve_sample(n, None, seed), [n_spec, seed_spec])}

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes,
                "embedding_dim": self.embedding_dim, "channels": self.channels,
                "beta": self.beta, "ema_codebook": self.ema_codebook,
                "codebook_decay": self.quantizer.decay,
                "decoder_likelihood": self.decoder_likelihood}
