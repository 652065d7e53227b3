"""The named GANs: `GAN` with the networks, loss and discriminator steps
of their papers as defaults (each registered for `tfgen train`).

    DCGAN    conv networks, non-saturating loss (Radford et al. 2016)
    WGAN     Wasserstein loss with weight clipping at 0.01, 5 critic steps
             (Arjovsky et al. 2017)
    WGANGP   Wasserstein loss with the gradient penalty at 10, 5 critic
             steps (Gulrajani et al. 2017)
    FGAN     the f-GAN loss, Jensen-Shannon by default (Nowozin et al. 2016)

On images they have DCGAN's networks, the generator batch-normalized (the
critic never is: its gradient penalty is per example).

Every argument of `GAN` is still an argument of each (`--set` in the CLI).
"""

import keras

from tfgen.models.gan.gan import GAN

__all__ = ["DCGAN", "FGAN", "WGAN", "WGANGP"]


@keras.saving.register_keras_serializable(package="tfgen")
class DCGAN(GAN):
    """`GAN` with DCGAN networks (images only): G upsamples with 3x3 convs
    and batch normalization, D has stride-2 3x3 convs with leaky ReLU.

    Example:

    ```python
    digits = tfgen.data.load_data("digits")
    gan = DCGAN([8, 8, 1], dequantizer=digits.dequantizer)
    ```

    References:
      Radford, Metz & Chintala, "Unsupervised Representation Learning with
      Deep Convolutional Generative Adversarial Networks", ICLR 2016.
    """

    event_ranks = (3,)

    def __init__(self, event_shape, network="conv", normalization="batch", **kwargs):
        super().__init__(event_shape, network=network, normalization=normalization, **kwargs)


@keras.saving.register_keras_serializable(package="tfgen")
class WGAN(GAN):
    """`GAN` with the Wasserstein loss, the critic's weights clipped to
    `[-0.01, 0.01]`, 5 critic steps per generator step; conv networks for
    images.

    References:
      Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017.
    """

    def __init__(self, event_shape, loss="wasserstein", discriminator_steps=5, network=None,
                 normalization="auto", **kwargs):
        super().__init__(event_shape, loss=loss, discriminator_steps=discriminator_steps,
                         **_networks(event_shape, network, normalization), **kwargs)


@keras.saving.register_keras_serializable(package="tfgen")
class WGANGP(GAN):
    """`GAN` with the Wasserstein loss and the gradient penalty (weight 10),
    5 critic steps per generator step; conv networks for images.

    References:
      Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.
    """

    def __init__(self, event_shape, loss="wgan_gp", discriminator_steps=5, network=None,
                 normalization="auto", **kwargs):
        super().__init__(event_shape, loss=loss, discriminator_steps=discriminator_steps,
                         **_networks(event_shape, network, normalization), **kwargs)


@keras.saving.register_keras_serializable(package="tfgen")
class FGAN(GAN):
    """`GAN` on an f-divergence's variational bound (`divergence` "kl",
    "reverse_kl", "js", "pearson"; default "js").

    References:
      Nowozin, Cseke & Tomioka, "f-GAN: Training Generative Neural Samplers
      using Variational Divergence Minimization", NeurIPS 2016.
    """

    def __init__(self, event_shape, loss="fgan", divergence="js", network=None,
                 normalization="auto", **kwargs):
        super().__init__(event_shape, loss=loss, divergence=divergence,
                         **_networks(event_shape, network, normalization), **kwargs)


def _networks(event_shape, network, normalization):
    """`network` and `normalization` arguments of `GAN`: by default conv
    networks for images, MLPs for vectors; "auto" normalization is DCGAN's
    batch normalization in a conv generator, none in an MLP."""
    network = network or ("conv" if len(event_shape) == 3 else "mlp")
    if normalization == "auto":
        normalization = "batch" if network == "conv" else None
    return {"network": network, "normalization": normalization}
