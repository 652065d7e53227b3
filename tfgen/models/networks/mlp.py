"""`ConditionedMLP`: an MLP that sees its condition at every layer."""

import keras

__all__ = ["ConditionedMLP"]


@keras.saving.register_keras_serializable(package="tfgen")
class ConditionedMLP(keras.layers.Layer):
    """An MLP that sees its condition at every layer: the condition `c` is
    concatenated to the input of each Dense layer, not only the first, so
    a strong condition cannot be washed out by the first layers.

        h_0 = x,  h_{i+1} = act(W_i [h_i, c] + b_i),  out = W_L [h_L, c] + b_L

    The weights exist at construction. Without a condition
    (`condition_size=0`) it is a plain MLP.

    Args:
      input_size: the width of `x`.
      condition_size: the width of `c` (0: unconditional).
      hidden_units: widths of the hidden layers.
      output_size: the width of the output (linear).
      activation: of the hidden layers.

    Example:

    ```python
    net = ConditionedMLP(64, 10, [128, 128], 32)
    net(x, tf.one_hot(labels, 10))   # [batch, 32]
    ```
    """

    def __init__(self, input_size, condition_size, hidden_units, output_size,
                 activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.condition_size = int(input_size), int(condition_size)
        self.hidden_units, self.output_size = [int(u) for u in hidden_units], int(output_size)
        self.activation = activation
        self.dense_layers = []
        width = self.input_size
        for units in self.hidden_units + [self.output_size]:
            last = len(self.dense_layers) == len(self.hidden_units)
            layer = keras.layers.Dense(units, activation=None if last else activation)
            layer.build((None, width + self.condition_size))
            self.dense_layers.append(layer)
            width = units
        self.built = True

    def call(self, x, condition=None):
        h = x
        for layer in self.dense_layers:
            if self.condition_size:
                h = keras.ops.concatenate([h, keras.ops.cast(condition, h.dtype)], axis=-1)
            h = layer(h)
        return h

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size,
                "condition_size": self.condition_size, "hidden_units": self.hidden_units,
                "output_size": self.output_size, "activation": self.activation}
