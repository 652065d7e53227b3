"""Score-matching objectives against closed forms, for the Gaussian model
s(x) = -(x - m) / v on Gaussian data N(mu, s^2 I): DSM's expectation and
minimizer, ESM's per-example value, and SSM's expectation over its
projections equal to ESM's (Song et al. 2019: the same objective up to a
constant)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.models.score import (DenoisingScoreMatching, ExactScoreMatching, SlicedScoreMatching,
                                geometric_sigmas, make_objective)

D, MU, S = 3, np.array([0.5, -1.0, 2.0], np.float32), 0.7


def data(n, seed=0):
    return (MU + S * np.random.default_rng(seed).normal(size=(n, D))).astype(np.float32)


def gaussian_score(m, v):
    return lambda x, sigma: -(x - m) / v


def test_dsm_is_its_closed_form_and_is_least_at_the_perturbed_score():
    m, v, sigma = np.array([0.0, -1.0, 1.0], np.float32), 1.3, 0.8
    dsm = DenoisingScoreMatching([sigma])
    n = 200_000
    losses = dsm(gaussian_score(m, v), tf.constant(data(n)), tf.constant([0, 1])).numpy()
    # 1/2 E|| -sigma (x - m) / v + (1 - sigma^2 / v) z ||^2
    expected = 0.5 * (sigma ** 2 / v ** 2 * (np.sum((MU - m) ** 2) + D * S ** 2)
                      + D * (1 - sigma ** 2 / v) ** 2)
    assert abs(losses.mean() - expected) < 5 * losses.std() / np.sqrt(n)
    # Over v (at m = mu), the expected loss is least at the perturbed data's
    # variance s^2 + sigma^2.
    x = tf.constant(data(50_000, seed=1))
    grid = np.linspace(0.5, 1.7, 25)
    means = [dsm(gaussian_score(MU, v), x, tf.constant([0, 2])).numpy().mean() for v in grid]
    assert abs(grid[int(np.argmin(means))] - (S ** 2 + sigma ** 2)) <= grid[1] - grid[0]


def test_esm_is_the_trace_plus_half_the_squared_score_per_example():
    m, v = np.array([1.0, 0.0, -1.0], np.float32), 0.6
    x = data(7)
    losses = ExactScoreMatching()(gaussian_score(m, v), tf.constant(x), tf.constant([0, 0]))
    np.testing.assert_allclose(losses, -D / v + 0.5 * np.sum((x - m) ** 2, -1) / v ** 2,
                               rtol=1e-5)


@pytest.mark.parametrize("variance_reduction", [True, False])
@pytest.mark.parametrize("projection", ["gaussian", "rademacher"])
def test_ssm_averages_to_esm_per_example_for_a_network(variance_reduction, projection):
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.layers.Dense(16, "tanh"), keras.layers.Dense(D)])
    score = lambda x, sigma: net(x)  # noqa: E731  (a non-linear score: its Jacobian varies)
    x = tf.constant(data(4))
    esm = ExactScoreMatching()(score, x, tf.constant([0, 0])).numpy()
    k = 4000
    ssm = SlicedScoreMatching(num_projections=k, variance_reduction=variance_reduction,
                              projection=projection)(score, x, tf.constant([0, 3])).numpy()
    # Both terms are unbiased in v; the Monte Carlo error of k projections
    # is below ~0.1 at these scores.
    np.testing.assert_allclose(ssm, esm, atol=0.15)


def test_noise_levels_weight_each_objective_by_sigma_squared():
    m, v, sigma = MU, 0.9, 0.5
    n = 100_000
    x = tf.constant(data(n, seed=2))
    esm = ExactScoreMatching([sigma])(gaussian_score(m, v), x, tf.constant([1, 1])).numpy()
    # sigma^2 (-D / v + 1/2 E||x~ - m||^2 / v^2), x~ ~ N(mu, (s^2 + sigma^2) I)
    expected = sigma ** 2 * (-D / v + 0.5 * D * (S ** 2 + sigma ** 2) / v ** 2)
    assert abs(esm.mean() - expected) < 5 * esm.std() / np.sqrt(n)
    ssm = SlicedScoreMatching([sigma])(gaussian_score(m, v), x, tf.constant([1, 1])).numpy()
    assert abs(ssm.mean() - expected) < 5 * ssm.std() / np.sqrt(n)


def test_levels_are_geometric_and_bad_objectives_name_themselves():
    np.testing.assert_allclose(geometric_sigmas(10.0, 0.01, 4), [10.0, 1.0, 0.1, 0.01], rtol=1e-6)
    with pytest.raises(ValueError, match="`objective` must be one of"):
        make_objective("nce", [1.0])
    with pytest.raises(ValueError, match="`sigmas`: denoising score matching needs"):
        DenoisingScoreMatching(None)
    with pytest.raises(ValueError, match="`projection` must be"):
        SlicedScoreMatching(projection="sphere")
