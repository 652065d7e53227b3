"""Radial flow bijector (Rezende & Mohamed, 2015).

    f(z) = z + beta h(alpha, r) (z - z0),   h = 1 / (alpha + r),  r = |z - z0|

with `alpha > 0` and `beta >= -alpha`, which makes `f` invertible. The inverse
is closed form: the radius `r` of the preimage solves a quadratic.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util, tensor_util

tfb = tfp.bijectors

__all__ = ["Radial"]


class Radial(tfb.Bijector):
    """Radial contraction/expansion around `z0`, on vectors.

    Log-determinant (d = event size):

        log|det J| = (d - 1) log(1 + beta h) + log(1 + beta h + beta h' r)
                   = (d - 1) log(1 + beta h) + log(1 + beta alpha / (alpha + r)^2)

    Inverse: with `R = |y - z0|`, `R = r (1 + beta / (alpha + r))`, so

        r^2 + (alpha + beta - R) r - alpha R = 0,

    whose non-negative root is taken in a cancellation-free form, and
    `z = z0 + (y - z0) / (1 + beta / (alpha + r))`.

    Parameters are kept as given, so a bijector built once from
    `tf.Variable`s (TFP's idiom) trains: every method reads them afresh.

    Args:
      z0: Tensor or Variable `[d]`, the centre, or `[..., d]`: a batch of
        bijectors (e.g. one per example, emitted by an encoder),
        broadcasting against the inputs' batch dimensions.
      alpha: positive Tensor or Variable `[...]`.
      beta: Tensor or Variable `[...]` with `beta >= -alpha`.
      validate_args: Python `bool`, add run-time checks of `alpha` and `beta`
        (of variables: at every call).
      name: Python `str` name for ops.

    Raises:
      ValueError: if constant `alpha` or `beta` are invalid.

    Example:

    ```python
    import numpy as np, tfgen
    f = tfgen.bijectors.Radial(z0=[0., 1.], alpha=0.5, beta=2.0)
    x = np.random.randn(5, 2).astype("float32")
    f.inverse(f.forward(x))  # == x
    ```

    References:
      Rezende & Mohamed, "Variational Inference with Normalizing Flows",
      ICML 2015, appendix A.2.
    """

    def __init__(self, z0, alpha, beta, validate_args=False, name="radial"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype(
                [z0, alpha, beta], tf.float32)
            self._z0 = tensor_util.convert_nonref_to_tensor(z0, dtype=dtype, name="z0")
            self._alpha = tensor_util.convert_nonref_to_tensor(alpha, dtype=dtype, name="alpha")
            self._beta = tensor_util.convert_nonref_to_tensor(beta, dtype=dtype, name="beta")
            if self._z0.shape.rank is not None and self._z0.shape.rank < 1:
                raise ValueError(
                    f"Radial: `z0` must have rank >= 1 ([..., d]); received shape "
                    f"{self._z0.shape.as_list()}.")
            # Variables change after construction: only validate_args checks them.
            alpha_value = _static_value(self._alpha)
            beta_value = _static_value(self._beta)
            if alpha_value is not None and np.any(alpha_value <= 0):
                raise ValueError(
                    f"Radial: `alpha` must be > 0; received {alpha_value}.")
            if (alpha_value is not None and beta_value is not None
                    and np.any(beta_value < -alpha_value)):
                raise ValueError(
                    f"Radial: `beta` must be >= -alpha = {-alpha_value}; "
                    f"received {beta_value}.")
            super().__init__(
                forward_min_event_ndims=1,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            z0=tfp.util.ParameterProperties(event_ndims=1),
            alpha=tfp.util.ParameterProperties(event_ndims=0),
            beta=tfp.util.ParameterProperties(event_ndims=0),
        )

    @property
    def z0(self):
        return self._z0

    @property
    def alpha(self):
        return self._alpha

    @property
    def beta(self):
        return self._beta

    def _values(self):
        """`(z0, alpha, beta)` as tensors, each variable read once."""
        return (tf.convert_to_tensor(self._z0), tf.convert_to_tensor(self._alpha),
                tf.convert_to_tensor(self._beta))

    def _forward(self, x):
        z0, a, beta = self._values()
        r = tf.norm(x - z0, axis=-1, keepdims=True)
        return x + beta[..., None] / (a[..., None] + r) * (x - z0)

    def _forward_log_det_jacobian(self, x):
        z0, a, beta = self._values()
        r = tf.norm(x - z0, axis=-1)
        d = tf.cast(tf.shape(x)[-1], x.dtype)
        return ((d - 1.0) * tf.math.log1p(beta / (a + r))
                + tf.math.log1p(beta * a / tf.square(a + r)))

    def _inverse(self, y):
        z0, a, beta = self._values()
        big_r = tf.norm(y - z0, axis=-1, keepdims=True)
        # r = (-p + sqrt(p^2 + 4 a R)) / 2 with p = a + beta - R; for p > 0 use
        # the equivalent 2 a R / (p + sqrt(...)) to avoid cancellation.
        a, beta = a[..., None], beta[..., None]  # against the kept event axis
        p = a + beta - big_r
        root = tf.sqrt(tf.square(p) + 4.0 * a * big_r)
        r = tf.where(p > 0, 2.0 * a * big_r / (p + root), 0.5 * (root - p))
        return z0 + (y - z0) / (1.0 + beta / (a + r))

    def _parameter_control_dependencies(self, is_init):
        # As TFP: constants are checked once, at construction (`is_init`);
        # variables at every call, since they change.
        if not self.validate_args:
            return []
        alpha_is_ref = tensor_util.is_ref(self._alpha)
        assertions = []
        if is_init != alpha_is_ref:
            assertions.append(tf.debugging.assert_positive(
                self._alpha, message="Radial: `alpha` must be > 0."))
        if is_init != (alpha_is_ref or tensor_util.is_ref(self._beta)):
            assertions.append(tf.debugging.assert_greater_equal(
                self._beta, -self._alpha, message="Radial: `beta` must be >= -alpha."))
        return assertions


def _static_value(value):
    """The constant value of a non-variable tensor, else None."""
    return None if tensor_util.is_ref(value) else tf.get_static_value(value)
