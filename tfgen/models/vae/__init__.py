"""The VAE family's plain parts: decoder likelihoods and the bounds
(ELBO, IWAE) they are trained and evaluated on."""

from tfgen.models.vae.bounds import elbo, iwae, kl_divergence
from tfgen.models.vae.likelihoods import Bernoulli, Categorical, DiscretizedLogistic, Gaussian

__all__ = ["Bernoulli", "Categorical", "DiscretizedLogistic", "Gaussian", "elbo", "iwae",
           "kl_divergence"]
