"""Flow posteriors: log q of their own samples is exact (the inverse path
agrees), and the ELBO with a planar posterior matches an independent NumPy
Monte Carlo estimate of the same expectation."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen.models.vae import VAE
from tfgen.models.vae.bounds import elbo, sample_with_kl
from tfgen.models.vae.posteriors import GaussianPosterior, make_posterior

tfd = tfp.distributions


@pytest.mark.parametrize("flow", ["planar", "radial", "iaf"])
def test_log_q_of_own_samples_equals_the_density_by_inversion(flow, float64):
    posterior = make_posterior(flow, latent_dim=3, length=2)
    rng = np.random.default_rng(0)
    if flow == "iaf":  # away from its start at the identity; MADE kernels stay masked
        for variable in posterior.trainable_weights:
            value = tf.constant(0.5 * rng.normal(size=variable.shape), variable.dtype)
            variable.assign(variable.constraint(value) if variable.constraint else value)
    params = tf.constant(rng.normal(size=(4, posterior.params_size)))
    q = posterior.distribution(params)
    z, log_q = q.experimental_sample_and_log_prob(5, seed=[1, 2])
    assert z.shape == (5, 4, 3) and log_q.shape == (5, 4)
    # A fresh tensor: TFP's bijector cache cannot answer, the flow is inverted.
    np.testing.assert_allclose(q.log_prob(tf.constant(z.numpy())), log_q, rtol=1e-8, atol=1e-8)
    assert not np.allclose(log_q, GaussianPosterior(3).distribution(params).log_prob(z))


def _planar_numpy(z, w, u, b):
    """One planar step and its log|det J| in NumPy (Rezende & Mohamed, A.1)."""
    wu = np.sum(w * u, -1, keepdims=True)
    u_hat = u + (np.logaddexp(0, wu) - 1 - wu) * w / np.sum(w * w, -1, keepdims=True)
    a = np.sum(z * w, -1) + b
    y = z + u_hat * np.tanh(a)[..., None]
    return y, np.log(np.abs(1 + (1 - np.tanh(a) ** 2) * np.sum(w * u_hat, -1)))


def test_planar_elbo_matches_an_independent_monte_carlo_estimate(float64):
    rng = np.random.default_rng(1)
    d, length, batch = 2, 3, 3
    posterior = make_posterior("planar", latent_dim=d, length=length)
    params = rng.normal(size=(batch, posterior.params_size))
    x = rng.normal(size=(batch, d))
    matrix = np.array([[1.0, 0.5], [-0.3, 2.0]])
    # log p(x | z) = log N(x; A z, I), p(z) = N(0, I).
    log_lik = lambda z: tfd.MultivariateNormalDiag(  # noqa: E731
        tf.linalg.matvec(matrix, z), tf.ones(d, tf.float64)).log_prob(x)
    prior = tfd.MultivariateNormalDiag(tf.zeros(d, tf.float64), tf.ones(d, tf.float64))
    n = 40000
    tf_elbo = elbo(posterior.distribution(tf.constant(params)), prior, log_lik, n, seed=[3, 4])

    # The same expectation by hand, with NumPy's own samples.
    mean, raw = params[:, :d], params[:, d:2 * d]
    scale = 1e-4 + np.logaddexp(0, raw)
    eps = rng.normal(size=(n, batch, d))
    z = mean + scale * eps
    log_q = np.sum(-0.5 * eps ** 2 - 0.5 * np.log(2 * np.pi) - np.log(scale), -1)
    for p in np.split(params[:, 2 * d:], length, axis=-1):
        w, v = p[:, :d], p[:, d:2 * d]
        u = v + np.log(np.e - 1) * w / np.sum(w * w, -1, keepdims=True)  # the posterior's u
        z, log_det = _planar_numpy(z, w, u, p[:, 2 * d])
        log_q = log_q - log_det
    residual = x - np.einsum("ij,nbj->nbi", matrix, z)
    log_p = (np.sum(-0.5 * residual ** 2 - 0.5 * np.log(2 * np.pi), -1)
             + np.sum(-0.5 * z ** 2 - 0.5 * np.log(2 * np.pi), -1))
    terms = log_p - log_q
    standard_error = terms.std(0) / np.sqrt(n)
    assert np.all(np.abs(tf_elbo - terms.mean(0)) < 5 * np.sqrt(2) * standard_error)
    assert np.all(standard_error < 0.05)


def test_a_flow_posterior_vae_reports_finite_ordered_bounds(float64):
    """A planar-posterior VAE's bounds: finite, and IWAE(200) at least the
    ELBO on average (the bounds' order on a known log p(x) is tested on the
    plain functions, `test_bounds.py`)."""
    model = VAE([4], latent_dim=2, hidden_units=[8], posterior_flow="planar", flow_length=2,
                eval_samples=200)
    x = np.random.default_rng(2).normal(size=(16, 4))
    bounds = model.nll_bounds(x, seed=1)
    assert np.all(np.isfinite(bounds["elbo"]))
    assert np.mean(bounds["iwae_200"]) <= np.mean(bounds["elbo"])


def test_bad_flow_settings_name_themselves():
    with pytest.raises(ValueError, match="posterior_flow"):
        VAE([2], posterior_flow="spline")
    with pytest.raises(ValueError, match="flow_length"):
        VAE([2], posterior_flow="planar", flow_length=0)
    with pytest.raises(ValueError, match="free_bits"):
        VAE([2], posterior_flow="planar", free_bits=0.5)
    with pytest.raises(ValueError, match="flow_length"):
        VAE([2], posterior_flow="iaf", flow_length=True)


@pytest.mark.parametrize("flow", ["planar", "iaf"])
def test_a_new_flow_posterior_starts_as_the_gaussian(flow):
    model = VAE([4], latent_dim=3, hidden_units=[8], posterior_flow=flow, flow_length=2)
    x = np.random.default_rng(4).normal(size=(6, 4)).astype(np.float32)
    q = model.posterior(x)
    z, log_q = q.experimental_sample_and_log_prob(5, seed=[1, 2])
    mean, stddev = model.encode(x)
    gaussian = tfd.MultivariateNormalDiag(mean, stddev)
    np.testing.assert_allclose(log_q, gaussian.log_prob(z), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z, gaussian.sample(5, seed=[1, 2]), rtol=1e-5, atol=1e-6)


def test_flow_kl_is_the_base_closed_form_plus_an_unbiased_correction(float64):
    """sample_with_kl's KL for a planar posterior: the same expectation as
    the plain Monte Carlo log q - log p (independent draws, within standard
    errors), and exactly the Gaussian's closed form at the identity flow."""
    posterior = make_posterior("planar", latent_dim=2, length=2)
    params = np.random.default_rng(5).normal(size=(3, posterior.params_size))
    q = posterior.distribution(tf.constant(params))
    prior = tfd.MultivariateNormalDiag(tf.zeros(2, tf.float64), tf.ones(2, tf.float64))
    n = 40000
    _, kl = sample_with_kl(q, prior, n, seed=[1, 2])
    z, log_q = q.experimental_sample_and_log_prob(n, seed=[3, 4])
    plain = (log_q - prior.log_prob(z)).numpy()
    standard_error = plain.std(0) / np.sqrt(n)
    assert np.all(np.abs(kl - plain.mean(0)) < 5 * np.sqrt(2) * standard_error)

    identity = params.copy()
    identity[:, posterior.identity_outputs] = 0.0
    q = posterior.distribution(tf.constant(identity))
    _, kl = sample_with_kl(q, prior, 3, seed=[1, 2])
    np.testing.assert_allclose(kl, tfd.kl_divergence(q.distribution, prior), rtol=1e-12)
