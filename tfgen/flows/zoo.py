"""The flow zoo: Planar, Radial, NICE and RealNVP as `Flow` models."""

import keras
import tensorflow_probability as tfp

from tfgen import bijectors
from tfgen._validation import check_hidden_units, check_positive_int
from tfgen.flows.flow import Flow
from tfgen.flows.layers import (
    CouplingLayer, PlanarLayer, RadialLayer, ScalingLayer)

tfb = tfp.bijectors

__all__ = ["NICE", "Planar", "Radial", "RealNVP"]


def _chain(steps):
    """`tfb.Chain` of bijectors listed in the order they are applied."""
    return tfb.Chain(list(reversed(steps)))


class _StackedFlow(Flow):
    """`num_layers` layers of `layer_class` on vectors; the normalizing map
    is their bijectors in order."""

    layer_class = None
    event_ranks = (1,)

    def __init__(self, event_shape, num_layers, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.num_layers = check_positive_int("num_layers", num_layers)
        prefix = self.layer_class.__name__.lower().removesuffix("layer")
        self.flow_layers = [self.layer_class(self.event_shape, name=f"{prefix}_{i}")
                            for i in range(self.num_layers)]

    def normalizing_bijector(self, condition=None):
        return _chain([layer.bijector() for layer in self.flow_layers])

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers}


@keras.saving.register_keras_serializable(package="tfgen")
class Planar(_StackedFlow):
    """A stack of planar maps on vectors (Rezende & Mohamed, 2015).

    The planar maps run in the normalizing direction, so `log_prob` (and
    training) is closed form, and `sample` inverts each map by a bracketed
    scalar solve (`tfgen.bijectors.Planar`).

    Args:
      event_shape: `[d]`.
      num_layers: number of planar maps.

    Example:

    ```python
    flow = tfgen.flows.Planar(event_shape=[2], num_layers=16)
    flow.compile(optimizer="adam")
    flow.fit(tfgen.data.get_toy("two_moons").sample(4096, seed=0), epochs=1)
    ```

    References:
      Rezende & Mohamed, "Variational Inference with Normalizing Flows",
      ICML 2015.
    """

    layer_class = PlanarLayer

    def __init__(self, event_shape, num_layers=16, **kwargs):
        super().__init__(event_shape, num_layers, **kwargs)


@keras.saving.register_keras_serializable(package="tfgen")
class Radial(_StackedFlow):
    """A stack of radial maps on vectors (Rezende & Mohamed, 2015).

    Like `Planar`, the maps run in the normalizing direction; their inverse is
    closed form, so sampling is exact and cheap.

    Args:
      event_shape: `[d]`.
      num_layers: number of radial maps.

    Example:

    ```python
    flow = tfgen.flows.Radial(event_shape=[2], num_layers=16)
    ```

    References:
      Rezende & Mohamed, "Variational Inference with Normalizing Flows",
      ICML 2015.
    """

    layer_class = RadialLayer

    def __init__(self, event_shape, num_layers=16, **kwargs):
        super().__init__(event_shape, num_layers, **kwargs)


class _CouplingFlow(Flow):
    """Shared arguments of the coupling flows."""

    supports_conditions = True

    def __init__(self, event_shape, num_couplings, hidden_units,
                 activation="relu", **kwargs):
        super().__init__(event_shape, **kwargs)
        self.num_couplings = check_positive_int("num_couplings", num_couplings)
        self.hidden_units = check_hidden_units(hidden_units)
        self.activation = activation
        self._vector_mask = "half" if len(self.event_shape) == 1 else "checkerboard"

    def get_config(self):
        return {**super().get_config(), "num_couplings": self.num_couplings,
                "hidden_units": self.hidden_units,
                "activation": self.activation}


@keras.saving.register_keras_serializable(package="tfgen")
class NICE(_CouplingFlow):
    """NICE: additive couplings with alternating masks, then a diagonal
    scaling (Dinh et al., 2015).

    Vectors use half masks and MLP conditioners; images `[h, w, c]` use
    checkerboard masks and conv conditioners.

    Args:
      event_shape: `[d]` or `[h, w, c]`.
      num_couplings: number of additive couplings.
      hidden_units: conditioner hidden widths (channels for images).
      activation: conditioner activation.
      num_classes, condition_shape: make the flow conditional (see `Flow`).

    Example:

    ```python
    flow = tfgen.flows.NICE(event_shape=[2], num_couplings=4,
                            hidden_units=[64, 64])
    ```

    References:
      Dinh, Krueger & Bengio, "NICE: Non-linear Independent Components
      Estimation", ICLR 2015 workshop.
    """

    def __init__(self, event_shape, num_couplings=4, hidden_units=(128, 128),
                 activation="relu", **kwargs):
        super().__init__(event_shape, num_couplings, hidden_units, activation,
                         **kwargs)
        self.couplings = [
            CouplingLayer(self.event_shape, self._vector_mask, i % 2,
                          self.hidden_units, transform="additive",
                          activation=activation, condition_size=self.condition_size,
                          name=f"coupling_{i}")
            for i in range(self.num_couplings)]
        self.scaling = ScalingLayer(self.event_shape, name="scaling")

    def normalizing_bijector(self, condition=None):
        return _chain([layer.bijector(condition) for layer in self.couplings]
                      + [self.scaling.bijector()])


