"""`MADE` (Germain et al. 2015) and `FVSBN`, its network without hidden
layers (one logistic / softmax regression per dimension; Frey 1998).

    h_1 = relu(x W_1 * M_1 + b_1), ...,  params = h_L W_out * M_out + b_out

with the masks M of `masks.made_masks` (output d sees input d' only when
d' comes before d in the ordering). x is the levels one-hot (the 0/1
values of binary data). With `num_orderings` K > 1 the weights are shared
by K orderings (and, with random hidden degrees, K connectivities):
training draws one per step (order-agnostic training), and the model is
their uniform mixture, log p(x) = log mean_k p_k(x) (`AutoregressiveModel`).

Example:

```python
digits = tfgen.data.load_data("digits")
model = MADE([8, 8, 1], dequantizer=digits.dequantizer, hidden_units=[512])
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=100)
model.log_prob(x)          # nats, of the digits' levels
model.sample(16, seed=0)   # model space; `dequantizer.to_levels` gives the levels
```

References:
  Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for
  Distribution Estimation", ICML 2015.
  Frey, "Graphical Models for Machine Learning and Digital
  Communication", MIT Press 1998 (the fully visible sigmoid belief net).
"""

import keras
import numpy as np
import tensorflow as tf

from tfgen._validation import check_positive_int
from tfgen.models.autoregressive.base import AutoregressiveModel
from tfgen.models.autoregressive.masks import made_masks, orderings

__all__ = ["FVSBN", "MADE"]


class MaskedDense(keras.layers.Layer):
    """`x (W * M) + b` for a mask `M` `[in, out]` given at each call."""

    def __init__(self, in_features, units, **kwargs):
        super().__init__(**kwargs)
        self.kernel = self.add_weight(shape=[in_features, units], name="kernel",
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(shape=[units], name="bias", initializer="zeros")

    def call(self, x, mask):
        kernel = tf.cast(self.kernel, x.dtype) * tf.cast(mask, x.dtype)
        return tf.matmul(x, kernel) + tf.cast(self.bias, x.dtype)


@keras.saving.register_keras_serializable(package="tfgen")
class MADE(AutoregressiveModel):
    """A masked MLP over the levels of discrete data (see the module docstring).

    Args:
      event_shape: the shape of one example.
      dequantizer: the data's `tfgen.data.Dequantizer` (required).
      hidden_units: the hidden layers' widths.
      num_orderings: K, the orderings (and masks) sharing the weights.
      input_order: the first ordering: "raster", "reversed" or "random"
        (the others are random).
      hidden_degrees: "equal" (spread evenly) or "random" (MADE's
        connectivity-agnostic masks, drawn per ordering).
      mask_seed: seeds the random orderings and degrees.
      output_likelihood: the conditionals' likelihood (`AutoregressiveModel`).
      **kwargs: `GenerativeModel`'s (`ema_decay`, ...).
    """

    def __init__(self, event_shape, dequantizer=None, hidden_units=(512,), num_orderings=1,
                 input_order="raster", hidden_degrees="equal", mask_seed=0,
                 output_likelihood="auto", **kwargs):
        super().__init__(event_shape, dequantizer=dequantizer,
                         output_likelihood=output_likelihood, **kwargs)
        self.hidden_units = [check_positive_int("hidden_units", u) for u in hidden_units]
        self.input_order, self.hidden_degrees = input_order, hidden_degrees
        self.mask_seed = int(mask_seed)
        self.orderings = orderings(self.event_size,
                                   check_positive_int("num_orderings", num_orderings),
                                   input_order, self.mask_seed)
        rng = np.random.default_rng(self.mask_seed + 1)
        per_ordering = [made_masks(order, self.hidden_units, self.input_width,
                                   self.params_per_dim, hidden_degrees, rng)
                        for order in self.orderings]
        # One [K, in, out] stack per layer.
        self.masks = [np.stack(layer) for layer in zip(*per_ordering)]
        widths = [self.event_size * self.input_width, *self.hidden_units,
                  self.event_size * self.params_per_dim]
        self.dense = [MaskedDense(a, b, name=f"masked_dense_{i}")
                      for i, (a, b) in enumerate(zip(widths, widths[1:]))]
        self.built = True

    def _pass(self, h, masks):
        for layer, mask in zip(self.dense[:-1], masks[:-1]):
            h = tf.nn.relu(layer(h, mask))
        return self.dense[-1](h, masks[-1])

    def conditionals(self, levels, ordering=None, training=False, condition=None):
        h = self.encode(levels)
        ordering = tf.constant(0) if ordering is None else tf.convert_to_tensor(ordering)
        if ordering.shape.rank == 0:
            return self._pass(h, [tf.gather(tf.constant(m), ordering) for m in self.masks])
        # One ordering per example: every ordering's pass, then each example's.
        every = tf.stack([self._pass(h, [m[k] for m in self.masks])
                          for k in range(self.num_orderings)], axis=1)   # [b, K, out]
        return tf.gather(every, ordering, batch_dims=1)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units,
                "num_orderings": self.num_orderings, "input_order": self.input_order,
                "hidden_degrees": self.hidden_degrees, "mask_seed": self.mask_seed}


@keras.saving.register_keras_serializable(package="tfgen")
class FVSBN(MADE):
    """The fully visible sigmoid belief network: p(x_d | x_<d) a logistic
    (binary data) or softmax regression on the dimensions before d, a
    `MADE` without hidden layers.

    Args:
      event_shape: the shape of one example.
      dequantizer: the data's `tfgen.data.Dequantizer` (required).
      input_order: "raster", "reversed" or "random" (from `mask_seed`).
      mask_seed: seeds a random order.
      output_likelihood: the conditionals' likelihood (`AutoregressiveModel`).
      **kwargs: `GenerativeModel`'s (`ema_decay`, ...).
    """

    def __init__(self, event_shape, dequantizer=None, input_order="raster", mask_seed=0,
                 output_likelihood="auto", **kwargs):
        super().__init__(event_shape, dequantizer=dequantizer, hidden_units=(),
                         input_order=input_order, mask_seed=mask_seed,
                         output_likelihood=output_likelihood, **kwargs)

    def get_config(self):
        config = super().get_config()
        for key in ("hidden_units", "num_orderings", "hidden_degrees"):
            config.pop(key)
        return config
