"""Frechet, energy and MMD distances against closed forms, brute force and
repeated draws; their jackknife standard errors; bad input."""

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance

from tfgen.metrics import distances
from tfgen.metrics.distances import (
    energy_distance, frechet_distance, median_bandwidth, mmd, polynomial_mmd)

SAMPLE_DISTANCES = [energy_distance, mmd, polynomial_mmd]


def test_frechet_distance_of_commuting_gaussians_is_closed_form():
    # Diagonal covariances: Tr((C_a C_b)^(1/2)) = sum sqrt(a_k b_k), so
    # d^2 = |m_a - m_b|^2 + sum (sqrt(a_k) - sqrt(b_k))^2; a zero variance included.
    var_a, var_b = np.array([1.0, 4.0, 0.0, 2.5]), np.array([9.0, 1.0, 3.0, 2.5])
    mean_a, mean_b = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert frechet_distance(mean_a, np.diag(var_a), mean_b, np.diag(var_b)) == pytest.approx(
        expected, rel=1e-12)
    # A rotation of both covariances changes nothing, up to the square root
    # of the zero eigenvalue's rounding: sqrt(1e-16) ~ 1e-8.
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    assert frechet_distance(
        rotation @ mean_a, rotation @ np.diag(var_a) @ rotation.T,
        rotation @ mean_b, rotation @ np.diag(var_b) @ rotation.T) == pytest.approx(
            expected, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_matches_sqrtm_on_random_spd(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, 6, 6))
    cov_a, cov_b = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mean_a, mean_b = rng.normal(size=(2, 6))
    expected = np.sum((mean_a - mean_b) ** 2) + np.trace(
        cov_a + cov_b - 2 * scipy.linalg.sqrtm(cov_a @ cov_b).real)
    assert frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mean_a, cov_a, mean_a, cov_a) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("distance", SAMPLE_DISTANCES)
def test_sample_distances_match_brute_force_in_small_blocks(distance, monkeypatch):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(23, 3)), rng.normal(size=(17, 3)) + 0.5
    d_aa, d_bb, d_ab = (scipy.spatial.distance.cdist(x, y) for x, y in ((a, a), (b, b), (a, b)))
    bandwidth = median_bandwidth(np.concatenate([a, b]))
    kernels = {
        energy_distance: lambda x, y, dist: -dist,
        mmd: lambda x, y, dist: np.exp(-dist ** 2 / (2 * bandwidth ** 2)),
        polynomial_mmd: lambda x, y, dist: (x @ y.T / 3 + 1) ** 3,
    }
    k_aa, k_bb, k_ab = (kernels[distance](x, y, dist)
                        for x, y, dist in ((a, a, d_aa), (b, b, d_bb), (a, b, d_ab)))
    n, m = len(a), len(b)
    expected = ((k_aa.sum() - np.trace(k_aa)) / (n * (n - 1))
                + (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1)) - 2 * k_ab.mean())
    assert distance(a, b) == pytest.approx(expected, rel=1e-10)
    # Blocks of 2 rows and fewer than a row: the diagonal crosses block edges.
    for entries in (40, 7):
        monkeypatch.setattr(distances, "_BLOCK_ENTRIES", entries)
        assert distance(a, b) == pytest.approx(expected, rel=1e-10)


def test_median_bandwidth_is_the_median_pairwise_distance_of_the_pooled_sample():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 2)), rng.normal(size=(30, 2))
    pooled = np.concatenate([a, b])
    bandwidth = np.median(scipy.spatial.distance.pdist(pooled))
    assert median_bandwidth(pooled) == pytest.approx(bandwidth, rel=1e-12)
    assert mmd(a, b) == pytest.approx(mmd(a, b, bandwidth=bandwidth), rel=1e-12)


@pytest.mark.parametrize("distance", [energy_distance, mmd])
def test_zero_in_expectation_for_one_distribution(distance):
    rng = np.random.default_rng(1)
    values = np.array([distance(rng.normal(size=(100, 2)), rng.normal(size=(80, 2)))
                       for _ in range(30)])
    stderr = values.std(ddof=1) / np.sqrt(len(values))
    assert np.any(values < 0) and np.any(values > 0)
    assert abs(values.mean()) < 3 * stderr


@pytest.mark.parametrize("distance", [energy_distance, mmd])
def test_grows_with_the_shift(distance):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 500, 2))
    values = [distance(a, b + [shift, 0.0], **({"bandwidth": 1.0} if distance is mmd else {}))
              for shift in (0.25, 0.5, 1.0)]
    assert 0 < values[0] < values[1] < values[2]


@pytest.mark.parametrize("shift", [0.0, 0.5])
@pytest.mark.parametrize("distance", SAMPLE_DISTANCES)
def test_jackknife_stderr_matches_the_spread_over_draws(distance, shift):
    rng = np.random.default_rng(3)
    draws = np.array([distance(rng.normal(size=(60, 2)), rng.normal(size=(50, 2)) + shift,
                               return_stderr=True) for _ in range(100)])
    ratio = np.sqrt(np.mean(draws[:, 1] ** 2)) / draws[:, 0].std(ddof=1)
    # Near exact away from 0; larger (conservative) at 0.
    assert 0.85 < ratio < 1.6


@pytest.mark.parametrize("call, argument", [
    (lambda: energy_distance(np.zeros((5, 2)), np.zeros((5, 3))), "`b`"),
    (lambda: energy_distance(np.zeros(5), np.zeros((5, 1))), "`a`"),
    (lambda: mmd(np.zeros((1, 2)), np.ones((5, 2))), "`a`"),
    (lambda: mmd(np.ones((4, 2)), np.full((4, 2), np.nan)), "`b`"),
    (lambda: mmd(np.ones((4, 2)), np.zeros((4, 2)), bandwidth=-1.0), "`bandwidth`"),
    (lambda: mmd(np.ones((4, 2)), np.ones((4, 2))), "pass a `bandwidth`"),
    (lambda: polynomial_mmd(np.ones((2, 2)), np.zeros((4, 2)), return_stderr=True), "`a`"),
    (lambda: frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3)), "`cov_b`"),
    (lambda: frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3)), "`mean_b`"),
    (lambda: frechet_distance(np.zeros(2), [[1, 1], [0, 1]], np.zeros(2), np.eye(2)), "`cov_a`"),
    (lambda: frechet_distance(np.zeros(2), -np.eye(2), np.zeros(2), np.eye(2)), "`cov_a`"),
])
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_frechet_distance_takes_the_rounded_covariance_of_identical_samples():
    # np.cov of one repeated feature vector is zero up to rounding (entries
    # ~1e-13, some eigenvalues slightly negative): a point mass.
    rng = np.random.default_rng(0)
    features = np.tile(rng.normal(size=(1, 6)), (500, 1)) + 1e-7 * rng.normal(size=(500, 6))
    cov = np.cov(features, rowvar=False)
    mean = features.mean(0)
    other = rng.normal(size=(400, 6))
    d2 = frechet_distance(mean, cov, other.mean(0), np.cov(other, rowvar=False))
    point_mass = np.sum((mean - other.mean(0)) ** 2) + np.trace(np.cov(other, rowvar=False))
    assert d2 == pytest.approx(point_mass, rel=1e-5)
    with pytest.raises(ValueError, match="positive semi-definite"):
        frechet_distance(mean, np.diag([1.0, 1.0, 1.0, 1.0, 1.0, -0.01]), mean, np.eye(6))
