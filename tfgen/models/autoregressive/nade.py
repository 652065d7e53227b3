"""`NADE` (Larochelle & Murray 2011): one hidden layer whose weights every
conditional shares, computed for all D conditionals in one pass.

    a_d = c + sum_{d' < d} W_{d'} x_{d'}       (an exclusive cumulative sum)
    h_d = sigmoid(a_d)
    params_d = V_d h_d + b_d                   p(x_d | x_<d) from params_d

x_{d'} is dimension d''s levels one-hot (its 0/1 value for binary data),
in raster order; the conditionals are categorical (Bernoulli for binary
data), as in `AutoregressiveModel`.

Example:

```python
digits = tfgen.data.load_data("digits")
model = NADE([8, 8, 1], dequantizer=digits.dequantizer, hidden_units=500)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=100)
```

References:
  Larochelle & Murray, "The Neural Autoregressive Distribution Estimator",
  AISTATS 2011.
  Uria, Cote, Gregor, Murray & Larochelle, "Neural Autoregressive
  Distribution Estimation", JMLR 2016 (categorical NADE).
"""

import keras
import tensorflow as tf

from tfgen._validation import check_positive_int
from tfgen.models.autoregressive.base import AutoregressiveModel

__all__ = ["NADE"]

_ACTIVATIONS = ("sigmoid", "relu", "tanh")


class NADELayer(keras.layers.Layer):
    """The shared weights: `(x [b, D, E]) -> params [b, D * P]`."""

    def __init__(self, size, input_width, hidden_units, params_per_dim, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.w = self.add_weight(shape=[size, input_width, hidden_units], name="w",
                                 initializer=keras.initializers.RandomNormal(stddev=0.01))
        self.c = self.add_weight(shape=[hidden_units], name="c", initializer="zeros")
        self.v = self.add_weight(shape=[size, hidden_units, params_per_dim], name="v",
                                 initializer=keras.initializers.RandomNormal(stddev=0.01))
        self.b = self.add_weight(shape=[size, params_per_dim], name="b", initializer="zeros")

    def call(self, x):
        contributions = tf.einsum("bde,deh->bdh", x, self.w)
        h = self.activation(self.c + tf.cumsum(contributions, axis=1, exclusive=True))
        params = tf.einsum("bdh,dhp->bdp", h, self.v) + self.b
        return tf.reshape(params, [tf.shape(x)[0], -1])

    def params_of(self, a, d):
        """Dimension `d`'s parameters `[b, P]` from pre-activations `a` `[b, H]`."""
        return tf.matmul(self.activation(a), tf.gather(self.v, d)) + tf.gather(self.b, d)

    def add_input(self, a, d, x_d):
        """The pre-activations once dimension `d` is `x_d` `[b, E]`."""
        return a + tf.matmul(tf.cast(x_d, a.dtype), tf.gather(self.w, d))


@keras.saving.register_keras_serializable(package="tfgen")
class NADE(AutoregressiveModel):
    """The neural autoregressive distribution estimator (see the module
    docstring).

    Args:
      event_shape: the shape of one example.
      dequantizer: the data's `tfgen.data.Dequantizer` (required).
      hidden_units: H, the shared hidden layer's width.
      activation: "sigmoid" (the paper's), "relu" or "tanh".
      output_likelihood: the conditionals' likelihood (`AutoregressiveModel`).
      **kwargs: `GenerativeModel`'s (`ema_decay`, ...).
    """

    def __init__(self, event_shape, dequantizer=None, hidden_units=500, activation="sigmoid",
                 output_likelihood="auto", **kwargs):
        super().__init__(event_shape, dequantizer=dequantizer,
                         output_likelihood=output_likelihood, **kwargs)
        self.hidden_units = check_positive_int("hidden_units", hidden_units)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {_ACTIVATIONS}; received "
                             f"{activation!r}.")
        self.activation = activation
        self.network = NADELayer(self.event_size, self.input_width, self.hidden_units,
                                 self.params_per_dim, activation, name="nade")
        self.built = True

    def conditionals(self, levels, ordering=None, training=False, condition=None):
        x = tf.reshape(self.encode(levels), [-1, self.event_size, self.input_width])
        return self.network(x)

    # Sampling in raster order, O(H (E + P)) per dimension: a_d carried.

    def sampling_state(self, n, condition):
        return tf.tile(self.network.c[None], [n, 1])

    def next_conditional(self, state, levels, dims, ordering, condition):
        return self.network.params_of(state, dims[0])

    def advance_state(self, state, dims, drawn):
        x_d = tf.reshape(self.encode(drawn[:, None]), [-1, self.input_width])
        return self.network.add_input(state, dims[0], x_d)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units,
                "activation": self.activation}
