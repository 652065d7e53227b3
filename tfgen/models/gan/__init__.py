"""The GAN family: `GAN` (MLP or DCGAN networks, any loss of `losses`),
its named forms `DCGAN`, `WGAN`, `WGANGP`, `FGAN`, the `VAEGAN`, and the
losses as plain objects."""

from tfgen.models.gan import losses
from tfgen.models.gan.gan import GAN
from tfgen.models.gan.vaegan import VAEGAN
from tfgen.models.gan.variants import DCGAN, FGAN, WGAN, WGANGP

__all__ = ["DCGAN", "FGAN", "GAN", "VAEGAN", "WGAN", "WGANGP", "losses"]
