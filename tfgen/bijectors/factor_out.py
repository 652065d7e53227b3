"""FactorOut: apply a bijector to the leading channels, pass the rest through.

This is the multi-scale "factor out" of RealNVP and Glow written as one
shape-preserving bijector: the trailing channels go to the latent unchanged,
and the inner bijector (the deeper levels) sees only the leading ones.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["FactorOut"]


class FactorOut(tfb.Bijector):
    """`y = concat(inner(x[..., :k]), x[..., k:])` along the channel axis.

    Args:
      bijector: the inner `tfb.Bijector`; it must keep the shape of its input
        (end a `Squeeze` with `tfb.Invert(Squeeze())`). Events have its
        `forward_min_event_ndims` (at least 1); the split is on the last axis.
      num_active: number of leading channels `k` the inner bijector sees.
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Example:

    ```python
    import tensorflow_probability as tfp, tfgen
    inner = tfp.bijectors.Scale(2.0)
    f = tfgen.bijectors.FactorOut(inner, num_active=1)
    f.forward([[[[1.0, 1.0]]]])  # [[[[2.0, 1.0]]]]
    ```

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017, section 3.6.
    """

    def __init__(self, bijector, num_active, validate_args=False,
                 name="factor_out"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            if not isinstance(bijector, tfb.Bijector):
                raise TypeError(
                    f"FactorOut: `bijector` must be a tfb.Bijector; received "
                    f"{bijector!r}.")
            if not isinstance(num_active, int) or num_active < 1:
                raise ValueError(
                    f"FactorOut: `num_active` must be a positive int; received "
                    f"{num_active!r}.")
            self._bijector = bijector
            self._num_active = num_active
            self._event_ndims = max(
                1, int(tf.get_static_value(bijector.forward_min_event_ndims)))
            super().__init__(
                forward_min_event_ndims=self._event_ndims,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    @property
    def bijector(self):
        return self._bijector

    @property
    def num_active(self):
        return self._num_active

    def _apply(self, fn, x):
        active, passive = x[..., :self._num_active], x[..., self._num_active:]
        return tf.concat([fn(active), passive], axis=-1)

    def _forward(self, x):
        return self._apply(self._bijector.forward, x)

    def _inverse(self, y):
        return self._apply(self._bijector.inverse, y)

    def _forward_log_det_jacobian(self, x):
        return self._bijector.forward_log_det_jacobian(
            x[..., :self._num_active], event_ndims=self._event_ndims)
