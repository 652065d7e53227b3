"""The contract every model family implements, networks they share, and the
families' models (`VAE`, `HierarchicalVAE`, `VQVAE`: `tfgen.models.vae`;
`GAN`, `DCGAN`, `WGAN`, `WGANGP`, `FGAN`, `VAEGAN`: `tfgen.models.gan`; `DDPM`,
`LatentDiffusion`: `tfgen.models.diffusion`; `ScoreModel`, `EBM`, `NCE`, `FCE`:
`tfgen.models.score`; `FVSBN`, `NADE`, `MADE`, `PixelCNN`, `VQVAEPrior`:
`tfgen.models.autoregressive`;
loaded when first used)."""

from tfgen.models.base import GenerativeModel, stateless_seed
from tfgen.models.networks import ConditionedMLP, conditioner_network

__all__ = ["DCGAN", "DDPM", "EBM", "FCE", "FGAN", "FVSBN", "GAN", "MADE", "NADE", "NCE",
           "PixelCNN", "VAEGAN", "WGAN", "WGANGP",
           "ConditionedMLP", "GenerativeModel", "HierarchicalVAE", "LatentDiffusion",
           "ScoreModel", "VAE", "VQVAE", "VQVAEPrior", "conditioner_network",
           "stateless_seed"]

_FAMILY_MODELS = {"VAE": "vae", "HierarchicalVAE": "vae", "VQVAE": "vae", "GAN": "gan",
                  "DCGAN": "gan", "WGAN": "gan", "WGANGP": "gan", "FGAN": "gan",
                  "VAEGAN": "gan", "DDPM": "diffusion", "LatentDiffusion": "diffusion",
                  "ScoreModel": "score", "EBM": "score", "NCE": "score", "FCE": "score",
                  "FVSBN": "autoregressive", "NADE": "autoregressive",
                  "MADE": "autoregressive", "PixelCNN": "autoregressive",
                  "VQVAEPrior": "autoregressive"}


def __getattr__(name):
    if name in _FAMILY_MODELS:
        import importlib

        return getattr(importlib.import_module(f"tfgen.models.{_FAMILY_MODELS[name]}"), name)
    raise AttributeError(f"module 'tfgen.models' has no attribute {name!r}")
