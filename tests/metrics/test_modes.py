"""Mode coverage on a Gaussian mixture against samples whose answer is known."""

import numpy as np
import pytest

from tfgen.data import get_toy
from tfgen.metrics import mode_coverage


@pytest.fixture(scope="module")
def toy():
    return get_toy("eight_gaussians")


def test_samples_of_the_mixture_hit_every_mode_and_are_high_quality(toy):
    samples = toy.sample(20000, seed=0)
    out = mode_coverage(samples, toy.centers, toy.sigma)
    assert out["modes_hit"] == 8 and out["num_modes"] == 8
    # |x - c| / sigma of a 2D Gaussian is Rayleigh: P(r <= 3) = 1 - exp(-9/2).
    assert abs(out["high_quality_fraction"] - (1.0 - np.exp(-4.5))) < 0.003
    np.testing.assert_allclose(out["mode_fractions"], np.full(8, 0.125), atol=0.01)


def test_a_collapsed_sampler_hits_one_mode(toy):
    rng = np.random.default_rng(0)
    samples = toy.centers[3] + 0.1 * rng.standard_normal((500, 2))
    out = mode_coverage(samples, toy.centers, toy.sigma)
    assert out["modes_hit"] == 1 and out["high_quality_fraction"] == 1.0
    assert out["mode_fractions"][3] == 1.0


def test_samples_off_the_modes_are_low_quality_and_sparse_modes_do_not_count(toy):
    far = np.zeros((990, 2))  # the centre of the ring: 2 / 0.25 = 8 sigma from every mode
    near = toy.centers[[0] * 10]  # 1% of the samples on mode 0
    out = mode_coverage(np.concatenate([far, near]), toy.centers, toy.sigma)
    assert out["high_quality_fraction"] == pytest.approx(0.01)
    assert out["modes_hit"] == 1
    assert mode_coverage(np.concatenate([far, near[:9]]), toy.centers,
                         toy.sigma)["modes_hit"] == 0


def test_bad_shapes_are_refused(toy):
    with pytest.raises(ValueError, match="must share d"):
        mode_coverage(np.zeros((4, 3)), toy.centers, toy.sigma)
