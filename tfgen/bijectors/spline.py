"""Rational-quadratic spline coupling (Durkan et al., 2019).

With a binary mask `m` and `x_m = m * x`, every free entry goes through its
own monotone rational-quadratic spline on `[-B, B]`, whose knots come from a
conditioner of `x_m`:

    y = x_m + (1 - m) * spline_{theta(x_m)}(x)

Outside `[-B, B]` each spline is the identity (TFP's linear tails), so
inputs beyond the bound stay finite and exactly invertible.
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

from tfgen.bijectors.coupling import _MaskedCoupling

tfb = tfp.bijectors

__all__ = ["SplineCoupling", "spline_from_raw"]

_MIN_BIN = 1e-3
_MIN_SLOPE = 1e-3
# softplus(raw + _SLOPE_OFFSET) + _MIN_SLOPE == 1 at raw == 0.
_SLOPE_OFFSET = math.log(math.expm1(1.0 - _MIN_SLOPE))


def spline_from_raw(raw_widths, raw_heights, raw_slopes, bound):
    """`tfb.RationalQuadraticSpline` on `[-bound, bound]` from unconstrained
    parameters `[..., K]`, `[..., K]`, `[..., K - 1]`.

    Widths and heights are `min + (2 bound - K min) softmax(raw)`; interior
    slopes are `min + softplus(raw + c)`. All-zero inputs give the identity.
    """
    num_bins = raw_widths.shape[-1]
    span = 2.0 * bound - num_bins * _MIN_BIN
    widths = _MIN_BIN + span * tf.nn.softmax(raw_widths, axis=-1)
    heights = _MIN_BIN + span * tf.nn.softmax(raw_heights, axis=-1)
    slopes = _MIN_SLOPE + tf.math.softplus(raw_slopes + _SLOPE_OFFSET)
    return tfb.RationalQuadraticSpline(widths, heights, slopes, range_min=-bound)


class SplineCoupling(_MaskedCoupling):
    """Coupling whose free entries go through rational-quadratic splines.

    Args:
      mask: 0/1 array of the event shape (see `tfgen.bijectors.make_mask`).
      conditioner: callable `x_masked -> (raw_widths, raw_heights,
        raw_slopes)` of shapes `event_shape + [K]`, `+ [K]`, `+ [K - 1]`
        (unconstrained; see `spline_from_raw`).
      bound: the splines act on `[-bound, bound]`; identity outside.
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Example:

    ```python
    import numpy as np, tensorflow as tf, tfgen
    mask = tfgen.bijectors.make_mask("half", [2])
    cond = lambda x: (tf.stack([x] * 4, -1), tf.stack([-x] * 4, -1), tf.stack([x] * 3, -1))
    f = tfgen.bijectors.SplineCoupling(mask, cond, bound=3.0)
    x = np.random.randn(5, 2)
    f.inverse(f.forward(x))  # == x
    ```

    References:
      Durkan, Bekasov, Murray & Papamakarios, "Neural Spline Flows",
      NeurIPS 2019.
    """

    def __init__(self, mask, conditioner, bound=3.0, validate_args=False,
                 name="spline_coupling"):
        parameters = dict(locals())
        if not bound > 0:
            raise ValueError(f"SplineCoupling: `bound` must be > 0; received {bound!r}.")
        self._bound = float(bound)
        super().__init__(mask, conditioner, validate_args, parameters, name)

    @property
    def bound(self):
        return self._bound

    def _spline(self, x_masked):
        return spline_from_raw(*self._conditioner(x_masked), bound=self._bound)

    def _forward(self, x):
        _, free, x_m = self._split(x)
        return x_m + free * self._spline(x_m).forward(x)

    def _inverse(self, y):
        _, free, y_m = self._split(y)
        return y_m + free * self._spline(y_m).inverse(y)

    def _forward_log_det_jacobian(self, x):
        _, free, x_m = self._split(x)
        log_det = self._spline(x_m).forward_log_det_jacobian(x, event_ndims=0)
        return self._sum_event(free * log_det)
