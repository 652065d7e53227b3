"""Every tfgen bijector through `check_bijector`, in float64 and float32."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import bijectors
from tfgen.testing import BijectorCheckError, check_bijector

tfb = tfp.bijectors
RNG = np.random.default_rng(0)
W4 = RNG.normal(size=(4, 4))


def vector_conditioner(x):
    """A fixed nonlinear (shift, log_scale) function of the masked input."""
    h = tf.tanh(x @ tf.constant(W4, x.dtype))
    return tf.sin(h), 0.8 * tf.tanh(h @ tf.constant(W4.T, x.dtype))


def image_conditioner(x):
    """Mixes space (3x3 average) and channels (a roll), any channel count."""
    h = tf.nn.avg_pool2d(x, 3, 1, "SAME")
    h = h + 0.7 * tf.roll(h, 1, axis=-1)
    return tf.sin(2.0 * h), 0.5 * tf.tanh(3.0 * h)


def planar(dtype):
    # `u` chosen so that w^T u is far below -1: u_hat's reparametrization
    # must keep the map invertible.
    w = np.array([1.0, -0.5, 2.0])
    u = -3.0 * w
    return bijectors.Planar(w.astype(dtype), u.astype(dtype), dtype(0.3))


def radial(dtype):
    return bijectors.Radial(np.array([0.3, -0.2, 0.1], dtype), dtype(0.7), dtype(-0.6))


def radial_expanding(dtype):
    return bijectors.Radial(np.array([0.3, -0.2, 0.1], dtype), dtype(0.2), dtype(4.0))


def coupling(cls, kind):
    def make(dtype):
        if kind == "half":
            cond = vector_conditioner
            shape = [4]
        else:
            cond = image_conditioner
            shape = [4, 4, 2]
        if cls is bijectors.AdditiveCoupling:
            return cls(bijectors.make_mask(kind, shape), lambda x: cond(x)[0])
        return cls(bijectors.make_mask(kind, shape), cond)
    return make


def scaling(dtype):
    return bijectors.Scaling(np.array([0.5, -1.0, 0.2, 2.0], dtype))


def squeeze(dtype):
    return bijectors.Squeeze()


def factor_out(dtype):
    inner = tfb.Chain([
        tfb.Invert(bijectors.Squeeze()),
        bijectors.AffineCoupling(bijectors.make_mask("channel", [2, 2, 4]), image_conditioner),
        bijectors.Squeeze(),
    ])
    return bijectors.FactorOut(inner, num_active=1)


def factor_out_vector(dtype):
    inner = bijectors.AffineCoupling(
        bijectors.make_mask("half", [2]), lambda x: (tf.sin(x), 0.5 * tf.tanh(x[..., ::-1])))
    return bijectors.FactorOut(inner, num_active=2)


def conv1x1(dtype):
    matrix = np.random.default_rng(3).normal(size=(3, 3)) + 2.0 * np.eye(3)
    lower_upper, permutation = tf.linalg.lu(matrix.astype(dtype))
    return bijectors.InvertibleConv1x1(lower_upper, permutation)


def spline_coupling(kind):
    """Spline knots from fixed nonlinear functions of the masked input."""
    def conditioner(x):
        h = vector_conditioner(x)[0] if kind == "half" else image_conditioner(x)[0]
        raw = tf.stack([tf.sin((k + 1.0) * h) for k in range(4)], -1)
        return 2.0 * raw, -1.5 * raw, raw[..., :3]

    def make(dtype):
        shape = [4] if kind == "half" else [4, 4, 2]
        return bijectors.SplineCoupling(bijectors.make_mask(kind, shape), conditioner, bound=2.0)
    return make


def actnorm(event_ndims, channels):
    def make(dtype):
        rng = np.random.default_rng(4)
        return bijectors.ActNorm(rng.normal(size=channels).astype(dtype),
                                 0.5 * rng.normal(size=channels).astype(dtype), event_ndims)
    return make


def glow(dtype):
    """Two levels of two Glow steps on 8x8x1, with fixed random parameters
    (rotations plus noise as 1x1 convolutions, as Glow initializes them)."""
    rng = np.random.default_rng(5)

    def step(channels):
        rotation = np.linalg.qr(rng.normal(size=(channels, channels)))[0]
        matrix = rotation + 0.2 * rng.normal(size=(channels, channels))
        lower_upper, permutation = tf.linalg.lu(matrix.astype(dtype))
        return bijectors.glow_step(
            actnorm(3, channels)(dtype),
            bijectors.InvertibleConv1x1(lower_upper, permutation),
            bijectors.AffineCoupling(bijectors.make_mask("channel", [1, 1, channels]),
                                     image_conditioner))

    return bijectors.Glow([[step(4), step(4)], [step(8), step(8)]], channels=1)


def plain_tfp_chain(dtype):
    """tfgen bijectors composed in plain TFP: Chain and Invert."""
    return tfb.Chain([
        tfb.Invert(coupling(bijectors.AffineCoupling, "half")(dtype)),
        scaling(dtype),
        coupling(bijectors.AdditiveCoupling, "half")(dtype),
    ])


# name -> (factory(dtype), input shape)
CASES = {
    "planar": (planar, [16, 3]),
    "radial_contracting": (radial, [16, 3]),
    "radial_expanding": (radial_expanding, [16, 3]),
    "additive_half": (coupling(bijectors.AdditiveCoupling, "half"), [16, 4]),
    "affine_half": (coupling(bijectors.AffineCoupling, "half"), [16, 4]),
    "additive_checkerboard": (coupling(bijectors.AdditiveCoupling, "checkerboard"), [3, 4, 4, 2]),
    "affine_checkerboard": (coupling(bijectors.AffineCoupling, "checkerboard"), [3, 4, 4, 2]),
    "affine_channel": (coupling(bijectors.AffineCoupling, "channel"), [3, 4, 4, 2]),
    "scaling": (scaling, [16, 4]),
    # 1.5 N(0, 1) inputs: some fall outside [-2, 2], in the identity tails.
    "spline_half": (spline_coupling("half"), [16, 4]),
    "spline_checkerboard": (spline_coupling("checkerboard"), [3, 4, 4, 2]),
    "squeeze": (squeeze, [3, 4, 4, 2]),
    "conv1x1": (conv1x1, [3, 2, 4, 3]),
    "factor_out": (factor_out, [3, 4, 4, 2]),
    "factor_out_vector": (factor_out_vector, [16, 4]),
    "plain_tfp_chain": (plain_tfp_chain, [16, 4]),
    "actnorm_vector": (actnorm(1, 4), [16, 4]),
    "actnorm_image": (actnorm(3, 3), [3, 4, 2, 3]),
    "glow_8x8x1": (glow, [3, 8, 8, 1]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_exactness(name):
    factory, shape = CASES[name]
    x = 1.5 * np.random.default_rng(1).normal(size=shape)
    report = check_bijector(factory(np.float64), x)
    assert report.ok, report.failures
    assert report.round_trip_error < 1e-10
    assert report.inverse_round_trip_error < 1e-10
    assert report.log_det_agreement_error < 1e-8
    assert report.log_det_jacobian_error < 1e-8


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_round_trip(name):
    factory, shape = CASES[name]
    x = (1.5 * np.random.default_rng(2).normal(size=shape)).astype(np.float32)
    report = check_bijector(factory(np.float32), x, jacobian=False)
    assert report.round_trip_error < 1e-5
    assert report.ok, report.failures


class _WrongLogDet(tfb.Bijector):
    """y = 2x but claims log-det 0: check_bijector must catch it."""

    def __init__(self):
        super().__init__(forward_min_event_ndims=1, name="wrong")

    def _forward(self, x):
        return 2.0 * x

    def _inverse(self, y):
        return 0.5 * y

    def _forward_log_det_jacobian(self, x):
        return tf.zeros(tf.shape(x)[:-1], x.dtype)


class _WrongInverse(_WrongLogDet):
    def _inverse(self, y):
        return 0.5 * y + 1e-6

    def _forward_log_det_jacobian(self, x):
        return tf.fill(tf.shape(x)[:-1], tf.constant(np.log(2.0) * 3, x.dtype))


def test_check_bijector_detects_wrong_log_det():
    report = check_bijector(_WrongLogDet(), np.ones([4, 3]))
    assert report.log_det_jacobian_error == pytest.approx(3 * np.log(2.0))
    assert not report.ok
    with pytest.raises(BijectorCheckError, match="log_det_jacobian_error"):
        check_bijector(_WrongLogDet(), np.ones([4, 3]), raise_on_failure=True)


def test_check_bijector_detects_wrong_inverse_despite_cache():
    # TFP's cache would return x itself for inverse(forward(x)); fresh tensors
    # expose the 1e-6 error.
    report = check_bijector(_WrongInverse(), np.ones([4, 3]))
    assert report.round_trip_error == pytest.approx(1e-6, rel=1e-3)
    assert report.log_det_jacobian_error < 1e-12
    assert not report.ok
