"""Flow models (`keras.Model`s) and the Keras layers that own their weights."""

from tfgen.flows.autoregressive import IAF, MAF
from tfgen.flows.flow import Flow
from tfgen.flows.layers import (
    CouplingLayer, LinearLULayer, PlanarLayer, RadialLayer, ScalingLayer)
from tfgen.flows.made_adapter import AutoregressiveNetworkLayer
from tfgen.flows.zoo import NICE, Planar, Radial, RealNVP

__all__ = [
    "AutoregressiveNetworkLayer",
    "CouplingLayer",
    "Flow",
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
