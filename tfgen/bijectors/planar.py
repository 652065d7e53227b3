"""Planar flow bijector (Rezende & Mohamed, 2015).

    f(z) = z + u_hat * tanh(w^T z + b)

`u_hat` is `u` moved along `w` so that `w^T u_hat > -1`, which makes `f`
invertible. The inverse solves one monotone scalar equation along `w`.
"""

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util, tensor_util

tfb = tfp.bijectors

__all__ = ["Planar"]

# Bisection halves the bracket each step; 100 halvings take any bracket of
# width below 1e12 under float64 resolution. Two Newton steps then polish.
_BISECTION_STEPS = 100
_NEWTON_STEPS = 2


class Planar(tfb.Bijector):
    """Planar flow `f(z) = z + u_hat tanh(w^T z + b)` on vectors.

    The forward pass and its log-determinant are closed form; the inverse
    writes `s = w^T z`, solves the scalar equation

        s + (w^T u_hat) tanh(s + b) = w^T y

    (strictly increasing in `s` because `w^T u_hat > -1`; bracketed by
    `w^T y -+ |w^T u_hat|` because `|tanh| <= 1`) by bisection polished with
    Newton steps, and returns `z = y - u_hat tanh(s + b)`.

    Parameters are kept as given, so a bijector built once from
    `tf.Variable`s (TFP's idiom) trains: every method reads them afresh.

    Args:
      w: Tensor or Variable `[d]`, the direction of the hyperplane, or
        `[..., d]`: a batch of bijectors (e.g. one per example, emitted by
        an encoder), broadcasting against the inputs' batch dimensions.
      u: Tensor or Variable `[..., d]`, the unconstrained translation;
        `u_hat` is used.
      b: Tensor or Variable `[...]`, the offset.
      validate_args: Python `bool`, check argument shapes.
      name: Python `str` name for ops.

    Example:

    ```python
    import numpy as np, tfgen
    f = tfgen.bijectors.Planar(w=[1., 0.5], u=[0.3, -2.], b=0.1)
    x = np.random.randn(5, 2).astype("float32")
    f.inverse(f.forward(x))  # == x
    ```

    References:
      Rezende & Mohamed, "Variational Inference with Normalizing Flows",
      ICML 2015, appendix A.1.
    """

    def __init__(self, w, u, b, validate_args=False, name="planar"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype([w, u, b], tf.float32)
            self._w = tensor_util.convert_nonref_to_tensor(w, dtype=dtype, name="w")
            self._u = tensor_util.convert_nonref_to_tensor(u, dtype=dtype, name="u")
            self._b = tensor_util.convert_nonref_to_tensor(b, dtype=dtype, name="b")
            for arg in ("w", "u"):
                tensor = getattr(self, "_" + arg)
                if tensor.shape.rank is not None and tensor.shape.rank < 1:
                    raise ValueError(
                        f"Planar: `{arg}` must have rank >= 1 ([..., d]); received shape "
                        f"{tensor.shape.as_list()}."
                    )
            if (self._w.shape[-1] is not None and self._u.shape[-1] is not None
                    and self._w.shape[-1] != self._u.shape[-1]):
                raise ValueError(
                    f"Planar: `w` and `u` must have the same size; received "
                    f"{self._w.shape[-1]} and {self._u.shape[-1]}.")
            super().__init__(
                forward_min_event_ndims=1,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            w=tfp.util.ParameterProperties(event_ndims=1),
            u=tfp.util.ParameterProperties(event_ndims=1),
            b=tfp.util.ParameterProperties(event_ndims=0),
        )

    @property
    def w(self):
        return self._w

    @property
    def u(self):
        return self._u

    @property
    def b(self):
        return self._b

    @property
    def u_hat(self):
        """`u + (m(w^T u) - w^T u) w / |w|^2` with `m(a) = -1 + softplus(a)`."""
        return self._values()[1]

    def _values(self):
        """`(w, u_hat, b)` as tensors, each variable read once."""
        w = tf.convert_to_tensor(self._w)
        u = tf.convert_to_tensor(self._u)
        wu = tf.reduce_sum(w * u, axis=-1)
        m = -1.0 + tf.math.softplus(wu)
        u_hat = u + ((m - wu) / tf.reduce_sum(tf.square(w), axis=-1))[..., tf.newaxis] * w
        return w, u_hat, tf.convert_to_tensor(self._b)

    def _forward(self, x):
        w, u_hat, b = self._values()
        return x + u_hat * tf.tanh(tf.reduce_sum(x * w, axis=-1) + b)[..., tf.newaxis]

    def _forward_log_det_jacobian(self, x):
        # det(I + u_hat h'(a) w^T) = 1 + h'(a) w^T u_hat, with h' = 1 - tanh^2.
        w, u_hat, b = self._values()
        a = tf.reduce_sum(x * w, axis=-1) + b
        wu_hat = tf.reduce_sum(w * u_hat, axis=-1)
        return tf.math.log(tf.abs(1.0 + (1.0 - tf.square(tf.tanh(a))) * wu_hat))

    def _inverse(self, y):
        w, u_hat, b = self._values()
        c = tf.reduce_sum(w * u_hat, axis=-1)   # w^T u_hat > -1
        target = tf.reduce_sum(y * w, axis=-1)  # w^T y

        def residual(s):
            return s + c * tf.tanh(s + b) - target

        def bisect(step, lo, hi):
            mid = 0.5 * (lo + hi)
            below = residual(mid) < 0
            return step + 1, tf.where(below, mid, lo), tf.where(below, hi, mid)

        _, lo, hi = tf.while_loop(
            lambda step, lo, hi: step < _BISECTION_STEPS,
            bisect,
            (tf.constant(0), target - tf.abs(c), target + tf.abs(c)),
        )
        s = 0.5 * (lo + hi)
        for _ in range(_NEWTON_STEPS):
            slope = 1.0 + c * (1.0 - tf.square(tf.tanh(s + b)))
            s = s - residual(s) / slope
        return y - u_hat * tf.tanh(s + b)[..., tf.newaxis]
