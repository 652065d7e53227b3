"""Flow models (`keras.Model`s) and the Keras layers that own their weights."""

from tfgen.flows.actnorm import ActNormLayer
from tfgen.flows.autoregressive import IAF, MAF
from tfgen.flows.flow import Flow
from tfgen.flows.glow import Glow
from tfgen.flows.layers import (
    CouplingLayer, LinearLULayer, PlanarLayer, RadialLayer, ScalingLayer)
from tfgen.flows.made_adapter import AutoregressiveNetworkLayer
from tfgen.flows.zoo import NICE, Planar, Radial, RealNVP

__all__ = [
    "ActNormLayer",
    "AutoregressiveNetworkLayer",
    "CouplingLayer",
    "Flow",
    "Glow",
    "IAF",
    "LinearLULayer",
    "MAF",
    "NICE",
    "Planar",
    "PlanarLayer",
    "Radial",
    "RadialLayer",
    "RealNVP",
    "ScalingLayer",
]
