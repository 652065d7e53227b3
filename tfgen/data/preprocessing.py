"""Dequantization of discrete data, with the log-dets that bits/dim need.

Discrete data `x` in {0, ..., L-1}^D becomes continuous model input:

    y = (x + u) / L,  u ~ U[0, 1)^D          (uniform dequantization)
    z = logit(a + (1 - 2a) y)                (optional, a = logit_alpha)

`-log P(x) <= E_u[-log p_y(y)] + D log L` (Theis et al., 2016), and
`log p_y(y) = log p_z(z) + log|dz/dy|`, so the bits/dim of the discrete data
are `(NLL_z - sum log|dz/dy|) / (D ln 2) + log2(L)`.
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["Dequantizer"]


class Dequantizer:
    """Maps integer data to model space and reports discrete bits/dim.

    Args:
      levels: number of discrete levels `L` (17 for digits, 256 for bytes).
      logit_alpha: `None` for no logit; else `a` in `(0, 0.5)`.

    Example:

    ```python
    deq = Dequantizer(levels=17, logit_alpha=0.05)
    z = deq.to_model(x_int)                  # noisy, float32
    bpd = deq.bits_per_dim(nll_z, z)         # per example
    deq.to_levels(z)                         # == x_int
    ```
    """

    def __init__(self, levels, logit_alpha=None):
        if not isinstance(levels, int) or levels < 2:
            raise ValueError(f"`levels` must be an int >= 2; received {levels!r}.")
        if logit_alpha is not None and not 0.0 < logit_alpha < 0.5:
            raise ValueError(
                f"`logit_alpha` must be None or in (0, 0.5); received {logit_alpha!r}.")
        self.levels = levels
        self.logit_alpha = logit_alpha

    @property
    def bijector(self):
        """The fixed map y (in [0, 1)) -> model space z, in float32."""
        return self.bijector_for(tf.float32)

    def bijector_for(self, dtype):
        """The fixed map y -> z on `dtype` tensors (a float64 model's)."""
        if self.logit_alpha is None:
            return tfb.Identity()
        a = tf.constant(self.logit_alpha, dtype)
        return tfb.Chain([tfb.Invert(tfb.Sigmoid()), tfb.Shift(a), tfb.Scale(1.0 - 2.0 * a)])

    def to_model(self, x, noise=None):
        """Integer data `x` -> model-space float32, with fresh uniform noise
        unless `noise` (same shape, in [0, 1)) is given."""
        x = tf.cast(x, tf.float32)
        if noise is None:
            noise = tf.random.uniform(tf.shape(x), dtype=tf.float32)
        return self.bijector.forward((x + noise) / self.levels)

    def from_model(self, z):
        """Model space -> [0, 1] intensities (for pictures)."""
        z = tf.convert_to_tensor(z)
        return tf.clip_by_value(self.bijector_for(z.dtype).inverse(z), 0.0, 1.0)

    def to_levels(self, z):
        """Model space -> the discrete data's int32 levels `0 .. L-1`: the
        bin `floor(L y)` that `y` falls in (a sample of the discrete model
        whose bits/dim `bits_per_dim` bounds)."""
        levels = tf.floor(self.levels * self.from_model(z))
        return tf.cast(tf.minimum(levels, self.levels - 1.0), tf.int32)

    def to_signed_levels(self, z):
        """Model space -> float32 levels k scaled to [-1, 1], 2 k / (L - 1) - 1:
        the space diffusion and score models of discrete data work in."""
        levels = tf.cast(self.to_levels(z), tf.float32)
        return 2.0 * levels / (self.levels - 1) - 1.0

    def from_signed_levels(self, s):
        """[-1, 1] (`to_signed_levels`' space) -> model space: the nearest
        level's bin centre."""
        top = self.levels - 1
        return self.from_levels(
            tf.clip_by_value(tf.round((tf.cast(s, tf.float32) + 1.0) * top / 2.0), 0.0, top))

    def from_levels(self, levels):
        """Integer levels `0 .. L-1` -> model space: their bins' centres
        (`to_levels` gives the levels back)."""
        return self.bijector.forward((tf.cast(levels, tf.float32) + 0.5) / self.levels)

    def get_config(self):
        return {"levels": self.levels, "logit_alpha": self.logit_alpha}

    @classmethod
    def from_config(cls, config):
        """A `Dequantizer` from `get_config()`'s dict; also takes a
        `Dequantizer` or None (returned as they are)."""
        if config is None or isinstance(config, cls):
            return config
        if not isinstance(config, dict):
            raise TypeError(
                f"`dequantizer` must be a tfgen.data.Dequantizer, a dict of its arguments or "
                f"None; received {config!r}.")
        return cls(**config)

    def bits_per_dim(self, nll, z):
        """Bits/dim of the discrete data from model-space NLL (nats) and `z`
        (cast to the NLL's dtype)."""
        nll = tf.convert_to_tensor(nll)
        z = tf.cast(z, nll.dtype)
        event_ndims = z.shape.rank - 1
        size = math.prod(z.shape[1:])
        nll_y = nll + self.bijector_for(z.dtype).inverse_log_det_jacobian(
            z, event_ndims=event_ndims)
        return nll_y / (size * math.log(2.0)) + math.log2(self.levels)
