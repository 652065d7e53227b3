"""The VAE family: the `VAE` model, and its plain parts: decoder
likelihoods and the bounds (ELBO, IWAE) they are trained and evaluated on."""

from tfgen.models.vae.bounds import elbo, iwae, kl_divergence
from tfgen.models.vae.likelihoods import Bernoulli, Categorical, DiscretizedLogistic, Gaussian
from tfgen.models.vae.schedules import CyclicalKL, KLWarmup
from tfgen.models.vae.vae import VAE

__all__ = ["Bernoulli", "Categorical", "CyclicalKL", "DiscretizedLogistic", "Gaussian", "KLWarmup",
           "VAE", "elbo", "iwae", "kl_divergence"]
