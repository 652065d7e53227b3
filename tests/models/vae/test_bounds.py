"""ELBO <= IWAE(k) <= log p(x) on a linear-Gaussian model whose marginal is
known exactly, and the closed-form KL against a Monte Carlo estimate."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import stats

from tfgen.models.vae import elbo, iwae, kl_divergence

tfd = tfp.distributions

D, LATENT, N = 3, 2, 64


def _linear_gaussian():
    """z ~ N(0, I_2), x | z ~ N(W z + b, s^2 I_3): p(x) = N(b, W W^T + s^2 I);
    x drawn from p, and a deliberately imperfect q(z | x) = N(A x, diag(r^2))."""
    rng = np.random.default_rng(0)
    w, b, s = rng.normal(size=(D, LATENT)), rng.normal(size=D), 0.5
    x = rng.multivariate_normal(b, w @ w.T + s**2 * np.eye(D), size=N)
    a = 0.5 * rng.normal(size=(LATENT, D))
    posterior = tfd.MultivariateNormalDiag(x @ a.T, np.full([N, LATENT], 0.6))
    prior = tfd.MultivariateNormalDiag(np.zeros(LATENT), np.ones(LATENT))

    def log_likelihood(z):
        mean = tf.einsum("dl,...nl->...nd", w, z) + b
        scale = tf.fill(tf.shape(mean), tf.constant(s, mean.dtype))
        return tfd.MultivariateNormalDiag(mean, scale).log_prob(x)

    exact = stats.multivariate_normal(b, w @ w.T + s**2 * np.eye(D)).logpdf(x)
    return posterior, prior, log_likelihood, exact


def test_elbo_below_iwae_below_log_likelihood_and_iwae_rises_with_k():
    posterior, prior, log_likelihood, exact = _linear_gaussian()
    seed = tf.constant([3, 4])
    lower = float(tf.reduce_mean(elbo(posterior, prior, log_likelihood, 2000, seed=seed)))
    bounds = [float(tf.reduce_mean(iwae(posterior, prior, log_likelihood, k, seed=seed,
                                        chunk_size=300)))
              for k in (1, 10, 100, 1000)]
    log_p = float(np.mean(exact))
    assert lower < bounds[1] < bounds[2] < bounds[3] <= log_p + 1e-3
    assert log_p - lower > 0.3  # q is imperfect: a real gap to close
    assert log_p - bounds[3] < 0.2 * (log_p - lower)


def _log_weights(posterior, prior, log_likelihood, seed, chunk, size):
    z = posterior.sample(size, seed=tf.random.experimental.stateless_fold_in(seed, chunk))
    return np.asarray(log_likelihood(z) + prior.log_prob(z) - posterior.log_prob(z))


@pytest.mark.parametrize("k,chunk_size", [(4, 4), (4, 2), (3, 2), (7, 3)])
def test_iwae_is_the_log_mean_weight_of_its_chunks_samples(k, chunk_size):
    posterior, prior, log_likelihood, _ = _linear_gaussian()
    seed = tf.constant([5, 6])
    # Chunk i draws chunk_size samples with seed fold_in(seed, i); the last
    # chunk's samples beyond k are left out.
    weights = np.concatenate([
        _log_weights(posterior, prior, log_likelihood, seed, i, chunk_size)
        for i in range(-(-k // chunk_size))])[:k]
    expected = np.log(np.mean(np.exp(weights.astype(np.float64)), axis=0))
    np.testing.assert_allclose(
        iwae(posterior, prior, log_likelihood, k, seed=seed, chunk_size=chunk_size),
        expected, rtol=1e-10)


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    posterior, prior, _, _ = _linear_gaussian()
    z = posterior.sample(200_000, seed=[7, 8])
    terms = np.asarray(posterior.log_prob(z) - prior.log_prob(z))
    monte_carlo, stderr = terms.mean(axis=0), terms.std(axis=0) / np.sqrt(len(terms))
    closed = np.asarray(kl_divergence(posterior, prior))
    assert np.all(np.abs(closed - monte_carlo) < 4 * stderr)
    assert np.all(stderr < 0.01)
    # Without a closed form (a mixture prior), the estimate needs samples.
    centres = np.array([[-1.0, 0.0], [1.0, 0.0]])
    mixture = tfd.MixtureSameFamily(tfd.Categorical(logits=np.zeros(2)),
                                    tfd.MultivariateNormalDiag(centres, np.ones([2, 2])))
    with pytest.raises(ValueError, match="pass samples `z`"):
        kl_divergence(posterior, mixture)
    z = z[:1000]
    # log q(z) - log p(z) over the same samples, p's density written out.
    log_mixture = np.log(0.5 * sum(stats.multivariate_normal(c, np.eye(2)).pdf(np.asarray(z))
                                   for c in centres))
    expected = np.mean(np.asarray(posterior.log_prob(z)) - log_mixture, axis=0)
    np.testing.assert_allclose(kl_divergence(posterior, mixture, z), expected, rtol=1e-9)


def test_bad_k_names_the_argument():
    posterior, prior, log_likelihood, _ = _linear_gaussian()
    with pytest.raises(ValueError, match="`k`.*0"):
        iwae(posterior, prior, log_likelihood, 0)
