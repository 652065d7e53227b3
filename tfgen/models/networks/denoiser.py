"""`make_denoiser`: the network of a noise-conditional model (a DDPM's
noise predictor, a score model's score), by the shape of its data: a
`TimestepMLP` for vectors, a `UNet` for images."""

from tfgen.models.networks.time import TimestepMLP
from tfgen.models.networks.unet import UNet

__all__ = ["DENOISERS", "make_denoiser"]

DENOISERS = ("mlp", "unet")


def make_denoiser(event_shape, condition_size, network=None, hidden_units=(128, 128, 128),
                  embedding_dim=32, channels=(32, 64), layers_per_block=1,
                  attention_resolutions=(4,), groups=32, dropout=0.0):
    """`(network name, layer)`: `network` "mlp" (the default for vectors:
    `hidden_units`, `embedding_dim`) or "unet" (the default for images:
    `channels` ... `dropout`), each called as `net(x, t, condition)`."""
    network = network or ("unet" if len(event_shape) == 3 else "mlp")
    if network not in DENOISERS:
        raise ValueError(f"`network` must be one of {DENOISERS}; received {network!r}.")
    if network == "unet":
        return network, UNet(event_shape, condition_size, channels, layers_per_block,
                             attention_resolutions, groups, dropout=dropout)
    if len(event_shape) != 1:
        raise ValueError(f"`network='mlp'` takes vectors; received event_shape "
                         f"{list(event_shape)} (use network='unet').")
    return network, TimestepMLP(event_shape[0], condition_size, hidden_units, embedding_dim)
