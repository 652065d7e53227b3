"""tfgen bijectors built once from `tf.Variable`s train in plain TFP code.

TFP's idiom is `tfb.Scale(tf.Variable(...))`: the bijector is built once and
reads its variables at every call, so a `tf.GradientTape` loop with the
variables created outside the tape trains it. Each case here checks that the
bijector lists its variables, that the tape's gradients equal central finite
differences (float64), and that plain gradient descent lowers the NLL.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import bijectors

tfb, tfd = tfp.bijectors, tfp.distributions


def _variable(value, name):
    return tf.Variable(np.asarray(value, np.float64), name=name)


def planar():
    w, u, b = _variable([1.0, -0.5], "w"), _variable([0.3, 0.8], "u"), _variable(0.1, "b")
    return bijectors.Planar(w, u, b), [w, u, b], [2], 3


def radial():
    z0 = _variable([0.2, -0.1], "z0")
    alpha, beta = _variable(0.8, "alpha"), _variable(0.5, "beta")
    return bijectors.Radial(z0, alpha, beta), [z0, alpha, beta], [2], 3


def scaling():
    log_scale = _variable([0.2, -0.3], "log_scale")
    return bijectors.Scaling(log_scale), [log_scale], [2], 1


def actnorm_vector():
    shift, log_scale = _variable([0.1, -0.2], "shift"), _variable([0.3, 0.1], "log_scale")
    return bijectors.ActNorm(shift, log_scale, event_ndims=1), [shift, log_scale], [2], 2


def actnorm_image():
    shift, log_scale = _variable([0.1, -0.2], "shift"), _variable([0.3, 0.1], "log_scale")
    return bijectors.ActNorm(shift, log_scale, event_ndims=3), [shift, log_scale], [2, 2, 2], 2


def conv1x1():
    lower_upper, permutation = tf.linalg.lu(np.array([[1.5, 0.4], [-0.3, 0.9]]))
    variable = tf.Variable(lower_upper, name="lower_upper")
    return bijectors.InvertibleConv1x1(variable, permutation), [variable], [2, 2, 2], 1


def affine_coupling():
    kernel = _variable([[0.4, -0.7], [0.2, 0.5]], "kernel")

    def conditioner(x):
        h = tf.tanh(x @ kernel)
        return h, 0.5 * h[..., ::-1]

    mask = bijectors.make_mask("half", [2])
    return bijectors.AffineCoupling(mask, conditioner), [kernel], [2], 0


def glow():
    """One Glow level on [2, 2, 1] whose three steps' parameters are variables."""
    shift, log_scale = _variable(0.1 * np.arange(4), "shift"), _variable(np.zeros(4), "s")
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]
    lower_upper, permutation = tf.linalg.lu(rotation)
    lu = tf.Variable(lower_upper, name="lower_upper")
    kernel = _variable(0.3 * np.ones([1, 1, 4, 4]), "kernel")

    def conditioner(x):
        h = tf.nn.conv2d(x, kernel, 1, "SAME")
        return h, 0.3 * tf.tanh(h)

    step = bijectors.glow_step(
        bijectors.ActNorm(shift, log_scale, event_ndims=3),
        bijectors.InvertibleConv1x1(lu, permutation),
        bijectors.AffineCoupling(bijectors.make_mask("channel", [1, 1, 4]), conditioner))
    return bijectors.Glow([[step]], channels=1), [shift, log_scale, lu, kernel], [2, 2, 1], 3


# name -> () -> (bijector, variables, event shape, how many of the variables
# are the bijector's parameters; the rest are its conditioner's).
CASES = {f.__name__: f for f in (planar, radial, scaling, actnorm_vector, actnorm_image,
                                 conv1x1, affine_coupling, glow)}


def _loss_fn(bijector, event_shape):
    """NLL of fixed data under N(0, I) pushed through `bijector^-1`: the
    bijector runs in the normalizing direction, as in tfgen's flows."""
    base = tfd.Sample(tfd.Normal(np.float64(0.0), np.float64(1.0)), event_shape)
    distribution = tfd.TransformedDistribution(base, tfb.Invert(bijector))
    x = 0.7 * np.random.default_rng(1).normal(size=[16, *event_shape]) + 0.4
    # A NumPy input is a fresh tensor at every call: TFP's cache never answers.
    return lambda: -tf.reduce_mean(distribution.log_prob(x))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bijector_built_once_from_variables_trains(name):
    bijector, variables, event_shape, num_parameters = CASES[name]()
    # The variables passed as parameters (not those a conditioner closes over).
    listed = {v.ref() for v in bijector.trainable_variables}
    assert listed == {v.ref() for v in variables[:num_parameters]}
    loss = _loss_fn(bijector, event_shape)

    with tf.GradientTape() as tape:
        value = loss()
    gradients = tape.gradient(value, variables)
    assert all(g is not None for g in gradients), [v.name for v, g in
                                                   zip(variables, gradients) if g is None]

    # The tape's gradient is the derivative of the loss in each variable.
    eps = 1e-6
    for variable, gradient in zip(variables, gradients):
        flat = variable.numpy().ravel()
        numeric = np.empty_like(flat)
        for i in range(flat.size):
            shifted = flat.copy()
            shifted[i] += eps
            variable.assign(shifted.reshape(variable.shape))
            above = float(loss())
            shifted[i] -= 2 * eps
            variable.assign(shifted.reshape(variable.shape))
            below = float(loss())
            numeric[i] = (above - below) / (2 * eps)
        variable.assign(flat.reshape(variable.shape))
        np.testing.assert_allclose(np.ravel(gradient), numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=variable.name)
    assert max(np.abs(g.numpy()).max() for g in gradients) > 1e-3

    # Plain gradient descent on the variables lowers the NLL.
    start = float(loss())
    for _ in range(10):
        with tf.GradientTape() as tape:
            value = loss()
        for variable, gradient in zip(variables, tape.gradient(value, variables)):
            variable.assign_sub(0.05 * gradient)
    assert float(loss()) < start - 1e-3
