"""Networks shared by the model families."""

from tfgen.models.networks import conditioner_network

__all__ = ["conditioner_network"]
