"""Keras layers that own flow weights and build pure bijectors from them.

Each layer's `bijector()` returns a fresh `tfb.Bijector` in the normalizing
direction (data -> latent). The layers are built at construction, so a flow's
weights exist before it sees data.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import bijectors
from tfgen._validation import (
    check_event_shape, check_hidden_units, check_positive_float, check_positive_int)
from tfgen.models.networks import conditioner_network

__all__ = ["CouplingLayer", "LinearLULayer", "PlanarLayer", "RadialLayer", "ScalingLayer"]

tfb = tfp.bijectors

_LOG_E_MINUS_1 = math.log(math.e - 1.0)
# Conditioner outputs per data entry, by coupling transform (K = bins).
_OUTPUTS_PER_ENTRY = {
    "additive": lambda k: 1,
    "affine": lambda k: 2,
    "spline": lambda k: 3 * k - 1,
}


class _FlowLayer(keras.layers.Layer):
    """Base: a layer on events of `event_shape` with a `bijector()` method."""

    def __init__(self, event_shape, ranks=(1, 3), **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_event_shape(event_shape, ranks)

    def bijector(self):
        raise NotImplementedError

    def call(self, inputs):
        """Maps data to latent: `self.bijector().forward(inputs)`."""
        return self.bijector().forward(inputs)

    def get_config(self):
        return {**super().get_config(), "event_shape": self.event_shape}


@keras.saving.register_keras_serializable(package="tfgen")
class PlanarLayer(_FlowLayer):
    """Owns `w`, `u`, `b` of a `tfgen.bijectors.Planar` on vectors.

    The bijector gets `u = u_raw + log(e - 1) w / |w|^2`: then `w^T u =
    log(e - 1)`, where `m(a) = -1 + softplus(a)` equals `a`, so `u_hat =
    u_raw` and the map starts at the identity when `u_raw = 0`. `u_raw`
    starts near zero, `w` as N(0, 1/d).
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(event_shape, ranks=(1,), **kwargs)
        (d,) = self.event_shape
        self.w = self.add_weight(
            shape=(d,), name="w",
            initializer=keras.initializers.RandomNormal(stddev=d ** -0.5))
        self.u_raw = self.add_weight(
            shape=(d,), name="u_raw",
            initializer=keras.initializers.RandomNormal(stddev=0.01))
        self.b = self.add_weight(shape=(), name="b", initializer="zeros")
        self.built = True

    def bijector(self):
        w = tf.convert_to_tensor(self.w)
        u = self.u_raw + _LOG_E_MINUS_1 * w / tf.reduce_sum(tf.square(w))
        return bijectors.Planar(w, u, self.b)


