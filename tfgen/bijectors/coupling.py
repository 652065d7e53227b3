"""Masked coupling bijectors: NICE's additive and RealNVP's affine coupling.

With a binary mask `m` (1 = passes through and conditions) and `x_m = m * x`:

    additive:  y = x_m + (1 - m) * (x + t(x_m))
    affine:    y = x_m + (1 - m) * (x * exp(s(x_m)) + t(x_m))

The conditioner is any callable (typically a method of a Keras layer that owns
the weights); the bijectors hold no variables.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["AdditiveCoupling", "AffineCoupling"]


class _MaskedCoupling(tfb.Bijector):
    """Shared mask handling; subclasses define the elementwise transform."""

    def __init__(self, mask, conditioner, validate_args, parameters, name):
        with tf.name_scope(name) as name:
            mask = np.asarray(mask)
            if mask.ndim == 0 or not np.isin(mask, (0, 1)).all():
                raise ValueError(
                    f"{type(self).__name__}: `mask` must be an array of 0s and "
                    f"1s with the event shape; received {mask!r}.")
            if not callable(conditioner):
                raise TypeError(
                    f"{type(self).__name__}: `conditioner` must be callable; "
                    f"received {conditioner!r}.")
            self._mask = mask.astype(np.float32)
            self._conditioner = conditioner
            super().__init__(
                forward_min_event_ndims=mask.ndim,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @property
    def mask(self):
        return self._mask

    @property
    def conditioner(self):
        return self._conditioner

    def _split(self, x):
        """Returns (mask, 1 - mask, masked input) in the dtype of `x`."""
        mask = tf.constant(self._mask, dtype=x.dtype)
        return mask, 1.0 - mask, mask * x

    def _sum_event(self, values):
        return tf.reduce_sum(values, axis=list(range(-self._mask.ndim, 0)))


class AdditiveCoupling(_MaskedCoupling):
    """NICE's additive coupling `y = x + (1 - m) t(m x)`; volume preserving.

    Args:
      mask: 0/1 array of the event shape (see `tfgen.bijectors.make_mask`).
      conditioner: callable `t(x_masked) -> shift` of the event shape.
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Example:

    ```python
    import numpy as np, tensorflow as tf, tfgen
    mask = tfgen.bijectors.make_mask("half", [4])
    f = tfgen.bijectors.AdditiveCoupling(mask, conditioner=tf.sin)
    x = np.random.randn(3, 4).astype("float32")
    f.inverse(f.forward(x))  # == x
    ```

    References:
      Dinh, Krueger & Bengio, "NICE: Non-linear Independent Components
      Estimation", ICLR 2015 workshop.
    """

    def __init__(self, mask, conditioner, validate_args=False,
                 name="additive_coupling"):
        parameters = dict(locals())
        super().__init__(mask, conditioner, validate_args, parameters, name)

    def _forward(self, x):
        _, free, x_m = self._split(x)
        return x + free * self._conditioner(x_m)

    def _inverse(self, y):
        _, free, y_m = self._split(y)
        return y - free * self._conditioner(y_m)

    def _forward_log_det_jacobian(self, x):
        return tf.zeros(tf.shape(x)[:tf.rank(x) - self._mask.ndim], x.dtype)


class AffineCoupling(_MaskedCoupling):
    """RealNVP's affine coupling `y = m x + (1 - m)(x exp(s) + t)`.

    `(t, s) = conditioner(m x)`; the log-determinant is `sum((1 - m) s)`.
    Bound `s` in the conditioner (e.g. `c tanh(s / c)`) for stable training.

    Args:
      mask: 0/1 array of the event shape (see `tfgen.bijectors.make_mask`).
      conditioner: callable `x_masked -> (shift, log_scale)`, both of the
        event shape.
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Example:

    ```python
    import numpy as np, tensorflow as tf, tfgen
    mask = tfgen.bijectors.make_mask("half", [4])
    f = tfgen.bijectors.AffineCoupling(
        mask, conditioner=lambda x: (tf.sin(x), 0.5 * tf.tanh(x)))
    x = np.random.randn(3, 4).astype("float32")
    f.inverse(f.forward(x))  # == x
    ```

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017.
    """

    def __init__(self, mask, conditioner, validate_args=False,
                 name="affine_coupling"):
        parameters = dict(locals())
        super().__init__(mask, conditioner, validate_args, parameters, name)

    def _forward(self, x):
        _, free, x_m = self._split(x)
        shift, log_scale = self._conditioner(x_m)
        return x_m + free * (x * tf.exp(log_scale) + shift)

    def _inverse(self, y):
        _, free, y_m = self._split(y)
        shift, log_scale = self._conditioner(y_m)
        return y_m + free * ((y - shift) * tf.exp(-log_scale))

    def _forward_log_det_jacobian(self, x):
        _, free, x_m = self._split(x)
        _, log_scale = self._conditioner(x_m)
        return self._sum_event(free * log_scale)
