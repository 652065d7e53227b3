"""`ProjectionDiscriminator`: a discriminator (or critic) network with the
condition entering by projection (Miyato & Koyama 2018).

    phi(x) = act(features(x))                 an MLP, or a conv encoder
    D(x, c) = w . phi(x) + b + (E c) . phi(x)  [batch] raw scores (logits)

With a one-hot class `c`, `E c` is the class's embedding, so the condition
adds the inner product of the features with a learned class vector: the
form of the log-density ratio of class-conditional data, where
concatenating `c` to the input is not.

References:
  Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018.
  Radford, Metz & Chintala, "Unsupervised Representation Learning with
  Deep Convolutional Generative Adversarial Networks" (DCGAN), ICLR 2016.
"""

import math

import keras

from tfgen._validation import check_hidden_units
from tfgen.models.networks.conv import ConditionedConvEncoder
from tfgen.models.networks.mlp import ConditionedMLP

__all__ = ["ProjectionDiscriminator"]


@keras.saving.register_keras_serializable(package="tfgen")
class ProjectionDiscriminator(keras.layers.Layer):
    """Examples `[b, *event_shape]` (and conditions `[b, k]`) to scores `[b]`.

    Args:
      event_shape: the shape of one example (images are flattened for the
        MLP).
      condition_size: width of the condition (0: unconditional).
      network: "mlp", or "conv" for images (`ConditionedConvEncoder`:
        stride-2 3x3 convs of `channels`, then Dense layers).
      hidden_units: widths of the Dense layers; the last is phi's width.
      channels: the conv blocks' channels (`network="conv"`).
      activation: of every hidden layer (DCGAN's leaky ReLU, slope 0.2).

    Example:

    ```python
    d = ProjectionDiscriminator([8, 8, 1], 10, "conv", [256], [32, 64])
    d(images, tf.one_hot(labels, 10))   # [batch] logits
    ```
    """

    def __init__(self, event_shape, condition_size, network, hidden_units, channels=(32, 64),
                 activation="leaky_relu", **kwargs):
        super().__init__(**kwargs)
        self.event_shape = [int(n) for n in event_shape]
        self.condition_size, self.network = int(condition_size), network
        self.hidden_units = check_hidden_units(hidden_units)
        self.channels, self.activation = [int(c) for c in channels], activation
        width = self.hidden_units[-1]
        if network == "conv":
            self.features = ConditionedConvEncoder(self.event_shape, 0, self.channels,
                                                   self.hidden_units[:-1], width,
                                                   activation=activation)
        elif network == "mlp":
            self.features = ConditionedMLP(math.prod(self.event_shape), 0,
                                           self.hidden_units[:-1], width, activation=activation)
        else:
            raise ValueError(f"`network` must be 'mlp' or 'conv'; received {network!r}.")
        self.output_layer = keras.layers.Dense(1)
        self.output_layer.build((None, width))
        self.embedding = None
        if self.condition_size:
            self.embedding = keras.layers.Dense(width, use_bias=False)
            self.embedding.build((None, self.condition_size))
        self.built = True

    def feature_map(self, x):
        """phi(x) `[b, hidden_units[-1]]`: the features the score reads (a
        VAE-GAN's reconstruction is measured in them)."""
        if self.network == "mlp":
            x = keras.ops.reshape(x, [keras.ops.shape(x)[0], -1])
        return keras.activations.get(self.activation)(self.features(x))

    def score(self, phi, condition=None):
        """D's scores `[b]` from features `phi`."""
        score = self.output_layer(phi)[:, 0]
        if self.embedding is not None:
            projected = self.embedding(keras.ops.cast(condition, phi.dtype))
            score = score + keras.ops.sum(projected * phi, axis=-1)
        return score

    def call(self, x, condition=None):
        return self.score(self.feature_map(x), condition)

    def get_config(self):
        return {**super().get_config(), "event_shape": self.event_shape,
                "condition_size": self.condition_size, "network": self.network,
                "hidden_units": self.hidden_units, "channels": self.channels,
                "activation": self.activation}
