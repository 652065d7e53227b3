"""Flow models (`keras.Model`s) and the Keras layers that own their weights."""

from tfgen.flows.flow import Flow
from tfgen.flows.layers import (
    CouplingLayer, PlanarLayer, RadialLayer, ScalingLayer)
from tfgen.flows.zoo import NICE, Planar, Radial, RealNVP

__all__ = [
    "CouplingLayer",
    "Flow",
    "NICE",
    "Planar",
    "PlanarLayer",
    "Radial",
    "RadialLayer",
    "RealNVP",
    "ScalingLayer",
]
