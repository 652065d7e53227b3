"""Convolutional encoder and decoder networks that see a condition in every
block, and an upsampling layer whose gradient compiles under XLA.

    encoder:  x [h, w, c] -> (conv 3x3 stride 2 + cond -> act) per `channels`
              -> flatten -> ConditionedMLP -> [output_size]
    decoder:  z -> ConditionedMLP -> act -> reshape [h / 2^L, w / 2^L, C_L]
              -> (upsample x2 -> conv 3x3 + cond -> act) per reversed `channels`
              -> conv 3x3 -> [h, w, output_channels]

and their spatial forms, for latents that are a grid of vectors (VQ-VAE):

    grid encoder:  x [h, w, c] -> (conv 3x3 stride 2 + cond -> act) per `channels`
                   -> conv 1x1 -> [h / 2^L, w / 2^L, output_channels]
    grid decoder:  z [gh, gw, c] -> conv 3x3 + cond -> act
                   -> (upsample x2 -> conv 3x3 + cond -> act) per reversed `channels`
                   -> conv 3x3 -> [gh 2^L, gw 2^L, output_channels]

A block's condition enters as a learned per-channel offset of its
pre-activation, `act(conv(h) + W c)`, so a strong condition is not washed
out by the first layers (`ConditionedMLP` does the same for Dense layers).
"""

import math

import keras

from tfgen._validation import check_hidden_units
from tfgen.models.networks.mlp import ConditionedMLP

__all__ = ["ConditionedConvDecoder", "ConditionedConvEncoder", "ConditionedConvGridDecoder",
           "ConditionedConvGridEncoder", "Upsample2D"]


@keras.saving.register_keras_serializable(package="tfgen")
class Upsample2D(keras.layers.Layer):
    """Nearest-neighbour upsampling of `[b, h, w, c]` by an integer
    `factor`, written as a reshape and a broadcast: its gradient is a sum,
    which XLA compiles (the resize op under Keras' `UpSampling2D` has a
    gradient XLA does not compile everywhere).

    Example:

    ```python
    Upsample2D(2)(tf.reshape(tf.range(4.0), [1, 2, 2, 1]))[0, :, :, 0]
    # [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    ```
    """

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(f"`factor` must be a positive int; received {factor!r}.")
        self.factor = factor

    def call(self, x):
        shape = keras.ops.shape(x)
        b, h, w, c = shape[0], shape[1], shape[2], shape[3]
        f = self.factor
        x = keras.ops.broadcast_to(keras.ops.reshape(x, [b, h, 1, w, 1, c]), [b, h, f, w, f, c])
        return keras.ops.reshape(x, [b, h * f, w * f, c])

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        scale = lambda n: None if n is None else n * self.factor  # noqa: E731
        return (b, scale(h), scale(w), c)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _check_spatial(event_shape, channels):
    """`(h, w)` of `event_shape`, checked to halve `len(channels)` times."""
    if len(event_shape) != 3:
        raise ValueError(f"`event_shape` must be an image shape [h, w, c]; received "
                         f"{list(event_shape)}.")
    h, w = int(event_shape[0]), int(event_shape[1])
    factor = 2 ** len(channels)
    if h % factor or w % factor:
        raise ValueError(
            f"`event_shape` {list(event_shape)}: height and width must be divisible by "
            f"2^len(channels) = {factor} for channels {list(channels)}.")
    return h, w


def _check_channels(channels):
    """`channels` as a non-empty list of positive ints (the grid networks
    index its ends)."""
    return check_hidden_units(channels, name="channels")


_NORMALIZATIONS = (None, "batch")


class _ConditionedBlocks(keras.layers.Layer):
    """Base: conv blocks `act(norm(conv(h)) + W c)` built at construction;
    `norm` is the identity, or batch normalization (`normalization="batch"`,
    synchronized across replicas, so a distributed step normalizes over the
    global batch as one device does)."""

    def _make_blocks(self, in_channels, channels, strides):
        if self.normalization not in _NORMALIZATIONS:
            raise ValueError(f"`normalization` must be one of {_NORMALIZATIONS}; received "
                             f"{self.normalization!r}.")
        self.convs, self.condition_layers, self.norms = [], [], []
        for width in channels:
            conv = keras.layers.Conv2D(width, 3, strides=strides, padding="same")
            conv.build((None, None, None, in_channels))
            self.convs.append(conv)
            if self.normalization:
                self.norms.append(_batch_norm(width))
            if self.condition_size:
                dense = keras.layers.Dense(width, use_bias=False)
                dense.build((None, self.condition_size))
                self.condition_layers.append(dense)
            in_channels = width

    def _block(self, i, h, condition):
        h = self.convs[i](h)
        if self.normalization:
            h = self.norms[i](h)
        if self.condition_size:
            offset = self.condition_layers[i](keras.ops.cast(condition, h.dtype))
            h = h + offset[:, None, None, :]
        return keras.activations.get(self.activation)(h)


