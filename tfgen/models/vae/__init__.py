"""The VAE family: the `VAE`, `HierarchicalVAE` and `VQVAE` models, and their
plain parts: decoder likelihoods, the bounds (ELBO, IWAE) they are trained
and evaluated on, and the VQ-VAE's `VectorQuantizer`."""

from tfgen.models.vae.bounds import elbo, iwae, iwae_from_log_weights, kl_divergence, sample_with_kl
from tfgen.models.vae.hierarchical import HierarchicalVAE
from tfgen.models.vae.likelihoods import Bernoulli, Categorical, DiscretizedLogistic, Gaussian
from tfgen.models.vae.quantizer import VectorQuantizer
from tfgen.models.vae.schedules import CyclicalKL, KLWarmup, TwoPhaseSchedule
from tfgen.models.vae.vae import VAE
from tfgen.models.vae.vqvae import VQVAE

__all__ = ["Bernoulli", "Categorical", "CyclicalKL", "DiscretizedLogistic", "Gaussian",
           "HierarchicalVAE", "KLWarmup", "TwoPhaseSchedule", "VAE", "VQVAE", "VectorQuantizer",
           "elbo", "iwae", "iwae_from_log_weights", "kl_divergence", "sample_with_kl"]
