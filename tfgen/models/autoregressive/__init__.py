"""Autoregressive models of discrete data: `FVSBN`, `NADE`, `MADE`,
`PixelCNN` (and their base, `AutoregressiveModel`), exact log-likelihoods
of the levels and sampling one dimension at a time in one graph."""

from tfgen.models.autoregressive.base import OUTPUTS, AutoregressiveModel
from tfgen.models.autoregressive.made import FVSBN, MADE
from tfgen.models.autoregressive.nade import NADE
from tfgen.models.autoregressive.pixelcnn import PixelCNN

__all__ = ["FVSBN", "MADE", "NADE", "OUTPUTS", "AutoregressiveModel", "PixelCNN"]
