"""NICE's diagonal scaling layer: y = x * exp(s), log-det sum(s)."""

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util, tensor_util

tfb = tfp.bijectors

__all__ = ["Scaling"]


class Scaling(tfb.Bijector):
    """Elementwise scaling by `exp(log_scale)`, parametrized in log space.

    `tfb.Scale(tf.exp(s))` computes the same map; this bijector keeps `s`
    itself so that the log-determinant is exactly `sum(s)`, with no
    `log(exp(s))` round-off, and states its event rank explicitly.

    Args:
      log_scale: Tensor or `tf.Variable` of the event shape, `s` (a variable
        is read at every call, so a bijector built once trains).
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Example:

    ```python
    import tfgen
    f = tfgen.bijectors.Scaling(log_scale=[0.5, -1.0])
    f.forward([[1.0, 1.0]])  # [[1.6487, 0.3679]]
    ```

    References:
      Dinh, Krueger & Bengio, "NICE: Non-linear Independent Components
      Estimation", ICLR 2015 workshop, section 3.3.
    """

    def __init__(self, log_scale, validate_args=False, name="scaling"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype([log_scale], tf.float32)
            self._log_scale = tensor_util.convert_nonref_to_tensor(
                log_scale, dtype=dtype, name="log_scale")
            if self._log_scale.shape.rank is None:
                raise ValueError("Scaling: `log_scale` needs a known rank.")
            super().__init__(
                forward_min_event_ndims=self._log_scale.shape.rank,
                is_constant_jacobian=True,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(log_scale=tfp.util.ParameterProperties(
            event_ndims=lambda self, x_event_ndims: self._log_scale.shape.rank))

    @property
    def log_scale(self):
        return self._log_scale

    def _forward(self, x):
        return x * tf.exp(self._log_scale)

    def _inverse(self, y):
        return y * tf.exp(-self._log_scale)

    def _forward_log_det_jacobian(self, x):
        return tf.reduce_sum(self._log_scale)
