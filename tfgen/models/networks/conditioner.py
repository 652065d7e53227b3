"""The flows' conditioner networks: an MLP for vectors, a conv net for
images, whose last layer starts at zero, so a coupling starts as the
identity map."""

import keras

__all__ = ["conditioner_network"]


def conditioner_network(event_shape, hidden_units, output_channels,
                        activation="relu", name=None):
    """A Keras network from `event_shape` inputs to `output_channels` outputs.

    Vectors (`event_shape = [d]`) get Dense layers of `hidden_units`; images
    (`[h, w, c]`) get 3x3 'same' convolutions with `hidden_units` channels.
    The output layer (`output_channels` units or channels) is zero-initialized.
    The network is built, so its weights exist at once.

    Example:

    ```python
    net = conditioner_network([2], [64, 64], output_channels=4)
    net(np.zeros([8, 2])).shape  # (8, 4)
    ```
    """
    image = len(event_shape) == 3
    if image:
        hidden = [keras.layers.Conv2D(units, 3, padding="same",
                                      activation=activation)
                  for units in hidden_units]
        output = keras.layers.Conv2D(output_channels, 3, padding="same",
                                     kernel_initializer="zeros")
    else:
        hidden = [keras.layers.Dense(units, activation=activation)
                  for units in hidden_units]
        output = keras.layers.Dense(output_channels,
                                    kernel_initializer="zeros")
    network = keras.Sequential(hidden + [output], name=name)
    network.build((None, *event_shape))
    return network
