"""The toys' densities against math: normalization, agreement with their
samplers, quadrature accuracy, closed forms."""

import numpy as np
import pytest

from tfgen.data import TOYS, get_toy
from tfgen.data.toys import TwoMoons, TwoSpirals


def _grid(toy, n=201):
    lo, hi = toy.bounds
    g = np.linspace(lo, hi, n)
    xx, yy = np.meshgrid(g, g)
    return np.stack([xx.ravel(), yy.ravel()], 1), g[1] - g[0]


@pytest.mark.parametrize("name", sorted(TOYS))
def test_density_integrates_to_one(name):
    toy = get_toy(name)
    points, step = _grid(toy)
    mass = np.exp(toy.log_prob(points)).sum() * step ** 2
    # The checkerboard's edges fall on grid points (a Riemann-sum error of
    # about 2 * step); the smooth densities integrate to 1 almost exactly.
    assert abs(mass - 1.0) < (0.03 if name == "checkerboard" else 1e-3)


@pytest.mark.parametrize("name", sorted(TOYS))
def test_samples_follow_density(name):
    """Bin probabilities from samples match the integrated density."""
    toy = get_toy(name)
    lo, hi = toy.bounds
    edges = np.linspace(lo, hi, 9)
    samples = toy.sample(40_000, seed=3)
    counts, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])
    fine = np.linspace(lo, hi, 8 * 25 + 1)
    centers = 0.5 * (fine[1:] + fine[:-1])
    xx, yy = np.meshgrid(centers, centers, indexing="ij")
    density = np.exp(toy.log_prob(np.stack([xx.ravel(), yy.ravel()], 1))).reshape(xx.shape)
    cell = (fine[1] - fine[0]) ** 2
    probs = density.reshape(8, 25, 8, 25).sum(axis=(1, 3)) * cell
    total_variation = 0.5 * np.abs(counts / len(samples) - probs).sum()
    assert total_variation < 0.03


def test_sampling_is_deterministic_in_seed():
    toy = get_toy("pinwheel")
    np.testing.assert_array_equal(toy.sample(10, seed=1), toy.sample(10, seed=1))
    assert not np.array_equal(toy.sample(10, seed=1), toy.sample(10, seed=2))


@pytest.mark.parametrize("cls", [TwoMoons, TwoSpirals])
def test_curve_quadrature_matches_4x_finer_panels(cls):
    coarse, fine = cls(), cls()
    fine.num_panels = 4 * coarse.num_panels
    lo, hi = coarse.bounds
    far = np.random.default_rng(0).uniform(lo, hi, size=(200, 2))
    x = np.concatenate([coarse.sample(300, seed=0), far])
    reference = fine.log_prob(x)
    # The documented accuracy: 1e-6 in log p wherever p > e^-30.
    kept = reference > -30
    assert kept.sum() > 350
    np.testing.assert_allclose(coarse.log_prob(x)[kept], reference[kept], atol=1e-6)


def test_closed_forms():
    assert get_toy("checkerboard").entropy() == pytest.approx(np.log(8))
    inside = get_toy("checkerboard").log_prob([[0.5, 0.5], [-0.5, 0.5]])
    np.testing.assert_allclose(inside, [-np.log(8), -np.inf])
    # At a centre the neighbours add exp(-18.7) relative: one Gaussian / 8.
    toy = get_toy("eight_gaussians")
    expected = -np.log(2 * np.pi * 0.25 ** 2) - np.log(8)
    assert toy.log_prob([[2.0, 0.0]])[0] == pytest.approx(expected, abs=1e-7)


def test_entropy_estimate_is_close_to_grid_entropy():
    toy = get_toy("rings")
    points, step = _grid(toy, 401)
    log_p = toy.log_prob(points)
    p = np.exp(log_p)
    grid_entropy = -np.sum(np.where(p > 0, p * log_p, 0.0)) * step ** 2
    assert toy.entropy() == pytest.approx(grid_entropy, abs=0.015)


def test_unknown_toy_names_choices():
    with pytest.raises(ValueError, match="two_moons"):
        get_toy("three_moons")
