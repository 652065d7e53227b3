"""`PixelCNN`: an autoregressive model of single-channel images in raster
order whose conditionals all come from one convolutional pass.

    gated (default, van den Oord et al. 2016b; no blind spot):
        x one-hot [h, w, L] -> GatedBlock(first, k_1) -> GatedBlock(k) x (B - 1)
        -> relu -> 1x1 -> relu -> 1x1 -> [h, w, P]     (h: the horizontal stack)
    masked (van den Oord et al. 2016a):
        x one-hot -> MaskedConv A (k_1) -> (relu -> MaskedConv B (k) + skip) x (B - 1)
        -> relu -> 1x1 -> relu -> 1x1 -> [h, w, P]

P parameters per pixel: a softmax over the L levels (categorical, 17 for
digits), or a Bernoulli for binary data (`AutoregressiveModel`). A
class-conditional PixelCNN (`num_classes`) adds `W onehot(y)` to every
block's pre-activation. Training is teacher-forced (one pass per batch);
sampling walks the h w pixels in one compiled loop (`AutoregressiveModel`).

Example:

```python
digits = tfgen.data.load_data("digits")
model = PixelCNN([8, 8, 1], dequantizer=digits.dequantizer, channels=64, num_blocks=5)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=100)
model.log_prob(x)          # nats, of the digits' levels
model.sample(16, seed=0)   # model space
```

References:
  van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
  Networks", ICML 2016.
  van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
  "Conditional Image Generation with PixelCNN Decoders", NeurIPS 2016.
"""

import keras
import tensorflow as tf

from tfgen._validation import check_positive_int
from tfgen.models.autoregressive.base import AutoregressiveModel
from tfgen.models.autoregressive.convolutions import GatedBlock, MaskedConv2D

__all__ = ["PixelCNN"]

ARCHITECTURES = ("gated", "masked")


class _Head(keras.layers.Layer):
    """relu -> 1x1 (units) -> relu -> 1x1 (outputs), per pixel."""

    def __init__(self, units, outputs, dropout, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Conv2D(units, 1, activation="relu", name="hidden")
        self.out = keras.layers.Conv2D(outputs, 1, name="out")
        self.dropout = keras.layers.Dropout(dropout)

    def call(self, h, training=False):
        return self.out(self.dropout(self.hidden(tf.nn.relu(h)), training=training))


class GatedPixelCNNNetwork(keras.layers.Layer):
    """`(x [b, h, w, E], condition) -> [b, h, w, P]` by gated blocks."""

    def __init__(self, channels, num_blocks, kernel_size, first_kernel_size, head_units,
                 outputs, conditional, dropout, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [GatedBlock(channels, first_kernel_size if i == 0 else kernel_size,
                                  first=i == 0, conditional=conditional, dropout=dropout,
                                  name=f"block_{i}") for i in range(num_blocks)]
        self.head = _Head(head_units, outputs, dropout, name="head")

    def call(self, x, condition=None, training=False):
        v = h = x
        for block in self.blocks:
            v, h = block(v, h, condition, training=training)
        return self.head(h, training=training)


class MaskedPixelCNNNetwork(keras.layers.Layer):
    """`(x [b, h, w, E], condition) -> [b, h, w, P]` by masked convolutions."""

    def __init__(self, channels, num_blocks, kernel_size, first_kernel_size, head_units,
                 outputs, conditional, dropout, **kwargs):
        super().__init__(**kwargs)
        self.convs = [MaskedConv2D(channels, first_kernel_size if i == 0 else kernel_size,
                                   "A" if i == 0 else "B", name=f"conv_{i}")
                      for i in range(num_blocks)]
        self.conditions = [keras.layers.Dense(channels, use_bias=False, name=f"condition_{i}")
                           for i in range(num_blocks)] if conditional else None
        self.head = _Head(head_units, outputs, dropout, name="head")

    def call(self, x, condition=None, training=False):
        h = None
        for i, conv in enumerate(self.convs):
            pre = conv(x if h is None else tf.nn.relu(h))
            if condition is not None:
                pre = pre + self.conditions[i](condition)[:, None, None]
            h = pre if h is None else h + pre
        return self.head(h, training=training)


@keras.saving.register_keras_serializable(package="tfgen")
class PixelCNN(AutoregressiveModel):
    """A PixelCNN over the levels of single-channel images (see the module
    docstring).

    Args:
      event_shape: `[h, w, 1]`.
      dequantizer: the data's `tfgen.data.Dequantizer` (required).
      num_classes: class-conditional model (labels as Keras' `y`).
      architecture: "gated" (vertical and horizontal stacks, no blind
        spot) or "masked" (masked convolutions).
      channels: the blocks' channels.
      num_blocks: B, the blocks (the first of type A, the others B).
      kernel_size: the later blocks' kernel size k (odd).
      first_kernel_size: the first block's kernel size (odd).
      head_units: the output head's hidden 1x1 channels.
      dropout: dropout rate on the gated outputs and in the head.
      output_likelihood: the conditionals' likelihood (`AutoregressiveModel`).
      **kwargs: `GenerativeModel`'s (`ema_decay`, ...).
    """

    supports_conditions = True
    event_ranks = (3,)

    def __init__(self, event_shape, dequantizer=None, num_classes=None, architecture="gated",
                 channels=64, num_blocks=5, kernel_size=3, first_kernel_size=5, head_units=128,
                 dropout=0.0, output_likelihood="auto", **kwargs):
        super().__init__(event_shape, dequantizer=dequantizer, num_classes=num_classes,
                         output_likelihood=output_likelihood, **kwargs)
        if len(self.event_shape) != 3 or self.event_shape[-1] != 1:
            raise ValueError(f"PixelCNN models single-channel images: `event_shape` must be "
                             f"[h, w, 1]; received {list(self.event_shape)}.")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"`architecture` must be one of {ARCHITECTURES}; received "
                             f"{architecture!r}.")
        for name, size in (("kernel_size", kernel_size), ("first_kernel_size", first_kernel_size)):
            if not isinstance(size, int) or size < 1 or size % 2 == 0:
                raise ValueError(f"`{name}` must be an odd positive int; received {size!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1); received {dropout!r}.")
        self.architecture = architecture
        self.channels = check_positive_int("channels", channels)
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        self.kernel_size, self.first_kernel_size = kernel_size, first_kernel_size
        self.head_units = check_positive_int("head_units", head_units)
        self.dropout = float(dropout)
        network = {"gated": GatedPixelCNNNetwork, "masked": MaskedPixelCNNNetwork}[architecture]
        self.network = network(self.channels, self.num_blocks, kernel_size, first_kernel_size,
                               self.head_units, self.params_per_dim, self.conditional,
                               self.dropout, name=architecture)
        height, width, _ = self.event_shape   # one call creates the weights
        condition = tf.zeros([1, self.condition_size]) if self.conditional else None
        self.network(tf.zeros([1, height, width, self.input_width]), condition)
        self.built = True

    def conditionals(self, levels, ordering=None, training=False, condition=None):
        height, width, _ = self.event_shape
        x = tf.reshape(self.encode(levels), [-1, height, width, self.input_width])
        params = self.network(x, condition, training=training)
        return tf.reshape(params, [-1, self.event_size * self.params_per_dim])

    def get_config(self):
        return {**super().get_config(), "architecture": self.architecture,
                "channels": self.channels, "num_blocks": self.num_blocks,
                "kernel_size": self.kernel_size, "first_kernel_size": self.first_kernel_size,
                "head_units": self.head_units, "dropout": self.dropout}
