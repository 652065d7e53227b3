"""The convolutions of PixelCNN: masked (van den Oord et al. 2016a) and
gated with vertical and horizontal stacks (van den Oord et al. 2016b).

For single-channel images in raster order, output (i, j) of a layer may
see input pixel (i', j') only when it comes earlier:

    type A (first layer): i' < i, or i' = i and j' < j
    type B (later layers): i' < i, or i' = i and j' <= j

`MaskedConv2D` zeroes the kernel entries after the centre (A: and the
centre itself). Stacked k x k masked convolutions miss pixels up and to
the right of the centre (the "blind spot"): each layer's mask cuts off
the upper right of the layer below's field.

`GatedBlock` has no blind spot. Its vertical stack sees the rows above
(every column within reach), its horizontal stack the row so far:

    vertical:   v' = gate(conv_{(k/2+1) x k}(pad_top(v)))      rows < i
    horizontal: h' = h + 1x1(gate(conv_{1 x (k/2+1)}(pad_left(h)) + 1x1(v_pre)))
    gate(a, b) = tanh(a) * sigmoid(b)

(with kernels of k/2 + 1 rows ending at the centre row, and of k/2 + 1
columns ending at the centre column, on inputs padded only above and to
the left). The first block shifts its input down one row (vertical) and
right one column (horizontal), so it is of type A; later blocks are of
type B. A condition c enters every gate as `W c` added to its
pre-activation (the paper's conditional PixelCNN).

References:
  van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
  Networks", ICML 2016 (2016a).
  van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
  "Conditional Image Generation with PixelCNN Decoders", NeurIPS 2016
  (2016b).
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["GatedBlock", "MaskedConv2D", "causal_mask"]


def causal_mask(kernel_size, mask_type):
    """The `[k, k]` 0/1 mask of a type "A" or "B" convolution (see the
    module docstring)."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"`mask_type` must be 'A' or 'B'; received {mask_type!r}.")
    mask = np.zeros([kernel_size, kernel_size], np.float32)
    centre = kernel_size // 2
    mask[:centre] = 1.0
    mask[centre, :centre + (mask_type == "B")] = 1.0
    return mask


class MaskedConv2D(keras.layers.Layer):
    """A k x k convolution (same padding) whose kernel is masked to type
    "A" or "B" (`causal_mask`)."""

    def __init__(self, filters, kernel_size, mask_type, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, kernel_size
        self.mask = causal_mask(kernel_size, mask_type)[:, :, None, None]

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=[self.kernel_size, self.kernel_size, input_shape[-1], self.filters],
            name="kernel", initializer="glorot_uniform")
        self.bias = self.add_weight(shape=[self.filters], name="bias", initializer="zeros")

    def call(self, x):
        kernel = tf.cast(self.kernel * self.mask, x.dtype)
        return tf.nn.conv2d(x, kernel, 1, "SAME") + tf.cast(self.bias, x.dtype)


def _gate(pre):
    a, b = tf.split(pre, 2, axis=-1)
    return tf.tanh(a) * tf.sigmoid(b)


def _shift_down(x):
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _shift_right(x):
    return tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


class GatedBlock(keras.layers.Layer):
    """One gated block: `(v, h, condition) -> (v', h')` with `channels`
    channels (see the module docstring); `first=True` for the type A
    block on the input (which then has no residual connection), and
    `conditional=True` to take a condition `[b, k]`."""

    def __init__(self, channels, kernel_size=3, first=False, conditional=False, dropout=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.k, self.first = kernel_size // 2, first
        self.vertical = keras.layers.Conv2D(2 * channels, [self.k + 1, kernel_size],
                                            name="vertical")
        self.horizontal = keras.layers.Conv2D(2 * channels, [1, self.k + 1], name="horizontal")
        self.vertical_to_horizontal = keras.layers.Conv2D(2 * channels, 1, name="v_to_h")
        self.output_1x1 = keras.layers.Conv2D(channels, 1, name="output")
        if conditional:
            self.condition_v = keras.layers.Dense(2 * channels, use_bias=False,
                                                  name="condition_v")
            self.condition_h = keras.layers.Dense(2 * channels, use_bias=False,
                                                  name="condition_h")
        self.dropout = keras.layers.Dropout(dropout)

    def call(self, v, h, condition=None, training=False):
        k = self.k
        v_in, h_in = (_shift_down(v), _shift_right(h)) if self.first else (v, h)
        v_pre = self.vertical(tf.pad(v_in, [[0, 0], [k, 0], [k, k], [0, 0]]))
        h_pre = self.horizontal(tf.pad(h_in, [[0, 0], [0, 0], [k, 0], [0, 0]]))
        if condition is not None:
            v_pre = v_pre + self.condition_v(condition)[:, None, None]
            h_pre = h_pre + self.condition_h(condition)[:, None, None]
        h_pre = h_pre + self.vertical_to_horizontal(v_pre)
        h_out = self.output_1x1(self.dropout(_gate(h_pre), training=training))
        return _gate(v_pre), h_out if self.first else h + h_out
