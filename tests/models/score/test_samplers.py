"""Score samplers with analytic scores: Langevin reaches a Gaussian's mean
and variance; on a 0.8/0.2 mixture of two far Gaussians plain Langevin
gets the weights wrong and annealed Langevin and predictor-corrector
recover them (Song & Ermon 2019, section 3.2.2); a walk in pieces is the
whole walk."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen.models.score import (AnnealedLangevin, LangevinDynamics, PredictorCorrector,
                                geometric_sigmas)

MEANS = np.array([[-5.0, -5.0], [5.0, 5.0]], np.float32)
WEIGHTS = np.array([0.2, 0.8], np.float32)


def mixture_score(x, sigma):
    """grad log of sum_k w_k N(x; mu_k, (1 + sigma^2) I): the mixture
    perturbed by N(0, sigma^2 I)."""
    variance = 1.0 + tf.cast(sigma, tf.float32)[:, None, None] ** 2        # [b, 1, 1]
    diff = x[:, None, :] - MEANS[None]                                     # [b, k, d]
    logits = np.log(WEIGHTS)[None] - 0.5 * tf.reduce_sum(diff ** 2, -1) / variance[..., 0]
    responsibilities = tf.nn.softmax(logits, axis=-1)[..., None]
    return tf.reduce_sum(-responsibilities * diff / variance, axis=1)


def uniform_start(n, seed=0):
    return tf.random.stateless_uniform([n, 2], [seed, 7], -8.0, 8.0)


def heavy_fraction(x):
    """The fraction of samples nearer the weight-0.8 mode (5, 5)."""
    return float(np.mean(np.sum(x, axis=-1) > 0))


def test_langevin_reaches_a_gaussians_mean_and_variance():
    mean, var = np.array([1.0, -2.0], np.float32), np.array([0.25, 4.0], np.float32)
    eps = 0.02
    walk = LangevinDynamics(step_size=eps, num_steps=3000)
    x = walk(lambda x, sigma: -(x - mean) / var, walk.prior([4000, 2], [0, 1]),
             tf.constant([0, 1])).numpy()
    # The chain x <- a x + (1 - a) mu + sqrt(eps) z, a = 1 - eps / (2 var),
    # settles at N(mu, eps / (1 - a^2)) (1% above var for the narrow axis),
    # 7.5 relaxation times (var / (eps / 2) steps) after its N(0, I) start.
    a = 1 - eps / (2 * var)
    std = np.sqrt(eps / (1 - a ** 2))
    assert np.all(np.abs(x.mean(0) - mean) < 5 * std / np.sqrt(4000))
    assert np.all(np.abs(x.std(0) / std - 1) < 5 / np.sqrt(2 * 4000))


def test_plain_langevin_gets_the_weights_wrong_and_annealed_recovers_them():
    seed = tf.constant([3, 4])
    plain = LangevinDynamics(step_size=0.1, num_steps=1000)(mixture_score, uniform_start(2000),
                                                            seed)
    sigmas = geometric_sigmas(20.0, 1.0, 10)
    annealed = AnnealedLangevin(sigmas, steps_per_level=100, epsilon=0.1)(
        mixture_score, uniform_start(2000), seed)
    pc = PredictorCorrector(geometric_sigmas(20.0, 1.0, 30), snr=0.16, corrector_steps=10)(
        mixture_score, uniform_start(2000), seed)
    # From a uniform start each chain stays in the basin it starts in: about
    # half the mass in each mode.
    assert abs(heavy_fraction(plain) - 0.8) > 0.2
    assert abs(heavy_fraction(annealed) - 0.8) < 0.05
    assert abs(heavy_fraction(pc) - 0.8) < 0.05


@pytest.mark.parametrize("make", [
    lambda: AnnealedLangevin(geometric_sigmas(5.0, 0.5, 3), steps_per_level=4, epsilon=0.05),
    lambda: PredictorCorrector(geometric_sigmas(5.0, 0.5, 3), corrector_steps=2),
    lambda: LangevinDynamics(0.05, 7),
])
def test_a_walk_in_pieces_is_the_whole_walk(make):
    walk, seed = make(), tf.constant([1, 2])
    x0 = walk.prior([5, 2], seed)
    whole = walk(mixture_score, x0, seed)
    middle = walk.num_steps // 2
    pieces = walk(mixture_score, walk(mixture_score, x0, seed, 0, middle), seed, middle,
                  tf.constant(walk.num_steps))
    np.testing.assert_allclose(pieces, whole, rtol=1e-6, atol=1e-6)
    graph = tf.function(lambda x: walk(mixture_score, x, seed))
    np.testing.assert_allclose(graph(x0), whole, rtol=1e-6, atol=1e-6)


def test_bad_sampler_arguments_name_themselves():
    with pytest.raises(ValueError, match="`step_size` must be > 0"):
        LangevinDynamics(0.0, 10)
    with pytest.raises(ValueError, match="`corrector_steps` must be an int >= 0"):
        PredictorCorrector([1.0], corrector_steps=-1)
    with pytest.raises(ValueError, match="`sigma_min` < `sigma_max`"):
        geometric_sigmas(1.0, 2.0, 3)
