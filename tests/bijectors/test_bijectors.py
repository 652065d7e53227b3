"""Closed-form and contract tests of individual bijectors and masks."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfgen.testing
from tfgen import bijectors

tfb, tfd = tfp.bijectors, tfp.distributions


@pytest.mark.parametrize("seed", range(5))
def test_planar_u_hat_keeps_invertibility(seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=3)
    u = rng.normal(size=3) * 10 - 5 * w  # w^T u typically far below -1
    f = bijectors.Planar(w, u, 0.0)
    assert float(tf.reduce_sum(f.w * f.u_hat)) > -1.0


def test_planar_forward_matches_formula():
    w, u, b = np.array([1.0, 2.0]), np.array([0.5, 0.25]), 0.1
    f = bijectors.Planar(w, u, b)
    # w^T u = 1 gives m(1) = -1 + log(1 + e); u_hat = u + (m - 1) w / |w|^2.
    m = -1.0 + np.log1p(np.e)
    u_hat = u + (m - 1.0) * w / 5.0
    x = np.array([[0.3, -0.7]])
    expected = x + u_hat * np.tanh(x @ w + b)[:, None]
    np.testing.assert_allclose(f.forward(x), expected, rtol=1e-12)


def test_radial_log_det_matches_formula_and_identity_at_beta_zero():
    z0 = np.zeros(3)
    x = np.array([[1.0, 2.0, 2.0]])  # r = 3
    f = bijectors.Radial(z0, 1.0, 2.0)
    h = 1.0 / (1.0 + 3.0)
    expected = 2 * np.log(1 + 2.0 * h) + np.log(1 + 2.0 * h - 2.0 * h ** 2 * 3.0)
    np.testing.assert_allclose(f.forward_log_det_jacobian(x, 1), [expected], rtol=1e-12)
    identity = bijectors.Radial(z0, 1.0, 0.0)
    np.testing.assert_array_equal(identity.forward(x), x)


@pytest.mark.parametrize("alpha,beta,match", [(0.0, 1.0, "alpha"), (-1.0, 1.0, "alpha"),
                                              (1.0, -1.5, "beta")])
def test_radial_rejects_invalid_parameters(alpha, beta, match):
    with pytest.raises(ValueError, match=match):
        bijectors.Radial(np.zeros(2), alpha, beta)


def test_radial_validate_args_checks_runtime_values():
    alpha, beta = tf.Variable(1.0), tf.Variable(-2.0)

    @tf.function
    def forward():  # in a graph the parameter values are not static
        f = bijectors.Radial(tf.zeros(2), alpha, beta, validate_args=True)
        return f.forward(tf.ones([1, 2]))

    with pytest.raises(tf.errors.InvalidArgumentError, match="beta"):
        forward()


def test_planar_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="same size"):
        bijectors.Planar(np.ones(2), np.ones(3), 0.0)


def test_masks():
    np.testing.assert_array_equal(bijectors.make_mask("half", [5]), [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(bijectors.make_mask("half", [2], parity=1), [0, 1])
    board = bijectors.make_mask("checkerboard", [2, 3, 2])
    np.testing.assert_array_equal(board[..., 0], [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(board[..., 0], board[..., 1])
    channel = bijectors.make_mask("channel", [1, 1, 4], parity=1)
    np.testing.assert_array_equal(channel[0, 0], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="kind"):
        bijectors.make_mask("stripes", [4])
    with pytest.raises(ValueError, match="rank 3"):
        bijectors.make_mask("checkerboard", [4])


def test_coupling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mask"):
        bijectors.AffineCoupling(np.array([0.5, 1.0]), lambda x: (x, x))
    with pytest.raises(TypeError, match="conditioner"):
        bijectors.AdditiveCoupling(np.array([0.0, 1.0]), "not callable")


def test_squeeze_layout_and_shapes():
    x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
    y = bijectors.Squeeze().forward(x)
    assert y.shape == [1, 2, 2, 4]
    # The top-left 2x2 block becomes the channels of the first position.
    np.testing.assert_array_equal(y[0, 0, 0], [0.0, 1.0, 4.0, 5.0])
    assert bijectors.Squeeze().forward_event_shape([6, 4, 3]) == [3, 2, 12]
    assert bijectors.Squeeze().inverse_event_shape([3, 2, 12]) == [6, 4, 3]


def test_compose_in_plain_tfp_transformed_distribution():
    """A tfgen-only chain inside tfd.TransformedDistribution, no tfgen model."""
    conditioner = lambda x: (tf.sin(x), 0.5 * tf.tanh(x))  # noqa: E731
    chain = tfb.Chain([
        bijectors.Radial(np.array([0.5, 0.0]), 1.0, 0.7),
        tfb.Invert(bijectors.Planar(np.array([1.0, -1.0]), np.array([0.3, 0.2]), 0.1)),
        bijectors.AffineCoupling(bijectors.make_mask("half", [2]), conditioner),
        bijectors.Scaling(np.array([0.2, -0.3])),
    ])
    base = tfd.MultivariateNormalDiag(loc=np.zeros(2))
    dist = tfd.TransformedDistribution(base, chain)
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 2)))
    # Change of variables by hand, each step through the inverse maps.
    z, log_det = x, tf.zeros(8, tf.float64)
    for step in chain.bijectors:  # Chain applies its list right to left forward
        log_det += step.inverse_log_det_jacobian(z, event_ndims=1)
        z = step.inverse(z)
    np.testing.assert_allclose(dist.log_prob(x), base.log_prob(z) + log_det, rtol=1e-10)
    samples = dist.sample(16, seed=(1, 2))
    assert np.all(np.isfinite(dist.log_prob(tf.constant(samples.numpy()))))


def test_spline_coupling_identity_tails_and_zero_start():
    mask = bijectors.make_mask("half", [2])
    # Knots of the free entry come from the conditioning entry (x reversed).
    wild = lambda x: (5 * tf.stack([x[..., ::-1]] * 4, -1),  # noqa: E731
                      -3 * tf.stack([x[..., ::-1]] * 4, -1), 2 * tf.stack([x[..., ::-1]] * 3, -1))
    f = bijectors.SplineCoupling(mask, wild, bound=2.0)
    x = np.array([[0.3, 2.5], [-1.0, -7.0], [0.5, 0.4]])
    y = f.forward(x).numpy()
    np.testing.assert_array_equal(y[:, 0], x[:, 0])        # conditioning entry
    np.testing.assert_array_equal(y[:2, 1], x[:2, 1])      # beyond the bound: identity
    np.testing.assert_allclose(f.forward_log_det_jacobian(x[:2], 1), [0.0, 0.0], atol=1e-12)
    assert y[2, 1] != x[2, 1]
    zeros = lambda x: (tf.zeros([*x.shape, 4], x.dtype), tf.zeros([*x.shape, 4], x.dtype),  # noqa: E731
                       tf.zeros([*x.shape, 3], x.dtype))
    identity = bijectors.SplineCoupling(mask, zeros, bound=2.0)
    np.testing.assert_allclose(identity.forward(x), x, atol=1e-12)


@pytest.mark.parametrize("kind", ["planar", "radial"])
def test_batched_parameters_are_one_bijector_per_example(kind):
    """Parameters `[b, ...]` (an encoder's, one set per example) act as b
    bijectors: each row as the unbatched bijector of its own parameters,
    exact under check_bijector, broadcasting over leading sample axes."""
    rng = np.random.default_rng(3)
    b, d = 5, 3
    if kind == "planar":
        params = (rng.normal(size=(b, d)), rng.normal(size=(b, d)), rng.normal(size=b))
        make = bijectors.Planar
    else:
        params = (rng.normal(size=(b, d)), rng.uniform(0.2, 2.0, size=b), rng.normal(size=b))
        params = (params[0], params[1], np.maximum(params[2], -params[1]))
        make = bijectors.Radial
    batched = make(*params)
    x = rng.normal(size=(4, b, d))
    report = tfgen.testing.check_bijector(batched, x[0])
    assert report.ok, report
    y, log_det = batched.forward(x), batched.forward_log_det_jacobian(x, event_ndims=1)
    assert y.shape == (4, b, d) and log_det.shape == (4, b)
    for i in range(b):
        single = make(*(p[i] for p in params))
        np.testing.assert_allclose(y[:, i], single.forward(x[:, i]), rtol=1e-12)
        np.testing.assert_allclose(log_det[:, i],
                                   single.forward_log_det_jacobian(x[:, i], event_ndims=1),
                                   rtol=1e-12)
        np.testing.assert_allclose(batched.inverse(tf.constant(y.numpy()))[:, i], x[:, i],
                                   atol=1e-10)
