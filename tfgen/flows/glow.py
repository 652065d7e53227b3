"""Glow as a Keras model: ActNorm, invertible 1x1 convolutions and affine
couplings with conv conditioners, in the multi-scale architecture."""

import keras

from tfgen import bijectors
from tfgen._validation import check_positive_float, check_positive_int
from tfgen.flows.actnorm import ActNormLayer
from tfgen.flows.flow import Flow
from tfgen.flows.layers import CouplingLayer, LinearLULayer

__all__ = ["Glow"]


@keras.saving.register_keras_serializable(package="tfgen")
class Glow(Flow):
    """Glow (Kingma & Dhariwal, 2018) on images `[h, w, c]`.

    Each of `num_levels` levels squeezes (`[h, w, c] -> [h/2, w/2, 4c]`),
    applies `num_steps` flow steps (ActNorm, invertible 1x1 convolution,
    affine coupling over channels with a conv conditioner of
    `hidden_channels`), and all but the last factor out half of the channels
    to the latent (`tfgen.bijectors.Glow` does the composition). ActNorm
    layers are initialized from the first batch `fit` sees (or by
    `initialize(x)`); `sample(..., temperature=T)` draws at temperature `T`.

    Args:
      event_shape: `[h, w, c]`, `h` and `w` divisible by `2^num_levels`.
      num_levels: levels `L`.
      num_steps: flow steps `K` per level.
      hidden_channels: channels of the conditioners' two hidden 3x3 convs.
      log_scale_bound: coupling log-scales are soft-clipped to `(-c, c)`.
      activation: conditioner activation.
      num_classes, condition_shape: make the flow conditional (see `Flow`);
        conditions reach every coupling's conditioner.

    Example:

    ```python
    flow = tfgen.flows.Glow(event_shape=[8, 8, 1], num_levels=2, num_steps=4,
                            hidden_channels=64)
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    flow.fit(x_train, batch_size=64, epochs=10)
    flow.sample(16, seed=0, temperature=0.7)
    ```

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018.
    """

    supports_conditions = True
    event_ranks = (3,)

    def __init__(self, event_shape, num_levels=2, num_steps=4, hidden_channels=64,
                 log_scale_bound=3.0, activation="relu", **kwargs):
        super().__init__(event_shape, **kwargs)
        if len(self.event_shape) != 3:
            raise ValueError(
                f"Glow takes images: `event_shape` must be [height, width, channels]; "
                f"received {event_shape!r}.")
        self.num_levels = check_positive_int("num_levels", num_levels)
        h, w, c = self.event_shape
        if h % (1 << self.num_levels) or w % (1 << self.num_levels):
            raise ValueError(
                f"`num_levels` {num_levels!r} squeezes the image {self.num_levels} times: "
                f"height and width must be divisible by {1 << self.num_levels}; received "
                f"event_shape {self.event_shape}.")
        self.num_steps = check_positive_int("num_steps", num_steps)
        self.hidden_channels = check_positive_int("hidden_channels", hidden_channels)
        self.log_scale_bound = check_positive_float("log_scale_bound", log_scale_bound)
        self.activation = activation
        self.steps = []
        for level in range(self.num_levels):
            # Level l works on [h / 2^(l+1), w / 2^(l+1), c * 2^(l+2)].
            shape = [h >> (level + 1), w >> (level + 1), c << (level + 2)]
            self.steps.append([
                (ActNormLayer(shape, name=f"level{level}_actnorm_{k}"),
                 LinearLULayer(shape, name=f"level{level}_conv1x1_{k}"),
                 CouplingLayer(shape, "channel", k % 2, [self.hidden_channels] * 2,
                               log_scale_bound=self.log_scale_bound, activation=activation,
                               condition_size=self.condition_size,
                               name=f"level{level}_coupling_{k}"))
                for k in range(self.num_steps)])

    def normalizing_bijector(self, condition=None):
        return bijectors.Glow(
            [[bijectors.glow_step(actnorm.bijector(), conv.bijector(),
                                  coupling.bijector(condition))
              for actnorm, conv, coupling in level]
             for level in self.steps],
            channels=self.event_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_levels": self.num_levels,
                "num_steps": self.num_steps, "hidden_channels": self.hidden_channels,
                "log_scale_bound": self.log_scale_bound, "activation": self.activation}
