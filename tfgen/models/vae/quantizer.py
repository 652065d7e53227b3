"""Vector quantization with a learned codebook: the VQ-VAE's bottleneck.

A codebook of K vectors e_1 .. e_K in R^D; every D-dim vector z of an
encoder's output grid is replaced by its nearest code:

    k(z) = argmin_j ||z - e_j||^2
    z_q  = z_e + sg(e_k - z_e)        straight-through: the value is e_k, the
                                      gradient w.r.t. z_q passes to z_e as is

with `sg` the stop-gradient. The losses, squared norms summed over an
example's positions and dimensions:

    codebook loss     ||sg(z_e) - e_k||^2     moves the codes to the outputs
    commitment loss   ||z_e - sg(e_k)||^2     keeps the outputs near their codes
                                              (weighted by beta in the VQ-VAE)

Or the codebook follows exponential moving averages of the encoder outputs
assigned to each code (`ema=True`, decay d, with Laplace smoothing eps):

    N_j <- d N_j + (1 - d) n_j            n_j: vectors assigned to j in the batch
    m_j <- d m_j + (1 - d) sum_{i: k_i = j} z_i
    N'_j = (N_j + eps) / (n + K eps) * n,     n = sum_j N_j
    e_j  = m_j / N'_j

`n_j` and the sums are over the global batch (summed across replicas under
`tf.distribute`), so every replica applies the single-device update. The
statistics start at N_j = 1, m_j = e_j: the codebook as initialized.

Codebook usage: the perplexity of the average one-hot assignment,

    perplexity = exp(-sum_j p_j log p_j),    p_j = n_j / sum_j n_j,

K when all codes are used equally, 1 when a single code is.

Example:

```python
quantizer = VectorQuantizer(num_codes=64, embedding_dim=16)
z_q, codes, indices = quantizer(z_e)           # z_e: [b, 2, 2, 16]
loss = codebook_loss(z_e, codes) + 0.25 * commitment_loss(z_e, codes)   # [b]
perplexity(quantizer.usage(indices))
```

References:
  van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation
    Learning", NeurIPS 2017 (sec. 3.2, appendix A.1 for the EMA codebook).
  Razavi, van den Oord & Vinyals, "Generating Diverse High-Fidelity Images
    with VQ-VAE-2", NeurIPS 2019.
"""

import keras
import tensorflow as tf

from tfgen.models.base import _sum_over_replicas

__all__ = ["VectorQuantizer", "codebook_loss", "commitment_loss", "perplexity",
           "straight_through"]


def straight_through(z_e, codes):
    """`z_e + sg(codes - z_e)`: the value of `codes`, the gradient of `z_e`."""
    return z_e + tf.stop_gradient(codes - z_e)


def _squared_norm(d):
    """Per example: the sum of squares over all axes but the first."""
    return tf.reduce_sum(tf.square(d), axis=tf.range(1, tf.rank(d)))


def codebook_loss(z_e, codes):
    """`||sg(z_e) - codes||^2` per example `[batch]`: its gradient moves
    the codes only."""
    return _squared_norm(tf.stop_gradient(z_e) - codes)


def commitment_loss(z_e, codes):
    """`||z_e - sg(codes)||^2` per example `[batch]`: its gradient moves the
    encoder outputs only."""
    return _squared_norm(z_e - tf.stop_gradient(codes))


def perplexity(counts):
    """`exp(H(p))` of the code usage `p = counts / sum(counts)` (counts
    `[K]`; unused codes add nothing to the entropy)."""
    counts = tf.convert_to_tensor(counts)
    p = counts / tf.reduce_sum(counts)
    return tf.exp(-tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(p), p)))