@keras.saving.register_keras_serializable(package="tfgen")
class RealNVP(_CouplingFlow):
    """RealNVP: affine couplings with bounded log-scales (Dinh et al., 2017).

    Vectors `[d]`: `num_couplings` couplings with alternating half masks and
    MLP conditioners.

    Images `[h, w, c]`: the multi-scale architecture. Each of `num_scales`
    levels applies `num_couplings` checkerboard couplings, a squeeze to
    `[h/2, w/2, 4c]`, `num_couplings` channel couplings, then factors out half
    the channels to the latent and runs the next level on the other half; the
    last level applies `num_couplings + 1` checkerboard couplings. Each level
    un-squeezes at its end (`tfgen.bijectors.FactorOut`), so the latent has
    the data's shape.

    Args:
      event_shape: `[d]` or `[h, w, c]`.
      num_couplings: couplings (per stage, for images).
      hidden_units: conditioner hidden widths (channels for images).
      log_scale_bound: log-scales are soft-clipped to `(-c, c)`.
      num_scales: image levels with a squeeze; `None` takes as many as the
        size allows (at most 3, each halving an even size, the last >= 2).
      activation: conditioner activation.
      transform: "affine" (RealNVP) or "spline" (rational-quadratic splines
        on `[-spline_bound, spline_bound]`, identity outside; Durkan et al.,
        2019).
      num_bins: spline bins.
      spline_bound: spline interval half-width.
      num_classes, condition_shape: make the flow conditional (see `Flow`);
        the condition is concatenated to every conditioner's input.

    Example:

    ```python
    flow = tfgen.flows.RealNVP(event_shape=[2], num_couplings=8,
                               hidden_units=[128, 128])
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    ```

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017.
    """

    def __init__(self, event_shape, num_couplings=8, hidden_units=(128, 128),
                 log_scale_bound=3.0, num_scales=None, activation="relu",
                 transform="affine", num_bins=8, spline_bound=3.0, **kwargs):
        super().__init__(event_shape, num_couplings, hidden_units, activation,
                         **kwargs)
        if transform not in ("affine", "spline"):
            raise ValueError(
                f"`transform` must be 'affine' or 'spline'; received {transform!r}.")
        self.log_scale_bound = log_scale_bound
        self.transform = transform
        self.num_bins = num_bins
        self.spline_bound = spline_bound
        if len(self.event_shape) == 1:
            if num_scales not in (None, 0):
                raise ValueError(
                    f"`num_scales` applies to images only; received "
                    f"{num_scales!r} for event_shape {self.event_shape}.")
            self.num_scales = 0
            self.couplings = self._stage("half", self.event_shape,
                                         self.num_couplings, "coupling")
            return
        self.num_scales = self._resolve_num_scales(num_scales)
        self.couplings = []
        h, w, c = self.event_shape
        for level in range(self.num_scales):
            shape = [h >> level, w >> level, c << level]
            squeezed = [shape[0] // 2, shape[1] // 2, 4 * shape[2]]
            self.couplings += self._stage(
                "checkerboard", shape, self.num_couplings, f"level{level}_cb")
            self.couplings += self._stage(
                "channel", squeezed, self.num_couplings, f"level{level}_ch")
        final = [h >> self.num_scales, w >> self.num_scales,
                 c << self.num_scales]
        self.couplings += self._stage(
            "checkerboard", final, self.num_couplings + 1, "final_cb")

    def _stage(self, mask, shape, count, prefix):
        return [CouplingLayer(shape, mask, i % 2, self.hidden_units,
                              transform=self.transform,
                              log_scale_bound=self.log_scale_bound,
                              num_bins=self.num_bins,
                              spline_bound=self.spline_bound,
                              activation=self.activation,
                              condition_size=self.condition_size,
                              name=f"{prefix}_{i}")
                for i in range(count)]

    def _resolve_num_scales(self, num_scales):
        h, w, _ = self.event_shape
        possible = 0
        while (possible < 3 and (h >> possible) % 2 == 0
               and (w >> possible) % 2 == 0
               and (h >> (possible + 1)) >= 2 and (w >> (possible + 1)) >= 2):
            possible += 1
        if num_scales is None:
            return possible
        if not isinstance(num_scales, int) or not 0 <= num_scales <= possible:
            raise ValueError(
                f"`num_scales` must be an int in [0, {possible}] for "
                f"event_shape {self.event_shape}; received {num_scales!r}.")
        return num_scales

    def normalizing_bijector(self, condition=None):
        if not self.num_scales:
            return _chain([layer.bijector(condition) for layer in self.couplings])
        return self._level_bijector(0, condition)

    def _level_bijector(self, level, condition):
        k = self.num_couplings
        start = 2 * k * level
        if level == self.num_scales:
            return _chain([layer.bijector(condition) for layer in self.couplings[start:]])
        checkerboard = self.couplings[start:start + k]
        channel = self.couplings[start + k:start + 2 * k]
        channels = self.event_shape[-1] << level
        return _chain(
            [layer.bijector(condition) for layer in checkerboard]
            + [bijectors.Squeeze()]
            + [layer.bijector(condition) for layer in channel]
            + [bijectors.FactorOut(self._level_bijector(level + 1, condition),
                                   num_active=2 * channels),
               tfb.Invert(bijectors.Squeeze())])

    def get_config(self):
        return {**super().get_config(),
                "log_scale_bound": self.log_scale_bound,
                "num_scales": self.num_scales,
                "transform": self.transform,
                "num_bins": self.num_bins,
                "spline_bound": self.spline_bound}
