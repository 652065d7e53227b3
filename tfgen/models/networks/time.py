"""Timestep inputs of denoising networks: the sinusoidal embedding, and an
MLP denoiser for vectors that sees it (and the condition) at every layer.

    e(t)_k       = sin(t w_k),  e(t)_{k + d/2} = cos(t w_k),
    w_k          = 10000^(-k / (d/2)),  k = 0 .. d/2 - 1

(Vaswani et al. 2017's positions, as DDPM embeds its timesteps).

References:
  Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
  Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
"""

import math

import keras

from tfgen._validation import check_hidden_units, check_positive_int
from tfgen.models.networks.mlp import ConditionedMLP

__all__ = ["TimestepMLP", "timestep_embedding"]


def timestep_embedding(t, dim, dtype="float32"):
    """The sinusoidal embedding `[b, dim]` of timesteps `t` `[b]` (ints or
    floats; `dim` even), computed in float32 and cast to `dtype`."""
    half = dim // 2
    frequencies = keras.ops.exp(-math.log(10000.0) * keras.ops.arange(half, dtype="float32") / half)
    angles = keras.ops.cast(t, "float32")[:, None] * frequencies[None, :]
    embedding = keras.ops.concatenate([keras.ops.sin(angles), keras.ops.cos(angles)], axis=-1)
    return keras.ops.cast(embedding, dtype)


@keras.saving.register_keras_serializable(package="tfgen")
class TimestepMLP(keras.layers.Layer):
    """A denoiser for vectors: `(x [b, d], t [b], c [b, k]) -> [b, d]`, a
    `ConditionedMLP` whose every layer sees [e(t), c].

    Args:
      input_size: d.
      condition_size: k (0: unconditional).
      hidden_units: the hidden widths.
      embedding_dim: the width of e(t) (even).
      activation: of the hidden layers (SiLU, as DDPM's networks).

    Example:

    ```python
    net = TimestepMLP(2, 0, [128, 128, 128])
    net(x_t, t)   # [batch, 2]
    ```
    """

    def __init__(self, input_size, condition_size, hidden_units, embedding_dim=32,
                 activation="silu", **kwargs):
        super().__init__(**kwargs)
        self.input_size = check_positive_int("input_size", input_size)
        self.condition_size = int(condition_size)
        self.hidden_units = check_hidden_units(hidden_units)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        if self.embedding_dim % 2:
            raise ValueError(f"`embedding_dim` must be even; received {embedding_dim!r}.")
        self.activation = activation
        self.mlp = ConditionedMLP(self.input_size, self.embedding_dim + self.condition_size,
                                  self.hidden_units, self.input_size, activation=activation)
        self.built = True

    def call(self, x, t, condition=None):
        features = timestep_embedding(t, self.embedding_dim, x.dtype)
        if self.condition_size:
            features = keras.ops.concatenate([features, keras.ops.cast(condition, x.dtype)], -1)
        return self.mlp(x, features)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size,
                "condition_size": self.condition_size, "hidden_units": self.hidden_units,
                "embedding_dim": self.embedding_dim, "activation": self.activation}
