"""Autoregressive models of discrete data: `FVSBN`, `NADE`, `MADE`,
`PixelCNN` (and their base, `AutoregressiveModel`), exact log-likelihoods
of the levels and sampling one dimension at a time in one graph; and
`VQVAEPrior`, a PixelCNN over a trained VQ-VAE's codes."""

from tfgen.models.autoregressive.base import OUTPUTS, AutoregressiveModel
from tfgen.models.autoregressive.made import FVSBN, MADE
from tfgen.models.autoregressive.nade import NADE
from tfgen.models.autoregressive.pixelcnn import PixelCNN
from tfgen.models.autoregressive.vqvae_prior import VQVAEPrior

__all__ = ["FVSBN", "MADE", "NADE", "OUTPUTS", "AutoregressiveModel", "PixelCNN", "VQVAEPrior"]
