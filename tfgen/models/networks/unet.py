"""`UNet`: the denoising U-Net of DDPM, for images `[b, h, w, c]`.

    emb = MLP(e(t)) + E c                       time (and class) embedding
    h   = conv_in(x)
    down: per level i, `layers_per_block` residual blocks of channels[i]
          (self-attention after each at the `attention_resolutions`), then
          a stride-2 conv (not after the last level); every output saved
    mid:  residual block, self-attention, residual block
    up:   per level, reversed, `layers_per_block + 1` residual blocks on
          [h, saved output] (attention as on the way down), then x2
          nearest-neighbour upsampling and a conv (not after the last)
    out = conv_out(silu(GroupNorm(h)))

    residual block: h = conv(silu(GN(x))) + Dense(silu(emb))
                    out = skip(x) + conv(dropout(silu(GN(h))))

The layout of diffusers' `UNet2DModel` (DownBlock2D / AttnDownBlock2D),
so the two can be built at the same size for `bench/`; upsampling is
`Upsample2D`, whose gradient compiles under XLA. Every kernel and bias
starts as PyTorch's layers do (and so as diffusers' U-Nets train):

    w, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))

where Keras would start from Glorot kernels and zero biases; on digits
this init gave FID-digits 7.8 where Keras' gave 11.4 (README).

References:
  Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
  Ronneberger, Fischer & Brox, "U-Net", MICCAI 2015.
  Wu & He, "Group Normalization", ECCV 2018.
"""

import keras

from tfgen._validation import check_hidden_units, check_positive_int
from tfgen.models.networks.conv import Upsample2D
from tfgen.models.networks.time import timestep_embedding

__all__ = ["UNet"]


def _built(layer, shape):
    layer.build(shape)
    return layer


