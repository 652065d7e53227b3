"""Invertible 1x1 convolution (Glow), LU-parametrized.

Every pixel's channel vector is multiplied by one matrix `W = P L U`:

    y[..., i, j, :] = W x[..., i, j, :]
    log|det J| = h * w * sum(log|diag U|)          (O(c), no determinant)

The per-pixel map is TFP's `tfb.ScaleMatvecLU`; this bijector lifts it to
image events `[h, w, c]`, where the log-determinant counts every pixel.
"""

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util, parameter_properties, tensor_util

tfb = tfp.bijectors

__all__ = ["InvertibleConv1x1"]


class InvertibleConv1x1(tfb.Bijector):
    """Glow's invertible 1x1 convolution on images `[h, w, c]`.

    Args:
      lower_upper: `[c, c]` Tensor (or `tf.Variable`, read at every call)
        packing unit-lower-triangular `L` (below the diagonal) and
        upper-triangular `U` (on and above it), as `tf.linalg.lu` returns;
        `diag(U)` must be non-zero.
      permutation: `[c]` int Tensor, the fixed permutation `P`.
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Example:

    ```python
    import numpy as np, tensorflow as tf, tfgen
    lu, perm = tf.linalg.lu(tf.constant([[2.0, 1.0], [0.5, 1.0]]))
    f = tfgen.bijectors.InvertibleConv1x1(lu, perm)
    x = np.random.randn(1, 4, 4, 2).astype("float32")
    f.inverse(f.forward(x))  # == x
    ```

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018, section 3.2.
    """

    def __init__(self, lower_upper, permutation, validate_args=False,
                 name="invertible_conv1x1"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype([lower_upper], tf.float32)
            self._lower_upper = tensor_util.convert_nonref_to_tensor(
                lower_upper, dtype=dtype, name="lower_upper")
            self._permutation = tensor_util.convert_nonref_to_tensor(
                permutation, dtype_hint=tf.int32, name="permutation")
            if self._lower_upper.shape.rank != 2:
                raise ValueError(
                    f"InvertibleConv1x1: `lower_upper` must be a [c, c] matrix; "
                    f"received shape {self._lower_upper.shape.as_list()}.")
            self._matvec = tfb.ScaleMatvecLU(
                self._lower_upper, self._permutation, validate_args=validate_args)
            super().__init__(
                forward_min_event_ndims=3,
                is_constant_jacobian=True,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            lower_upper=tfp.util.ParameterProperties(event_ndims=2),
            permutation=tfp.util.ParameterProperties(
                event_ndims=1,
                default_constraining_bijector_fn=parameter_properties.BIJECTOR_NOT_IMPLEMENTED),
        )

    @property
    def lower_upper(self):
        return self._lower_upper

    @property
    def permutation(self):
        return self._permutation

    def _forward(self, x):
        return self._matvec.forward(x)

    def _inverse(self, y):
        return self._matvec.inverse(y)

    def _forward_log_det_jacobian(self, x):
        pixels = tf.cast(tf.reduce_prod(tf.shape(x)[-3:-1]), x.dtype)
        log_abs_diag = tf.math.log(tf.abs(tf.linalg.diag_part(self._lower_upper)))
        return pixels * tf.reduce_sum(log_abs_diag)
