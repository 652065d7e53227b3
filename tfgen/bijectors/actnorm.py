"""ActNorm (Glow): a per-channel affine map shared by every position.

    y[..., c] = x[..., c] * exp(s[c]) + b[c]
    log|det J| = (positions per event) * sum_c s[c]

On vectors (`event_ndims=1`) each entry is a channel and there is one
position; on images (`event_ndims=3`, `[h, w, c]`) the map is shared by the
`h * w` pixels. Parametrizing by the log-scale `s` keeps the map invertible
for any `s` and the log-determinant exact.
"""

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util, tensor_util

tfb = tfp.bijectors

__all__ = ["ActNorm"]


class ActNorm(tfb.Bijector):
    """Per-channel scale and shift: `y = x * exp(log_scale) + shift`.

    The parameters are kept as given: tensors, or `tf.Variable`s that every
    call reads afresh (TFP's idiom for a bijector built once and trained).
    `tfgen.flows.ActNormLayer` owns them as weights and sets them from the
    first batch of data (data-dependent initialization), so that the output
    starts with zero mean and unit variance per channel.

    Args:
      shift: `[c]` Tensor or Variable, `b`.
      log_scale: `[c]` Tensor or Variable, `s`.
      event_ndims: 1 for vectors `[c]`, 3 for images `[h, w, c]`.
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Example:

    ```python
    import numpy as np, tfgen
    f = tfgen.bijectors.ActNorm(shift=[1.0, 0.0], log_scale=[0.0, np.log(2.0)],
                                event_ndims=3)
    x = np.ones([1, 4, 4, 2], np.float32)
    f.forward(x)[0, 0, 0]                       # [2.0, 2.0]
    f.forward_log_det_jacobian(x, event_ndims=3)  # 16 * log 2
    ```

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018, section 3.1.
    """

    def __init__(self, shift, log_scale, event_ndims=1, validate_args=False,
                 name="actnorm"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype([shift, log_scale], tf.float32)
            self._shift = tensor_util.convert_nonref_to_tensor(shift, dtype=dtype, name="shift")
            self._log_scale = tensor_util.convert_nonref_to_tensor(
                log_scale, dtype=dtype, name="log_scale")
            for arg, value in (("shift", self._shift), ("log_scale", self._log_scale)):
                if value.shape.rank != 1:
                    raise ValueError(
                        f"ActNorm: `{arg}` must be a [channels] vector; received shape "
                        f"{value.shape.as_list()}.")
            if event_ndims not in (1, 3):
                raise ValueError(
                    f"ActNorm: `event_ndims` must be 1 (vectors) or 3 (images); "
                    f"received {event_ndims!r}.")
            self._event_ndims = event_ndims
            super().__init__(
                forward_min_event_ndims=event_ndims,
                is_constant_jacobian=True,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(shift=tfp.util.ParameterProperties(event_ndims=1),
                    log_scale=tfp.util.ParameterProperties(event_ndims=1))

    @property
    def shift(self):
        return self._shift

    @property
    def log_scale(self):
        return self._log_scale

    def _forward(self, x):
        return x * tf.exp(self._log_scale) + self._shift

    def _inverse(self, y):
        return (y - self._shift) * tf.exp(-self._log_scale)

    def _forward_log_det_jacobian(self, x):
        positions = tf.reduce_prod(tf.shape(x)[-self._event_ndims:-1])
        return tf.cast(positions, x.dtype) * tf.reduce_sum(self._log_scale)