@keras.saving.register_keras_serializable(package="tfgen")
class VectorQuantizer(keras.layers.Layer):
    """Nearest-code quantization of the last axis against a codebook of
    `num_codes` vectors of size `embedding_dim`.

    Args:
      num_codes: K, the size of the codebook.
      embedding_dim: D, the size of each code (the last axis of the input).
      ema: update the codebook by moving averages (`ema_update`) instead of
        the gradient of the codebook loss; the codebook is then not
        trainable, and it and its statistics (`ema_counts` `[K]`,
        `ema_sums` `[K, D]`) are non-trainable weights.
      decay: the moving averages' decay d.
      epsilon: the Laplace smoothing eps of the counts.

    Example:

    ```python
    quantizer = VectorQuantizer(64, 16, ema=True)
    z_q, codes, indices = quantizer(z_e)   # [b, 2, 2, 16], [b, 2, 2, 16], int32 [b, 2, 2]
    quantizer.ema_update(z_e, indices)     # in a training step
    ```
    """

    def __init__(self, num_codes, embedding_dim, ema=False, decay=0.99, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("num_codes", num_codes), ("embedding_dim", embedding_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; received {value!r}.")
        if not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"`decay` must be a float in [0, 1); received {decay!r}.")
        if not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(f"`epsilon` must be a positive float; received {epsilon!r}.")
        self.num_codes, self.embedding_dim = num_codes, embedding_dim
        self.ema, self.decay, self.epsilon = bool(ema), float(decay), float(epsilon)
        # The EMA state is assigned inside replica contexts with the values
        # every replica agrees on (statistics of the global batch).
        aggregation = "mean" if self.ema else "none"
        self.codebook = self.add_weight(
            shape=(num_codes, embedding_dim), trainable=not self.ema, aggregation=aggregation,
            initializer=keras.initializers.RandomUniform(-1.0 / num_codes, 1.0 / num_codes),
            name="codebook")
        if self.ema:
            self.ema_counts = self.add_weight(shape=(num_codes,), initializer="ones",
                                              trainable=False, aggregation="mean",
                                              name="ema_counts")
            self.ema_sums = self.add_weight(
                shape=(num_codes, embedding_dim), trainable=False, aggregation="mean",
                initializer=keras.initializers.Constant(self.codebook.numpy()), name="ema_sums")
        self.built = True

    def distances(self, z):
        """Squared distances `[..., K]` of vectors `z` `[..., D]` to every code."""
        z = tf.cast(z, self.codebook.dtype)
        codebook = tf.convert_to_tensor(self.codebook)
        return (tf.reduce_sum(tf.square(z), axis=-1, keepdims=True)
                - 2.0 * tf.einsum("...d,kd->...k", z, codebook)
                + tf.reduce_sum(tf.square(codebook), axis=-1))

    def assign(self, z):
        """The index of the nearest code of each vector, int32 `[...]`."""
        return tf.argmin(self.distances(z), axis=-1, output_type=tf.int32)

    def lookup(self, indices):
        """The codes `[..., D]` of int `indices` `[...]`."""
        return tf.gather(tf.convert_to_tensor(self.codebook), indices)

    def call(self, z_e):
        """`(z_q, codes, indices)` of encoder outputs `z_e` `[..., D]`: the
        straight-through `z_q` and the nearest `codes` (in `z_e`'s dtype),
        and their int32 `indices` `[...]`."""
        indices = self.assign(z_e)
        codes = tf.cast(self.lookup(indices), z_e.dtype)
        return straight_through(z_e, codes), codes, indices

    def usage(self, indices):
        """How many vectors of the global batch each code was assigned,
        float `[K]` (summed across replicas)."""
        one_hot = tf.one_hot(tf.reshape(indices, [-1]), self.num_codes,
                             dtype=self.codebook.dtype)
        return _sum_over_replicas(tf.reduce_sum(one_hot, axis=0))

    def ema_update(self, z_e, indices):
        """One moving-average step of the counts, sums and codebook from the
        encoder outputs `z_e` `[..., D]` and their `indices` `[...]` (the
        global batch's, under `tf.distribute`); see the module docstring."""
        if not self.ema:
            raise ValueError("`ema_update` needs a quantizer built with ema=True; this one has "
                             "ema=False.")
        dtype = self.codebook.dtype
        flat = tf.reshape(tf.cast(z_e, dtype), [-1, self.embedding_dim])
        one_hot = tf.one_hot(tf.reshape(indices, [-1]), self.num_codes, dtype=dtype)
        # Counts and sums in one all-reduce: [K, 1 + D].
        stats = _sum_over_replicas(tf.matmul(
            one_hot, tf.concat([tf.ones_like(flat[:, :1]), flat], axis=-1), transpose_a=True))
        d = self.decay
        counts = d * self.ema_counts + (1.0 - d) * stats[:, 0]
        sums = d * self.ema_sums + (1.0 - d) * stats[:, 1:]
        total = tf.reduce_sum(counts)
        smoothed = (counts + self.epsilon) / (total + self.num_codes * self.epsilon) * total
        self.ema_counts.assign(counts)
        self.ema_sums.assign(sums)
        self.codebook.assign(sums / smoothed[:, None])

    def set_codebook(self, codes):
        """Sets the codes `[K, D]`, and restarts the moving averages from
        them (N_j = 1, m_j = e_j)."""
        codes = tf.convert_to_tensor(codes, self.codebook.dtype)
        self.codebook.assign(codes)
        if self.ema:
            self.ema_counts.assign(tf.ones([self.num_codes], self.codebook.dtype))
            self.ema_sums.assign(codes)

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes,
                "embedding_dim": self.embedding_dim, "ema": self.ema, "decay": self.decay,
                "epsilon": self.epsilon}
