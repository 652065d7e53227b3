"""The contract every model family implements, and networks they share."""

from tfgen.models.base import GenerativeModel, stateless_seed
from tfgen.models.networks import ConditionedMLP, conditioner_network

__all__ = ["ConditionedMLP", "GenerativeModel", "conditioner_network", "stateless_seed"]
