"""`AutoregressiveNetworkLayer`: TFP's MADE (a Keras 2 layer) inside Keras 3.

`tfb.AutoregressiveNetwork` is a `tf_keras` layer, so a Keras 3 model does
not see its variables: it would report no weights and never train. This one
adapter owns the wrapped network and exposes its `tf.Variable`s to Keras 3
(`weights`, `trainable_weights`, `non_trainable_weights`), saves and restores
them in `.keras` files, and serializes the constructor arguments.
"""

import keras
import numpy as np
import tensorflow_probability as tfp

from tfgen._validation import check_event_shape, check_hidden_units, check_positive_int

tfb = tfp.bijectors

__all__ = ["AutoregressiveNetworkLayer"]


@keras.saving.register_keras_serializable(package="tfgen")
class AutoregressiveNetworkLayer(keras.layers.Layer):
    """Keras 3 layer around `tfb.AutoregressiveNetwork` (MADE).

    Calling the layer on `x` `[batch, d]` returns `[batch, d, params]`, where
    output `i` depends only on inputs before `i` in `input_order`. The output
    layer's kernel starts at zero, so a flow built on it starts at the
    identity.

    Args:
      event_size: `d`.
      params: outputs per dimension (2 for shift and log-scale).
      hidden_units: MADE hidden widths.
      activation: hidden activation.
      input_order: "left-to-right", "right-to-left" or "random" (TFP's).

    Example:

    ```python
    made = AutoregressiveNetworkLayer(event_size=3, params=2, hidden_units=[16])
    len(made.trainable_weights)  # 4: two kernels, two biases
    ```

    References:
      Germain et al., "MADE: Masked Autoencoder for Distribution
      Estimation", ICML 2015.
    """

    def __init__(self, event_size, params, hidden_units, activation="relu",
                 input_order="left-to-right", **kwargs):
        super().__init__(**kwargs)
        (self.event_size,) = check_event_shape([event_size], ranks=(1,), name="event_size")
        self.params = check_positive_int("params", params)
        self.hidden_units = check_hidden_units(hidden_units)
        self.activation = activation
        self.input_order = input_order
        self.network = tfb.AutoregressiveNetwork(
            params=self.params, event_shape=[self.event_size],
            hidden_units=self.hidden_units, activation=activation,
            input_order=input_order)
        self.network.build((None, self.event_size))
        # TFP builds kernel, bias per layer in order: the output kernel is
        # second to last, [last hidden width, params * d].
        output_kernel = self.network.trainable_variables[-2]
        if output_kernel.shape != (self.hidden_units[-1], self.params * self.event_size):
            raise RuntimeError(f"Unexpected MADE variable layout: {output_kernel}.")
        output_kernel.assign(np.zeros(output_kernel.shape, np.float32))
        self.built = True

    def call(self, inputs):
        return self.network(inputs)

    # Keras 3 cannot see tf_keras variables: expose them.
    @property
    def weights(self):
        return list(self.network.weights)

    @property
    def trainable_weights(self):
        return list(self.network.trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if self.trainable:
            return list(self.network.non_trainable_weights)
        return list(self.network.weights)

    @property
    def variables(self):
        return self.weights

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    def save_own_variables(self, store):
        for i, variable in enumerate(self.network.weights):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store):
        variables = self.network.weights
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"{self.name}: the file holds {len(store.keys())} variables; this "
                f"layer has {len(variables)}.")
        for i, variable in enumerate(variables):
            variable.assign(store[str(i)])

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size,
                "params": self.params, "hidden_units": self.hidden_units,
                "activation": self.activation, "input_order": self.input_order}