@keras.saving.register_keras_serializable(package="tfgen")
class RadialLayer(_FlowLayer):
    """Owns `z0` and unconstrained `alpha`, `beta` of a `Radial` bijector.

    `alpha = softplus(a)` and `beta = -alpha + softplus(b)` satisfy the
    invertibility constraints for any `a`, `b`; with `a = b = 0` the map
    starts at the identity (`beta = 0`).
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(event_shape, ranks=(1,), **kwargs)
        (d,) = self.event_shape
        self.z0 = self.add_weight(
            shape=(d,), name="z0", initializer="random_normal")
        self.alpha_raw = self.add_weight(
            shape=(), name="alpha_raw", initializer="zeros")
        self.beta_raw = self.add_weight(
            shape=(), name="beta_raw", initializer="zeros")
        self.built = True

    def bijector(self):
        alpha = tf.math.softplus(self.alpha_raw)
        beta = -alpha + tf.math.softplus(self.beta_raw)
        return bijectors.Radial(self.z0, alpha, beta)


@keras.saving.register_keras_serializable(package="tfgen")
class ScalingLayer(_FlowLayer):
    """Owns the log-scale of NICE's `Scaling`; starts at zero (identity)."""

    def __init__(self, event_shape, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.log_scale = self.add_weight(
            shape=tuple(self.event_shape), name="log_scale",
            initializer="zeros")
        self.built = True

    def bijector(self):
        return bijectors.Scaling(self.log_scale)


@keras.saving.register_keras_serializable(package="tfgen")
class CouplingLayer(_FlowLayer):
    """Owns the conditioner network of an additive, affine or spline coupling.

    Args:
      event_shape: `[d]` (MLP conditioner) or `[h, w, c]` (conv conditioner).
      mask: a mask kind of `tfgen.bijectors.make_mask`.
      parity: 0 or 1, flips the mask.
      hidden_units: widths (or channels) of the conditioner's hidden layers.
      transform: `"affine"` (RealNVP), `"additive"` (NICE) or `"spline"`
        (rational-quadratic, Neural Spline Flows).
      log_scale_bound: affine log-scales are `c * tanh(raw / c)` with this
        `c`, so they stay in `(-c, c)`.
      num_bins: spline bins `K`.
      spline_bound: splines act on `[-B, B]`, identity outside.
      activation: the hidden layers' activation.
      condition_size: width `k` of the condition the conditioner also sees
        (concatenated to its input, per pixel for images); 0: unconditional.

    The conditioner's output layer starts at zero: the coupling starts as
    the identity.
    """

    def __init__(self, event_shape, mask, parity, hidden_units,
                 transform="affine", log_scale_bound=3.0, num_bins=8,
                 spline_bound=3.0, activation="relu", condition_size=0, **kwargs):
        super().__init__(event_shape, **kwargs)
        if transform not in _OUTPUTS_PER_ENTRY:
            raise ValueError(
                f"`transform` must be one of {sorted(_OUTPUTS_PER_ENTRY)}; received "
                f"{transform!r}.")
        self.mask = mask
        self.parity = parity
        self.hidden_units = check_hidden_units(hidden_units)
        self.transform = transform
        self.log_scale_bound = check_positive_float("log_scale_bound", log_scale_bound)
        self.num_bins = check_positive_int("num_bins", num_bins)
        self.spline_bound = check_positive_float("spline_bound", spline_bound)
        self.activation = activation
        self.condition_size = int(condition_size)
        self._mask_array = bijectors.make_mask(mask, self.event_shape, parity)
        self._outputs = _OUTPUTS_PER_ENTRY[transform](self.num_bins)
        # The conditioner sees the masked input and, channel-wise, the condition.
        input_shape = [*self.event_shape[:-1], self.event_shape[-1] + self.condition_size]
        self.network = conditioner_network(
            input_shape, self.hidden_units, self.event_shape[-1] * self._outputs,
            activation=activation, name="conditioner")
        self.built = True

    def _network(self, x_masked, condition):
        """Conditioner output on `x_masked` `[..., *event_shape]` and the
        `[batch, k]` condition, broadcast over the pixels of images (and
        over leading sample dimensions, as `distribution.sample(n)` adds)."""
        pixels = len(self.event_shape) - 1
        if condition is not None:
            condition = tf.broadcast_to(
                tf.reshape(condition, [-1] + [1] * pixels + [self.condition_size]),
                tf.concat([tf.shape(x_masked)[:-1], [self.condition_size]], 0))
            x_masked = tf.concat([x_masked, condition], -1)
        if x_masked.shape.rank == pixels + 2:  # [batch, *event_shape]
            return self.network(x_masked)
        batch_shape = tf.shape(x_masked)[:-1 - pixels]
        out = self.network(tf.reshape(x_masked, [-1, *x_masked.shape[-1 - pixels:]]))
        return tf.reshape(out, tf.concat([batch_shape, out.shape[1:]], 0))

    def _shift_and_log_scale(self, out):
        shift, raw = tf.split(out, 2, axis=-1)
        c = self.log_scale_bound
        return shift, c * tf.tanh(raw / c)

    def _spline_parameters(self, out):
        out = tf.reshape(out, tf.concat([tf.shape(out)[:-1], [self.event_shape[-1], self._outputs]], 0))
        k = self.num_bins
        return out[..., :k], out[..., k:2 * k], out[..., 2 * k:]

    def bijector(self, condition=None):
        """The coupling bijector; `condition` (`[batch, condition_size]`)
        is required when the layer has `condition_size > 0`."""
        if (condition is None) != (self.condition_size == 0):
            raise ValueError(
                f"{self.name}: `condition` must be given exactly when condition_size > 0 "
                f"(condition_size={self.condition_size}).")
        if self.transform == "affine":
            return bijectors.AffineCoupling(
                self._mask_array,
                lambda x: self._shift_and_log_scale(self._network(x, condition)))
        if self.transform == "spline":
            return bijectors.SplineCoupling(
                self._mask_array,
                lambda x: self._spline_parameters(self._network(x, condition)),
                bound=self.spline_bound)
        return bijectors.AdditiveCoupling(self._mask_array,
                                          lambda x: self._network(x, condition))

    def get_config(self):
        return {
            **super().get_config(),
            "mask": self.mask,
            "parity": self.parity,
            "hidden_units": self.hidden_units,
            "transform": self.transform,
            "log_scale_bound": self.log_scale_bound,
            "num_bins": self.num_bins,
            "spline_bound": self.spline_bound,
            "activation": self.activation,
            "condition_size": self.condition_size,
        }


@keras.saving.register_keras_serializable(package="tfgen")
class LinearLULayer(_FlowLayer):
    """Owns an LU-parametrized invertible matrix `W = P L U` (P fixed).

    Vectors `[d]` get the dense map `tfb.ScaleMatvecLU`; images `[h, w, c]`
    get the invertible 1x1 convolution (`tfgen.bijectors.InvertibleConv1x1`).
    `diag(U) = sign * exp(log_diag)` with a fixed sign, so `W` stays
    invertible; the log-determinant is `sum(log_diag)` (times `h w` for
    images), O(d). Starts at the identity (`P = I`, `L = U = I`).

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018, section 3.2.
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(event_shape, **kwargs)
        c = self.event_shape[-1]
        self.lower = self.add_weight(shape=(c, c), name="lower", initializer="zeros")
        self.upper = self.add_weight(shape=(c, c), name="upper", initializer="zeros")
        self.log_diag = self.add_weight(shape=(c,), name="log_diag", initializer="zeros")
        self.sign = self.add_weight(shape=(c,), name="sign", initializer="ones",
                                    trainable=False)
        self.permutation = self.add_weight(
            shape=(c,), name="permutation", dtype="int32", trainable=False,
            initializer=lambda shape, dtype: tf.range(shape[0], dtype=dtype))
        self.built = True

    def lower_upper(self):
        """`L` below the diagonal, `U` on and above it, as `tf.linalg.lu` packs."""
        return (tf.linalg.band_part(self.lower, -1, 0) - tf.linalg.band_part(self.lower, 0, 0)
                + tf.linalg.band_part(self.upper, 0, -1) - tf.linalg.band_part(self.upper, 0, 0)
                + tf.linalg.diag(self.sign * tf.exp(self.log_diag)))

    def bijector(self):
        if len(self.event_shape) == 3:
            return bijectors.InvertibleConv1x1(self.lower_upper(), self.permutation)
        return tfb.ScaleMatvecLU(self.lower_upper(), self.permutation)
