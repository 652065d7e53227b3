"""GAN losses against their formulas, the f-GAN bounds against the
divergences' closed forms at the optimal discriminator, and the gradient
penalty against hand-computed values."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfgen.models.gan import losses

REAL = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], np.float64)
FAKE = np.array([2.0, -1.5, 0.3, 0.0, -6.0], np.float64)


def _log_sigmoid(v):
    return -np.log1p(np.exp(-v))


# name -> (D's per-example loss, G's per-example loss) written from the papers.
FORMULAS = {
    "minimax": (lambda r, f: -_log_sigmoid(r) - np.log(1.0 - 1.0 / (1.0 + np.exp(-f))),
                lambda f: np.log(1.0 - 1.0 / (1.0 + np.exp(-f)))),
    "non_saturating": (lambda r, f: -_log_sigmoid(r) - np.log(1.0 - 1.0 / (1.0 + np.exp(-f))),
                       lambda f: -_log_sigmoid(f)),
    "wasserstein": (lambda r, f: f - r, lambda f: -f),
    "wgan_gp": (lambda r, f: f - r, lambda f: -f),
    "hinge": (lambda r, f: np.maximum(0.0, 1.0 - r) + np.maximum(0.0, 1.0 + f), lambda f: -f),
    "least_squares": (lambda r, f: 0.5 * (r - 1.0) ** 2 + 0.5 * f ** 2,
                      lambda f: 0.5 * (f - 1.0) ** 2),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_each_loss_matches_its_formula_on_fixed_logits(name):
    loss = losses.get_loss(name)
    d_formula, g_formula = FORMULAS[name]
    np.testing.assert_allclose(loss.discriminator_loss(REAL, FAKE), d_formula(REAL, FAKE),
                               rtol=1e-12)
    np.testing.assert_allclose(loss.generator_loss(FAKE), g_formula(FAKE), rtol=1e-12)


# divergence -> (g, f*) from Nowozin et al. Table 2, in NumPy.
FGAN_FORMULAS = {
    "kl": (lambda v: v, lambda t: np.exp(t - 1.0)),
    "reverse_kl": (lambda v: -np.exp(-v), lambda t: -1.0 - np.log(-t)),
    "js": (lambda v: np.log(2.0) - np.log1p(np.exp(-v)), lambda t: -np.log(2.0 - np.exp(t))),
    "pearson": (lambda v: v, lambda t: t ** 2 / 4.0 + t),
}


@pytest.mark.parametrize("divergence", sorted(FGAN_FORMULAS))
def test_fgan_losses_match_their_formulas(divergence):
    g, conjugate = FGAN_FORMULAS[divergence]
    loss = losses.get_loss("fgan", divergence=divergence)
    np.testing.assert_allclose(loss.discriminator_loss(REAL, FAKE),
                               -g(REAL) + conjugate(g(FAKE)), rtol=1e-12)
    np.testing.assert_allclose(loss.generator_loss(FAKE), -g(FAKE), rtol=1e-12)
    saturating = losses.get_loss("fgan", divergence=divergence, saturating=True)
    np.testing.assert_allclose(saturating.generator_loss(FAKE), -conjugate(g(FAKE)),
                               rtol=1e-12)


# The optimal discriminator's raw output v* at density ratio u = p / q:
# T* = f'(u), v* = g^-1(T*).
#   kl:         f'(u) = 1 + log u,                  g(v) = v
#   reverse_kl: f'(u) = -1 / u,   g(v) = -exp(-v):  v* = log u
#   js:         f'(u) = log(2u / (1 + u)), g(v) = log 2 - log(1 + e^-v): v* = log u
#   pearson:    f'(u) = 2 (u - 1),                  g(v) = v
OPTIMAL = {"kl": lambda u: 1.0 + np.log(u), "reverse_kl": np.log, "js": np.log,
           "pearson": lambda u: 2.0 * (u - 1.0)}


def _discrete_divergences(p, q):
    m = 0.5 * (p + q)
    return {"kl": np.sum(p * np.log(p / q)), "reverse_kl": np.sum(q * np.log(q / p)),
            # f-GAN's Jensen-Shannon is twice the JSD: KL(P||M) + KL(Q||M).
            "js": np.sum(p * np.log(p / m)) + np.sum(q * np.log(q / m)),
            "pearson": np.sum((p - q) ** 2 / q)}


@pytest.mark.parametrize("divergence", sorted(OPTIMAL))
def test_fgan_bound_is_the_divergence_at_the_optimal_discriminator_discrete(divergence):
    # P and Q on three points, as equally weighted samples (5/3/2 and 2/3/5 of 10).
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    from_p, from_q = np.repeat([0, 1, 2], [5, 3, 2]), np.repeat([0, 1, 2], [2, 3, 5])
    v = OPTIMAL[divergence](p / q)
    loss = losses.get_loss("fgan", divergence=divergence)
    bound = np.mean(loss.bound(v[from_p], v[from_q]))
    expected = _discrete_divergences(p, q)[divergence]
    np.testing.assert_allclose(bound, expected, rtol=1e-10)
    # Any other discriminator gives less: the bound is a lower bound.
    for shift in (-0.3, 0.2):
        worse = v + shift * np.array([1.0, -1.0, 0.5])
        assert np.mean(loss.bound(worse[from_p], worse[from_q])) < expected


@pytest.mark.parametrize("divergence, expected", [
    # P = N(0, 1), Q = N(1, 1): KL both ways is (mu_p - mu_q)^2 / 2,
    # chi^2(P || Q) = exp((mu_p - mu_q)^2) - 1.
    ("kl", 0.5), ("reverse_kl", 0.5), ("pearson", math.e - 1.0)])
def test_fgan_bound_is_the_divergence_at_the_optimal_discriminator_gaussians(divergence,
                                                                            expected):
    nodes, weights = np.polynomial.hermite.hermgauss(80)
    weights = weights / np.sqrt(np.pi)  # E_N(mu, 1)[h] = sum w h(mu + sqrt(2) t)
    x_p, x_q = np.sqrt(2.0) * nodes, 1.0 + np.sqrt(2.0) * nodes
    log_ratio = lambda x: -0.5 * x ** 2 + 0.5 * (x - 1.0) ** 2  # noqa: E731  log p/q
    v = lambda x: OPTIMAL[divergence](np.exp(log_ratio(x)))  # noqa: E731
    loss = losses.get_loss("fgan", divergence=divergence)
    bound = np.sum(weights * loss.bound(v(x_p), v(x_q)).numpy())
    np.testing.assert_allclose(bound, expected, rtol=1e-8)


def test_minimax_value_at_the_optimal_discriminator_is_twice_the_jsd_minus_log_4():
    # D*(x) = p / (p + q): logit log(p / q); -(D loss) = 2 JSD(P, Q) - log 4.
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    from_p, from_q = np.repeat([0, 1, 2], [5, 3, 2]), np.repeat([0, 1, 2], [2, 3, 5])
    logits = np.log(p / q)
    value = -np.mean(losses.get_loss("minimax").discriminator_loss(logits[from_p],
                                                                   logits[from_q]))
    np.testing.assert_allclose(value, _discrete_divergences(p, q)["js"] - math.log(4.0),
                               rtol=1e-10)


def test_gradient_penalty_of_a_linear_critic_is_its_slope_minus_one_squared():
    w = tf.constant([[0.6], [-1.2], [2.0]], tf.float64)
    real = tf.constant(np.random.default_rng(0).normal(size=(4, 3)))
    fake = tf.constant(np.random.default_rng(1).normal(size=(4, 3)))
    penalty = losses.gradient_penalty(lambda x: tf.matmul(x, w)[:, 0], real, fake,
                                      seed=tf.constant([1, 2]))
    norm = np.sqrt(0.6 ** 2 + 1.2 ** 2 + 2.0 ** 2)
    np.testing.assert_allclose(penalty, np.full(4, (norm - 1.0) ** 2), rtol=1e-6)


def test_gradient_penalty_interpolates_with_one_uniform_weight_per_example():
    # D(x) = |x|^2 / 2 has gradient x; between real = 0 and fake = e (unit
    # vectors) x_hat = (1 - a) e, so the penalty is a^2 for the example's a.
    n = 4000
    real = tf.zeros([n, 2, 2, 1], tf.float64)
    fake = tf.constant(np.tile([[[[1.0], [0.0]], [[0.0], [0.0]]]], [n, 1, 1, 1]))
    critic = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])  # noqa: E731
    penalty = losses.gradient_penalty(critic, real, fake, seed=tf.constant([3, 4])).numpy()
    a = np.sqrt(penalty)
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert len(np.unique(np.round(a, 12))) > n - 10  # one weight per example
    # Uniform: E[a^2] = 1/3, Var[a^2] = 1/5 - 1/9.
    assert abs(penalty.mean() - 1.0 / 3.0) < 4.0 * math.sqrt((0.2 - 1.0 / 9.0) / n)
    # The same weights for the same seed; a loss scale changes nothing.
    again = losses.gradient_penalty(critic, real, fake, seed=tf.constant([3, 4]),
                                    loss_scale=1024.0)
    np.testing.assert_allclose(again, penalty, rtol=1e-9)


def test_gradient_penalty_is_differentiable_in_the_critic():
    w = tf.Variable([[0.5], [0.5]], dtype=tf.float64)
    x = tf.constant([[1.0, 2.0]], tf.float64)
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(lambda v: tf.matmul(v, w)[:, 0], x, x,
                                          seed=tf.constant([0, 0]))
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|
    norm = math.sqrt(0.5)
    np.testing.assert_allclose(tape.gradient(penalty, w),
                               2.0 * (norm - 1.0) * np.array([[0.5], [0.5]]) / norm,
                               rtol=1e-6)


def test_losses_compute_in_float32_under_half_precision():
    loss = losses.get_loss("non_saturating")
    out = loss.discriminator_loss(tf.constant(REAL, tf.bfloat16), tf.constant(FAKE, tf.bfloat16))
    assert out.dtype == tf.float32


@pytest.mark.parametrize("name, options, match", [
    ("nope", {}, "`loss` must be one of"),
    ("fgan", {"divergence": "hellinger"}, "`divergence` must be one of"),
    ("wasserstein", {"clip_value": 0.0}, "`clip_value` must be a float > 0"),
    ("wgan_gp", {"penalty_weight": -1.0}, "`penalty_weight` must be a float >= 0"),
])
def test_bad_loss_arguments_name_themselves(name, options, match):
    with pytest.raises(ValueError, match=match):
        losses.get_loss(name, **options)