def _batch_norm(width):
    """A built batch normalization over `width` channels: synchronized
    across replicas, with momentum 0.9 (moving statistics that follow a
    generator's fast-changing activations)."""
    norm = keras.layers.BatchNormalization(momentum=0.9, synchronized=True)
    norm.build((None, None, None, width))
    return norm


@keras.saving.register_keras_serializable(package="tfgen")
class ConditionedConvEncoder(_ConditionedBlocks):
    """Images `[b, h, w, c]` (and conditions `[b, k]`) to vectors
    `[b, output_size]`: stride-2 conv blocks, then a `ConditionedMLP`.

    Args:
      event_shape: `[h, w, c]`; h and w divisible by `2 ** len(channels)`.
      condition_size: width of the condition (0: unconditional).
      channels: output channels of the stride-2 blocks.
      hidden_units: hidden widths of the MLP after the blocks.
      output_size: width of the (linear) output.
      activation: of the hidden layers.

    Example:

    ```python
    net = ConditionedConvEncoder([8, 8, 1], 10, [32, 64], [256], 64)
    net(images, tf.one_hot(labels, 10))   # [batch, 64]
    ```
    """

    def __init__(self, event_shape, condition_size, channels, hidden_units, output_size,
                 activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.event_shape = [int(n) for n in event_shape]
        self.condition_size, self.activation = int(condition_size), activation
        self.channels, self.hidden_units = [int(c) for c in channels], [int(u) for u in hidden_units]
        self.output_size, self.normalization = int(output_size), None
        h, w = _check_spatial(self.event_shape, self.channels)
        self._make_blocks(self.event_shape[-1], self.channels, strides=2)
        factor = 2 ** len(self.channels)
        self.head = ConditionedMLP(h * w // factor ** 2 * self.channels[-1], self.condition_size,
                                   self.hidden_units, self.output_size, activation=activation)
        self.built = True

    def call(self, x, condition=None):
        h = x
        for i in range(len(self.convs)):
            h = self._block(i, h, condition)
        return self.head(keras.ops.reshape(h, [keras.ops.shape(h)[0], -1]), condition)

    def get_config(self):
        return {**super().get_config(), "event_shape": self.event_shape,
                "condition_size": self.condition_size, "channels": self.channels,
                "hidden_units": self.hidden_units, "output_size": self.output_size,
                "activation": self.activation}


@keras.saving.register_keras_serializable(package="tfgen")
class ConditionedConvDecoder(_ConditionedBlocks):
    """Vectors `[b, input_size]` (and conditions `[b, k]`) to images
    `[b, h, w, output_channels]`: a `ConditionedMLP` to a `h / 2^L` by
    `w / 2^L` grid, then x2 upsampling + conv blocks (`Upsample2D`, so the
    network compiles under XLA, gradients included), then a linear 3x3 conv.

    Args:
      input_size: width of the input vector.
      condition_size: width of the condition (0: unconditional).
      event_shape: `[h, w, c]` of the images it decodes (`c` unused: the
        output has `output_channels`).
      channels: the encoder's channels; the decoder runs them in reverse.
      hidden_units: hidden widths of the MLP before the blocks.
      output_channels: channels of the (linear) output.
      activation: of the hidden layers.
      normalization: None, or "batch": batch normalization of the grid and
        of every block before its activation (a GAN generator's; batch
        statistics when called with `training=True`).

    Example:

    ```python
    net = ConditionedConvDecoder(32, 0, [8, 8, 1], [32, 64], [256], 17)
    net(z)   # [batch, 8, 8, 17]
    ```
    """

    def __init__(self, input_size, condition_size, event_shape, channels, hidden_units,
                 output_channels, activation="relu", normalization=None, **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.condition_size = int(input_size), int(condition_size)
        self.event_shape = [int(n) for n in event_shape]
        self.channels, self.hidden_units = [int(c) for c in channels], [int(u) for u in hidden_units]
        self.output_channels, self.activation = int(output_channels), activation
        self.normalization = normalization
        h, w = _check_spatial(self.event_shape, self.channels)
        factor = 2 ** len(self.channels)
        self.grid = [h // factor, w // factor, self.channels[-1]]
        self.head = ConditionedMLP(self.input_size, self.condition_size, self.hidden_units,
                                   math.prod(self.grid), activation=activation)
        self.head_norm = _batch_norm(self.channels[-1]) if normalization == "batch" else None
        self.upsample = Upsample2D(2)
        self._make_blocks(self.channels[-1], self.channels[::-1], strides=1)
        self.output_conv = keras.layers.Conv2D(self.output_channels, 3, padding="same")
        self.output_conv.build((None, h, w, self.channels[0]))
        self.built = True

    def call(self, z, condition=None):
        h = keras.ops.reshape(self.head(z, condition), [keras.ops.shape(z)[0], *self.grid])
        if self.head_norm is not None:
            h = self.head_norm(h)
        h = keras.activations.get(self.activation)(h)
        for i in range(len(self.convs)):
            h = self._block(i, self.upsample(h), condition)
        return self.output_conv(h)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size,
                "condition_size": self.condition_size, "event_shape": self.event_shape,
                "channels": self.channels, "hidden_units": self.hidden_units,
                "output_channels": self.output_channels, "activation": self.activation,
                "normalization": self.normalization}


@keras.saving.register_keras_serializable(package="tfgen")
class ConditionedConvGridEncoder(_ConditionedBlocks):
    """Images `[b, h, w, c]` (and conditions `[b, k]`) to a grid of vectors
    `[b, h / 2^L, w / 2^L, output_channels]`: stride-2 conv blocks, then a
    linear 1x1 conv (`L = len(channels)`).

    Args:
      event_shape: `[h, w, c]`; h and w divisible by `2 ** len(channels)`.
      condition_size: width of the condition (0: unconditional).
      channels: output channels of the stride-2 blocks.
      output_channels: channels of the (linear) output grid.
      activation: of the blocks.

    Example:

    ```python
    net = ConditionedConvGridEncoder([8, 8, 1], 0, [32, 64], 16)
    net(images)   # [batch, 2, 2, 16]
    ```
    """

    def __init__(self, event_shape, condition_size, channels, output_channels,
                 activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.event_shape = [int(n) for n in event_shape]
        self.condition_size, self.activation = int(condition_size), activation
        self.channels, self.output_channels = _check_channels(channels), int(output_channels)
        self.normalization = None
        _check_spatial(self.event_shape, self.channels)
        self._make_blocks(self.event_shape[-1], self.channels, strides=2)
        self.output_conv = keras.layers.Conv2D(self.output_channels, 1)
        self.output_conv.build((None, None, None, self.channels[-1]))
        self.built = True

    def call(self, x, condition=None):
        h = x
        for i in range(len(self.convs)):
            h = self._block(i, h, condition)
        return self.output_conv(h)

    def get_config(self):
        return {**super().get_config(), "event_shape": self.event_shape,
                "condition_size": self.condition_size, "channels": self.channels,
                "output_channels": self.output_channels, "activation": self.activation}


@keras.saving.register_keras_serializable(package="tfgen")
class ConditionedConvGridDecoder(_ConditionedBlocks):
    """Grids of vectors `[b, gh, gw, input_channels]` (and conditions
    `[b, k]`) to images `[b, gh 2^L, gw 2^L, output_channels]`: a conv
    block at the grid's size, then x2 upsampling + conv blocks
    (`Upsample2D`, so the network compiles under XLA, gradients included),
    then a linear 3x3 conv (`L = len(channels)`).

    Args:
      input_channels: channels of the input grid.
      condition_size: width of the condition (0: unconditional).
      channels: the encoder's channels; the decoder runs them in reverse
        (the block at the grid's size has `channels[-1]`).
      output_channels: channels of the (linear) output.
      activation: of the blocks.

    Example:

    ```python
    net = ConditionedConvGridDecoder(16, 0, [32, 64], 17)
    net(grid)   # [batch, 2, 2, 16] -> [batch, 8, 8, 17]
    ```
    """

    def __init__(self, input_channels, condition_size, channels, output_channels,
                 activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.input_channels, self.condition_size = int(input_channels), int(condition_size)
        self.channels, self.output_channels = _check_channels(channels), int(output_channels)
        self.activation, self.normalization = activation, None
        self.upsample = Upsample2D(2)
        self._make_blocks(self.input_channels, [self.channels[-1], *self.channels[::-1]],
                          strides=1)
        self.output_conv = keras.layers.Conv2D(self.output_channels, 3, padding="same")
        self.output_conv.build((None, None, None, self.channels[0]))
        self.built = True

    def call(self, z, condition=None):
        h = self._block(0, z, condition)
        for i in range(1, len(self.convs)):
            h = self._block(i, self.upsample(h), condition)
        return self.output_conv(h)

    def get_config(self):
        return {**super().get_config(), "input_channels": self.input_channels,
                "condition_size": self.condition_size, "channels": self.channels,
                "output_channels": self.output_channels, "activation": self.activation}
