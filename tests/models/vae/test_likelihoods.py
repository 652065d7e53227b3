"""Every decoder likelihood is a distribution: the discrete ones sum to 1
over their support, the Gaussian is TFP's density."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfgen.models.vae import Bernoulli, Categorical, DiscretizedLogistic, Gaussian


def _all_examples(levels, size):
    """Every example of `size` values in 0..levels-1, as `[L^size, size]`."""
    return np.array(list(itertools.product(range(levels), repeat=size)))


@pytest.mark.parametrize("likelihood,levels", [
    (Bernoulli(), 2), (Categorical(levels=5), 5), (Categorical(levels=17), 17),
    (DiscretizedLogistic(levels=17, num_mixtures=3), 17),
    (DiscretizedLogistic(levels=5, num_mixtures=1), 5)])
def test_discrete_likelihoods_sum_to_one_over_their_support(likelihood, levels):
    size = 2  # two pixels: L^2 examples
    rng = np.random.default_rng(0)
    params = 2.0 * rng.normal(size=(1, size * likelihood.params_per_channel))
    examples = _all_examples(levels, size)
    batch = np.repeat(params, len(examples), axis=0)
    # One "pixel" per channel: events of shape [size] (event_rank=1).
    distribution = likelihood.distribution(
        tf.constant(batch, tf.float64), event_rank=1)
    log_p = distribution.log_prob(
        examples if likelihood.discrete and not isinstance(likelihood, Bernoulli)
        else examples.astype(np.float64))
    assert np.all(np.isfinite(log_p))
    np.testing.assert_allclose(np.sum(np.exp(np.asarray(log_p, np.float64))), 1.0, rtol=1e-6)


def test_discretized_logistic_matches_binned_logistic_cdfs():
    # One component: P(k) = S((c_k + w - m) / s) - S((c_k - w - m) / s), open outer bins.
    levels, mean, log_scale = 5, 0.2, np.log(0.3)
    likelihood = DiscretizedLogistic(levels, num_mixtures=1)
    params = tf.constant([[0.0, mean, log_scale]], tf.float64)  # logits, means, log scales
    log_p = likelihood.distribution(params, event_rank=1).log_prob(
        np.arange(levels)[:, None, None].repeat(1, axis=1))
    centres, half = np.linspace(-1, 1, levels), 1 / (levels - 1)
    cdf = stats.logistic(mean, np.exp(log_scale)).cdf
    edges = np.concatenate([[0.0], cdf(centres[:-1] + half), [1.0]])
    np.testing.assert_allclose(np.exp(np.ravel(log_p)), np.diff(edges), rtol=1e-8)


@pytest.mark.parametrize("likelihood", [Gaussian(scale=0.3), Gaussian()])
def test_gaussian_is_the_normal_density(likelihood):
    rng = np.random.default_rng(1)
    params = rng.normal(size=(4, 3 * likelihood.params_per_channel))
    x = rng.normal(size=(4, 3))
    log_p = likelihood.distribution(tf.constant(params), event_rank=1).log_prob(x)
    if likelihood.scale is not None:
        mean, scale = params, np.full_like(params, 0.3)
    else:
        pairs = params.reshape(4, 3, 2)
        mean, scale = pairs[..., 0], likelihood.min_scale + np.exp(pairs[..., 1])
    np.testing.assert_allclose(log_p, stats.norm(mean, scale).logpdf(x).sum(-1), rtol=1e-10)


@pytest.mark.parametrize("make,match", [
    (lambda: Categorical(levels=1), "levels"), (lambda: Gaussian(scale=0.0), "scale"),
    (lambda: DiscretizedLogistic(17, num_mixtures=0), "num_mixtures")])
def test_bad_arguments_name_themselves(make, match):
    with pytest.raises(ValueError, match=match):
        make()
