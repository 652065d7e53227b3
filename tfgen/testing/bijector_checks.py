"""`check_bijector`: the exactness checks every tfgen bijector passes.

TFP caches bijector calls (`b.inverse(b.forward(x))` returns `x` from the
cache), so every check here feeds tensors rebuilt from NumPy copies.
"""

import dataclasses

import numpy as np
import tensorflow as tf

__all__ = ["BijectorCheckError", "BijectorReport", "check_bijector"]

# Default tolerances by dtype: (round trip, log-det).
_TOLERANCES = {
    tf.float64: (1e-10, 1e-8),
    tf.float32: (1e-5, 1e-3),
}


class BijectorCheckError(AssertionError):
    """Raised by `check_bijector(..., raise_on_failure=True)`."""


@dataclasses.dataclass(frozen=True)
class BijectorReport:
    """Maximum absolute errors found by `check_bijector`.

    Attributes:
      round_trip_error: max |inverse(forward(x)) - x| on fresh tensors.
      inverse_round_trip_error: max |forward(inverse(y)) - y|.
      log_det_agreement_error: max |fldj(x) + ildj(forward(x))|.
      log_det_jacobian_error: max |fldj(x) - log|det J(x)||, J the autodiff
        Jacobian of the forward pass (float64, slogdet); NaN if not checked.
      finite: whether every output, log-det and Jacobian was finite.
      round_trip_tolerance, log_det_tolerance: the tolerances applied.
    """

    round_trip_error: float
    inverse_round_trip_error: float
    log_det_agreement_error: float
    log_det_jacobian_error: float
    finite: bool
    round_trip_tolerance: float
    log_det_tolerance: float

    @property
    def failures(self):
        """A list of human-readable failure descriptions (empty: passed)."""
        out = []
        if not self.finite:
            out.append("non-finite outputs or log-determinants")
        for name in ("round_trip_error", "inverse_round_trip_error"):
            if not getattr(self, name) <= self.round_trip_tolerance:
                out.append(f"{name} {getattr(self, name):.3g} > "
                           f"{self.round_trip_tolerance:g}")
        for name in ("log_det_agreement_error", "log_det_jacobian_error"):
            value = getattr(self, name)
            if not (value <= self.log_det_tolerance or
                    (name == "log_det_jacobian_error" and np.isnan(value))):
                out.append(f"{name} {value:.3g} > {self.log_det_tolerance:g}")
        return out

    @property
    def ok(self):
        return not self.failures


def _fresh(tensor):
    """A new tensor with the same values, invisible to TFP's cache."""
    return tf.constant(np.array(tensor))


def _max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))


def check_bijector(bijector, x, event_ndims=None, jacobian=True,
                   max_jacobian_examples=8, round_trip_tolerance=None,
                   log_det_tolerance=None, raise_on_failure=False):
    """Checks a bijector's inverse and log-determinant against its forward.

    1. Round trips on fresh tensors: `inverse(forward(x))` and
       `forward(inverse(y))`.
    2. `forward_log_det_jacobian(x) == -inverse_log_det_jacobian(y)`.
    3. `forward_log_det_jacobian(x)` against `log|det J|` of the Jacobian of
       `forward` computed by automatic differentiation in float64 and
       `np.linalg.slogdet` (needs a float64 bijector; set `jacobian=False`
       for a float32 one).
    4. Every value is finite.

    Args:
      bijector: a `tfb.Bijector`.
      x: inputs `[batch..., *event_shape]` in the bijector's dtype.
      event_ndims: event rank; defaults to `bijector.forward_min_event_ndims`.
      jacobian: whether to run check 3.
      max_jacobian_examples: check 3 uses at most this many examples.
      round_trip_tolerance, log_det_tolerance: defaults by dtype, 1e-10 and
        1e-8 for float64, 1e-5 and 1e-3 for float32.
      raise_on_failure: raise `BijectorCheckError` when a check fails.

    Returns:
      A `BijectorReport`.

    Example:

    ```python
    import numpy as np, tfgen
    f = tfgen.bijectors.Radial(z0=np.zeros(2), alpha=1.0, beta=0.5)
    report = tfgen.testing.check_bijector(f, np.random.randn(16, 2))
    report.ok, report.round_trip_error
    ```
    """
    x = tf.convert_to_tensor(np.asarray(x))
    if x.dtype not in _TOLERANCES:
        raise TypeError(
            f"check_bijector: `x` must be float32 or float64; received {x.dtype}.")
    default_rt, default_ld = _TOLERANCES[x.dtype]
    if round_trip_tolerance is None:
        round_trip_tolerance = default_rt
    if log_det_tolerance is None:
        log_det_tolerance = default_ld
    if event_ndims is None:
        event_ndims = int(tf.get_static_value(bijector.forward_min_event_ndims))

    y = bijector.forward(_fresh(x))
    x_back = bijector.inverse(_fresh(y))
    y_back = bijector.forward(_fresh(x_back))
    fldj = bijector.forward_log_det_jacobian(_fresh(x), event_ndims=event_ndims)
    ildj = bijector.inverse_log_det_jacobian(_fresh(y), event_ndims=event_ndims)
    fldj = np.broadcast_to(np.asarray(fldj), np.asarray(ildj).shape)
    values = [y, x_back, fldj, ildj]

    jacobian_error = float("nan")
    if jacobian:
        if x.dtype != tf.float64:
            raise TypeError(
                "check_bijector: the Jacobian check needs a float64 bijector "
                f"and `x`; received {x.dtype}. Pass jacobian=False to skip it.")
        jacobian_error, log_dets = _jacobian_error(
            bijector, x, event_ndims, max_jacobian_examples)
        values.append(log_dets)

    report = BijectorReport(
        round_trip_error=_max_abs(x_back, x),
        inverse_round_trip_error=_max_abs(y_back, y),
        log_det_agreement_error=_max_abs(fldj, -np.asarray(ildj)),
        log_det_jacobian_error=jacobian_error,
        finite=all(np.all(np.isfinite(np.asarray(v))) for v in values),
        round_trip_tolerance=round_trip_tolerance,
        log_det_tolerance=log_det_tolerance,
    )
    if raise_on_failure and not report.ok:
        raise BijectorCheckError(
            f"check_bijector failed for {bijector.name}: "
            + "; ".join(report.failures))
    return report


def _jacobian_error(bijector, x, event_ndims, max_examples):
    """Max |fldj - log|det J|| over up to `max_examples` examples."""
    event_shape = x.shape[x.shape.rank - event_ndims:]
    size = int(np.prod(event_shape))
    flat = tf.reshape(x, [-1, size])[:max_examples]
    examples = _fresh(flat)
    with tf.GradientTape() as tape:
        tape.watch(examples)
        y = bijector.forward(tf.reshape(examples, [-1, *event_shape]))
        y_flat = tf.reshape(y, [-1, size])
    jac = tape.batch_jacobian(y_flat, examples).numpy()
    sign, log_det = np.linalg.slogdet(jac)
    fldj = bijector.forward_log_det_jacobian(
        tf.reshape(_fresh(flat), [-1, *event_shape]), event_ndims=event_ndims)
    fldj = np.broadcast_to(np.asarray(fldj), log_det.shape)
    error = _max_abs(fldj, log_det)
    return (error if np.all(sign != 0) else float("inf")), log_det
