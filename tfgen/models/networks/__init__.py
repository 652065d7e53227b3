"""Networks the model families share: the flows' conditioner networks, and
encoders/decoders that see their condition at every layer (MLP and
convolutional), with XLA-safe upsampling, and a projection discriminator."""

from tfgen.models.networks.conditioner import conditioner_network
from tfgen.models.networks.conv import (ConditionedConvDecoder, ConditionedConvEncoder,
                                        ConditionedConvGridDecoder, ConditionedConvGridEncoder,
                                        Upsample2D)
from tfgen.models.networks.discriminator import ProjectionDiscriminator
from tfgen.models.networks.mlp import ConditionedMLP

__all__ = ["ConditionedConvDecoder", "ConditionedConvEncoder", "ConditionedConvGridDecoder",
           "ConditionedConvGridEncoder", "ConditionedMLP", "ProjectionDiscriminator",
           "Upsample2D", "conditioner_network"]