class GroupNorm(keras.layers.GroupNormalization):
    """Keras' group normalization of NHWC images, computed from
    per-channel moments (float32) and applied as one scale and shift per
    (example, channel):

        m_g = mean_{c in g} E_hw[x_c],  v_g = mean_{c in g} E_hw[x_c^2] - m_g^2
        y_c = x_c * s_c + (beta_c - m_g s_c),  s_c = gamma_c / sqrt(v_g + eps)

    The same weights and output as its parent; without XLA its graph is
    about three times faster (a 64-channel layer at batch 1000: 4.4 ms
    where Keras' takes 16.5 ms), where it costs most (bfloat16 sampling).
    """

    def call(self, x):
        channels = x.shape[-1]
        grouped = [-1, self.groups, channels // self.groups]
        x32 = keras.ops.cast(x, "float32")
        mean = keras.ops.mean(keras.ops.reshape(keras.ops.mean(x32, axis=[1, 2]), grouped),
                              axis=-1, keepdims=True)
        square = keras.ops.mean(keras.ops.reshape(
            keras.ops.mean(keras.ops.square(x32), axis=[1, 2]), grouped), axis=-1, keepdims=True)
        variance = keras.ops.maximum(square - keras.ops.square(mean), 0.0)
        scale = keras.ops.rsqrt(variance + self.epsilon) * keras.ops.reshape(
            keras.ops.cast(self.gamma, "float32"), grouped[1:])
        shift = keras.ops.reshape(keras.ops.cast(self.beta, "float32"), grouped[1:]) - mean * scale
        scale = keras.ops.cast(keras.ops.reshape(scale, [-1, 1, 1, channels]), self.compute_dtype)
        shift = keras.ops.cast(keras.ops.reshape(shift, [-1, 1, 1, channels]), self.compute_dtype)
        return keras.ops.cast(x, self.compute_dtype) * scale + shift


def _norm(groups, channels):
    """A built `GroupNorm` of NHWC images of `channels` channels."""
    return _built(GroupNorm(groups, epsilon=1e-5), (None, None, None, channels))


def _uniform(fan_in):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for the
    weights and biases of `Linear` and `Conv2d`."""
    bound = fan_in ** -0.5
    return keras.initializers.RandomUniform(-bound, bound)


def _conv(in_channels, channels, kernel=3, strides=1):
    """A built `kernel x kernel` Conv2D ("same" padding) at PyTorch's init."""
    fan_in = in_channels * kernel * kernel
    return _built(keras.layers.Conv2D(channels, kernel, strides=strides, padding="same",
                                      kernel_initializer=_uniform(fan_in),
                                      bias_initializer=_uniform(fan_in)),
                  (None, None, None, in_channels))


def _dense(in_features, units, use_bias=True):
    """A built Dense layer at PyTorch's init."""
    return _built(keras.layers.Dense(units, use_bias=use_bias,
                                     kernel_initializer=_uniform(in_features),
                                     bias_initializer=_uniform(in_features)),
                  (None, in_features))


class _ResidualBlock(keras.layers.Layer):
    """GN-SiLU-conv, plus the embedding, GN-SiLU-dropout-conv, plus a skip
    (a 1x1 conv when the channels change)."""

    def __init__(self, in_channels, channels, embedding_dim, groups, dropout, **kwargs):
        super().__init__(**kwargs)
        self.norm1 = _norm(groups, in_channels)
        self.conv1 = _conv(in_channels, channels)
        self.embedding = _dense(embedding_dim, channels)
        self.norm2 = _norm(groups, channels)
        self.dropout = keras.layers.Dropout(dropout)
        self.conv2 = _conv(channels, channels)
        self.skip = None
        if in_channels != channels:
            self.skip = _conv(in_channels, channels, kernel=1)
        self.built = True

    def call(self, x, embedding, training=False):
        h = self.conv1(keras.ops.silu(self.norm1(x)))
        h = h + self.embedding(keras.ops.silu(embedding))[:, None, None, :]
        h = self.conv2(self.dropout(keras.ops.silu(self.norm2(h)), training=training))
        return (x if self.skip is None else self.skip(x)) + h


class _SelfAttention(keras.layers.Layer):
    """x + Attention(GN(x)) over the h * w positions, heads of
    `head_dim` channels."""

    def __init__(self, channels, groups, head_dim, **kwargs):
        super().__init__(**kwargs)
        self.norm = _norm(groups, channels)
        heads = max(1, channels // head_dim)
        # Every projection (q, k, v: C -> heads * head_dim = C; out: C -> C)
        # has fan_in C, as diffusers' Linear layers.
        self.attention = keras.layers.MultiHeadAttention(
            heads, channels // heads, kernel_initializer=_uniform(channels),
            bias_initializer=_uniform(channels))
        self.attention.build((None, None, channels), (None, None, channels))
        self.built = True

    def call(self, x):
        shape = keras.ops.shape(x)
        h = keras.ops.reshape(self.norm(x), [shape[0], -1, shape[-1]])
        return x + keras.ops.reshape(self.attention(h, h), shape)


@keras.saving.register_keras_serializable(package="tfgen")
class UNet(keras.layers.Layer):
    """A noise-prediction U-Net: `(x [b, h, w, c], t [b], cond [b, k]) ->
    [b, h, w, c]`.

    Args:
      event_shape: `[h, w, c]`; h and w divisible by `2 ** (len(channels) - 1)`.
      condition_size: k, the condition's width (one-hot labels; 0:
        unconditional). Its embedding is added to the time embedding, so an
        all-zero condition is the "no label" of classifier-free guidance.
      channels: each level's channels (diffusers' `block_out_channels`).
      layers_per_block: residual blocks per level on the way down.
      attention_resolutions: the spatial sizes (min(h, w) at a level) that
        get self-attention.
      groups: of the group normalizations (divides every `channels`).
      head_dim: the channels of one attention head.
      dropout: in the residual blocks.

    Example:

    ```python
    net = UNet([8, 8, 1], 0, channels=[32, 64], attention_resolutions=[4])
    net(x_t, t)   # [batch, 8, 8, 1]
    ```
    """

    def __init__(self, event_shape, condition_size=0, channels=(32, 64), layers_per_block=1,
                 attention_resolutions=(4,), groups=32, head_dim=8, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = [int(n) for n in event_shape]
        self.condition_size = int(condition_size)
        self.channels = check_hidden_units(channels, name="channels")
        self.layers_per_block = check_positive_int("layers_per_block", layers_per_block)
        self.attention_resolutions = [int(r) for r in attention_resolutions]
        self.groups = check_positive_int("groups", groups)
        self.head_dim = check_positive_int("head_dim", head_dim)
        if not 0 <= dropout < 1:
            raise ValueError(f"`dropout` must be in [0, 1); received {dropout!r}.")
        self.dropout = float(dropout)
        self._check_shapes()
        self._make_layers()
        self.built = True

    def _check_shapes(self):
        if len(self.event_shape) != 3:
            raise ValueError(f"`event_shape` must be [height, width, channels]; received "
                             f"{self.event_shape!r}.")
        factor = 2 ** (len(self.channels) - 1)
        if self.event_shape[0] % factor or self.event_shape[1] % factor:
            raise ValueError(f"`event_shape` {self.event_shape} must have height and width "
                             f"divisible by {factor} for {len(self.channels)} levels.")
        if any(c % self.groups for c in self.channels):
            raise ValueError(f"`groups` ({self.groups}) must divide every `channels` "
                             f"{self.channels}.")

    def _make_layers(self):
        width = self.channels[0]
        self.embedding_dim = 4 * width
        self.time_mlp = [_dense(width, self.embedding_dim),
                         _dense(self.embedding_dim, self.embedding_dim)]
        self.label_embedding = None
        if self.condition_size:
            self.label_embedding = _dense(self.condition_size, self.embedding_dim,
                                          use_bias=False)
        self.conv_in = _conv(self.event_shape[-1], width)
        size = min(self.event_shape[:2])
        saved, self.down, in_channels = [width], [], width
        for level, channels in enumerate(self.channels):
            for _ in range(self.layers_per_block):
                self.down.append(self._pair(in_channels, channels, size))
                in_channels = channels
                saved.append(channels)
            if level < len(self.channels) - 1:
                self.down.append(_conv(channels, channels, strides=2))
                saved.append(channels)
                size //= 2
        self.mid = [self._block(in_channels, in_channels),
                    _SelfAttention(in_channels, self.groups, self.head_dim),
                    self._block(in_channels, in_channels)]
        self.up = []
        for level, channels in reversed(list(enumerate(self.channels))):
            for _ in range(self.layers_per_block + 1):
                self.up.append(self._pair(in_channels + saved.pop(), channels, size))
                in_channels = channels
            if level > 0:
                self.up.append([Upsample2D(2), _conv(channels, channels)])
                size *= 2
        self.norm_out = _norm(self.groups, in_channels)
        self.conv_out = _conv(in_channels, self.event_shape[-1])

    def _block(self, in_channels, channels):
        return _ResidualBlock(in_channels, channels, self.embedding_dim, self.groups, self.dropout)

    def _pair(self, in_channels, channels, size):
        """A residual block, and self-attention after it at the attention
        resolutions."""
        attention = (_SelfAttention(channels, self.groups, self.head_dim)
                     if size in self.attention_resolutions else None)
        return [self._block(in_channels, channels), attention]

    def _embedding(self, t, condition, dtype):
        emb = timestep_embedding(t, self.channels[0], dtype)
        emb = self.time_mlp[1](keras.ops.silu(self.time_mlp[0](emb)))
        if self.label_embedding is not None:
            emb = emb + self.label_embedding(keras.ops.cast(condition, dtype))
        return emb

    def call(self, x, t, condition=None, training=False):
        emb = self._embedding(t, condition, x.dtype)
        h = self.conv_in(x)
        saved = [h]
        for layer in self.down:
            h = self._apply(layer, h, emb, training)
            saved.append(h)
        h = self.mid[0](h, emb, training=training)
        h = self.mid[2](self.mid[1](h), emb, training=training)
        for layer in self.up:
            if isinstance(layer[0], Upsample2D):
                h = layer[1](layer[0](h))
            else:
                h = self._apply(layer, keras.ops.concatenate([h, saved.pop()], axis=-1), emb,
                                training)
        return self.conv_out(keras.ops.silu(self.norm_out(h)))

    @staticmethod
    def _apply(layer, h, emb, training):
        if not isinstance(layer, list):  # a downsampling conv
            return layer(h)
        block, attention = layer
        h = block(h, emb, training=training)
        return h if attention is None else attention(h)

    def get_config(self):
        return {**super().get_config(), "event_shape": self.event_shape,
                "condition_size": self.condition_size, "channels": self.channels,
                "layers_per_block": self.layers_per_block,
                "attention_resolutions": self.attention_resolutions, "groups": self.groups,
                "head_dim": self.head_dim, "dropout": self.dropout}
