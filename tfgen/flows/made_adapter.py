"""`AutoregressiveNetworkLayer`: TFP's MADE (a Keras 2 layer) inside Keras 3.

`tfb.AutoregressiveNetwork` is a `tf_keras` layer, so a Keras 3 model does
not see its variables: it would report no weights and never train. This one
adapter owns the wrapped network and exposes its `tf.Variable`s to Keras 3
(`weights`, `trainable_weights`, `non_trainable_weights`), saves and restores
them in `.keras` files, and serializes the constructor arguments.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import check_event_shape, check_hidden_units, check_positive_int

tfb = tfp.bijectors

__all__ = ["AutoregressiveNetworkLayer"]


def _uniform(shape, fan_in, dtype=None):
    """Uniform on +-1/sqrt(fan_in), as `torch.nn.Linear` initializes."""
    limit = fan_in ** -0.5
    return tf.random.uniform(shape, -limit, limit, dtype=dtype or tf.float32)


def _kernel_initializer(shape, dtype=None):
    """A `[fan_in, units]` kernel (TFP masks it)."""
    return _uniform(shape, fan_in=shape[0], dtype=dtype)


@keras.saving.register_keras_serializable(package="tfgen")
class AutoregressiveNetworkLayer(keras.layers.Layer):
    """Keras 3 layer around `tfb.AutoregressiveNetwork` (MADE).

    Calling the layer on `x` `[batch, d]` returns `[batch, d, params]`, where
    output `i` depends only on inputs before `i` in `input_order`.

    Every dense layer starts like `torch.nn.Linear`: kernel (masked) and bias
    uniform on `+-1/sqrt(fan_in)`. Random biases spread the first layer's
    ReLU kinks over the data; with TFP's default (glorot kernels, zero
    biases; the kinks all at 0) MAF trained measurably slower on 2D data
    (`bench/maf_vs_zuko.py`).

    Args:
      event_size: `d`.
      params: outputs per dimension (2 for shift and log-scale).
      hidden_units: MADE hidden widths.
      activation: hidden activation.
      input_order: "left-to-right", "right-to-left" or "random" (TFP's).
      condition_size: width `k` of a condition every layer also sees
        (`call(x, condition)`); 0: unconditional.

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
                 input_order="left-to-right", condition_size=0, **kwargs):
        super().__init__(**kwargs)
        (self.event_size,) = check_event_shape([event_size], ranks=(1,), name="event_size")
        self.params = check_positive_int("params", params)
        self.hidden_units = check_hidden_units(hidden_units)
        self.activation = activation
        self.input_order = input_order
        self.condition_size = int(condition_size)
        conditional = dict(conditional=True, conditional_event_shape=[self.condition_size],
                           conditional_input_layers="all_layers") if self.condition_size else {}
        self.network = tfb.AutoregressiveNetwork(
            params=self.params, event_shape=[self.event_size],
            hidden_units=self.hidden_units, activation=activation,
            input_order=input_order, kernel_initializer=_kernel_initializer, **conditional)
        self.network.build((None, self.event_size))
        # TFP builds per layer: kernel, bias (then the condition's kernel when
        # conditional). Biases: uniform on +-1/sqrt(fan_in) of their kernel.
        per_layer = 3 if self.condition_size else 2
        variables = self.network.trainable_variables
        for kernel, bias in zip(variables[0::per_layer], variables[1::per_layer]):
            if kernel.shape.rank != 2 or bias.shape != kernel.shape[1:]:
                raise RuntimeError(f"Unexpected MADE variable layout: {kernel}, {bias}.")
            bias.assign(_uniform(bias.shape, fan_in=kernel.shape[0], dtype=bias.dtype))
        self.built = True

    def call(self, inputs, condition=None):
        if self.condition_size:
            return self.network(inputs, conditional_input=condition)
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
                "activation": self.activation, "input_order": self.input_order,
                "condition_size": self.condition_size}
