"""Networks the model families share: the flows' conditioner networks, and
encoders/decoders that see their condition at every layer (MLP and
convolutional), with XLA-safe upsampling, a projection discriminator, and denoisers (an MLP
with a timestep embedding, the DDPM U-Net, `make_denoiser` choosing between
them)."""

from tfgen.models.networks.conditioner import conditioner_network
from tfgen.models.networks.conv import (ConditionedConvDecoder, ConditionedConvEncoder,
                                        ConditionedConvGridDecoder, ConditionedConvGridEncoder,
                                        Upsample2D)
from tfgen.models.networks.denoiser import make_denoiser
from tfgen.models.networks.discriminator import ProjectionDiscriminator
from tfgen.models.networks.mlp import ConditionedMLP
from tfgen.models.networks.time import TimestepMLP, timestep_embedding
from tfgen.models.networks.unet import UNet

__all__ = ["ConditionedConvDecoder", "ConditionedConvEncoder", "ConditionedConvGridDecoder",
           "ConditionedConvGridEncoder", "ConditionedMLP", "ProjectionDiscriminator",
           "TimestepMLP", "UNet", "Upsample2D", "conditioner_network", "make_denoiser",
           "timestep_embedding"]
