"""Pure-math `tfb.Bijector` subclasses; they own no variables.

Every bijector here composes with plain TFP (`tfb.Chain`, `tfb.Invert`,
`tfd.TransformedDistribution`) and passes `tfgen.testing.check_bijector`.
"""

from tfgen.bijectors.actnorm import ActNorm
from tfgen.bijectors.conv1x1 import InvertibleConv1x1
from tfgen.bijectors.coupling import AdditiveCoupling, AffineCoupling
from tfgen.bijectors.factor_out import FactorOut
from tfgen.bijectors.glow import Glow, glow_step
from tfgen.bijectors.masks import MASK_KINDS, make_mask
from tfgen.bijectors.planar import Planar
from tfgen.bijectors.radial import Radial
from tfgen.bijectors.scaling import Scaling
from tfgen.bijectors.spline import SplineCoupling, spline_from_raw
from tfgen.bijectors.squeeze import Squeeze

__all__ = [
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "FactorOut",
    "Glow",
    "InvertibleConv1x1",
    "MASK_KINDS",
    "Planar",
    "Radial",
    "Scaling",
    "SplineCoupling",
    "Squeeze",
    "glow_step",
    "make_mask",
    "spline_from_raw",
]
