"""Model names used by the CLI and configs -> model classes, and the
settings `tfgen train` starts from for each kind of data.

This module imports no TensorFlow: the command line checks a model name
before loading anything, and `get_model_class` imports the class.
"""

import importlib

__all__ = ["MODELS", "adam_settings", "check_model_name", "default_batch_size",
           "default_config", "default_training", "get_model_class", "training_settings"]

# name -> the class, as "module.Class".
MODELS = {
    "planar": "tfgen.flows.Planar",
    "radial": "tfgen.flows.Radial",
    "nice": "tfgen.flows.NICE",
    "realnvp": "tfgen.flows.RealNVP",
    "maf": "tfgen.flows.MAF",
    "iaf": "tfgen.flows.IAF",
    "glow": "tfgen.flows.Glow",
    "vae": "tfgen.models.vae.VAE",
    "hvae": "tfgen.models.vae.HierarchicalVAE",
    "vqvae": "tfgen.models.vae.VQVAE",
    "gan": "tfgen.models.gan.GAN",
    "dcgan": "tfgen.models.gan.DCGAN",
    "wgan": "tfgen.models.gan.WGAN",
    "wgan_gp": "tfgen.models.gan.WGANGP",
    "fgan": "tfgen.models.gan.FGAN",
    "vaegan": "tfgen.models.gan.VAEGAN",
    "ddpm": "tfgen.models.diffusion.DDPM",
    "ldm": "tfgen.models.diffusion.LatentDiffusion",
    "ncsn": "tfgen.models.score.ScoreModel",
    "ebm": "tfgen.models.score.EBM",
    "nce": "tfgen.models.score.NCE",
    "fce": "tfgen.models.score.FCE",
    "fvsbn": "tfgen.models.autoregressive.FVSBN",
    "nade": "tfgen.models.autoregressive.NADE",
    "made": "tfgen.models.autoregressive.MADE",
    "pixelcnn": "tfgen.models.autoregressive.PixelCNN",
    "vqvae_prior": "tfgen.models.autoregressive.VQVAEPrior",
}

# Constructor arguments for image data ([h, w, c] events), where the class
# defaults (sized for 2D data) train at well under a step per second on a
# 2-core CPU: RealNVP's and Glow's are the saved_models runs' settings (2.029
# and 2.096 bits/dim on digits), NICE's are RealNVP's widths. `--config` and
# `--set` override them.
_IMAGE_CONFIGS = {
    "nice": {"num_couplings": 4, "hidden_units": [64, 64]},
    "realnvp": {"num_couplings": 3, "hidden_units": [64, 64]},
    "glow": {"num_levels": 2, "num_steps": 4, "hidden_channels": 32},
    # Measured on digits (test IWAE(1000), seeds 0/1/2): 2.000/1.982/1.975
    # bits/dim with these and `_TRAINING["vae"]`; the MLP networks reached
    # 2.051/2.053/2.065 (one seed: 2.069 with latent_dim=16, 2.135 without
    # warm-up and early stopping: a VAE overfits 1257 digits in a few
    # hundred steps).
    "vae": {"network": "conv", "latent_dim": 32, "kl_warmup": 300},
    # Test IWAE(1000), seeds 0/1/2: 1.941/1.939/1.955 bits/dim with these
    # and `_TRAINING["hvae"]` (one seed: 1.993 with a 300-step warm-up); the
    # MLP networks reached 2.056/2.064/2.067 (2.089/2.082/2.082 with 300).
    "hvae": {"network": "conv", "kl_warmup": 1000},
    # Measured on digits with these and `_TRAINING["vqvae"]`: test bound
    # 2.151 bits/dim (reconstruction 1.776 + the uniform prior's 0.375), 64
    # of 64 codes used (perplexity 57); with the codebook loss's gradient
    # instead of the EMA codebook, 12 codes and 2.792.
    "vqvae": {"ema_codebook": True, "embedding_dim": 8},
    # A small discriminator, wider convs: on 1257 digits, D with the class
    # defaults (Dense 256, 256 after convs of 32, 64) outran G: test
    # FID-digits 24.3 unconditional (seed 0; 14.0 with Dense 64 alone, 8.4
    # with these at lr 2e-4; with lr 4e-4 below, 5.87/5.90 for seeds 0/1).
    # Tried with these at lr 4e-4, seed 0, none better: an R1 penalty of
    # weight 1 (7.32), random 1-pixel translations of D's inputs with
    # probability 0.5 (7.35; 8.53 with R1), generator EMA 0.999 (8.59 at
    # lr 2e-4), batch 128 (7.43 at lr 2e-4), 10000 steps (6.33), convs of
    # 128, 256 and Dense 128 (9.01 at lr 2e-4), D's lr 0.5x / 2x / 4x G's
    # (TTUR; 9.05, 10.4 with G at 2e-4, 28.4 with G at 1e-4), spectral
    # normalization of D's convs (9.25; 11.0 with D's lr 2x), one-sided
    # label smoothing of 0.9 (6.41), a minibatch-stddev feature in D (7.51),
    # batch normalization in D's convs but the first (DCGAN's; 6.75, 7.95 at
    # lr 2e-4).
    "dcgan": {"hidden_units": [64], "channels": [64, 128]},
    # The same networks: test FID-digits 9.62 at 3000 steps and lr 4e-4
    # (seed 0; 12.2 at lr 2e-4), 34.0 at 2000 steps with the class
    # defaults and lr 1e-4.
    "wgan_gp": {"hidden_units": [64], "channels": [64, 128]},
    # The U-Net of diffusers' UNet2DModel with channels (32, 64), one block
    # per level, attention at 4x4 (0.70M weights); DDIM-50 by default, as
    # 1000 ancestral steps over evaluation's 1257 samples take minutes.
    "ddpm": dict(channels=[32, 64], attention_resolutions=[4], sampler="ddim", sampling_steps=50),
    "ldm": {"prior": dict(hidden_units=[256, 256, 256], embedding_dim=64, sampler="ddim")},
    # DDPM's U-Net; sigma_1 = 10 above the digits' largest distance (9.6),
    # 30 levels (Song & Ermon 2020's technique 2 for 64 dimensions), eps =
    # 2e-5 (technique 4's for T = 5). FID-digits of 500 annealed Langevin
    # samples after 3000 steps (seed 0): 82.7 at 5 steps per level, 4.84 at
    # 20; predictor-corrector 32.4 at 1 corrector step, 15.1 at 3.
    "ncsn": dict(channels=[32, 64], attention_resolutions=[4], sigma_max=10.0, num_levels=30,
                 sampling_steps=20),
    # Digits test bits/dim with `_TRAINING["pixelcnn"]`, seeds 0/1/2:
    # 1.772/1.765/1.772 with dropout 0.3 (FID-digits 23.3/21.8/22.4); seed 0
    # without dropout: 1.851 (FID 30.5; validation NLL rises from step 500).
    "pixelcnn": {"dropout": 0.3},
    "vqvae_prior": {"prior": {"dropout": 0.3}},
}

# Training settings a model's runs start from, over the CLI's (1000 steps,
# lr 1e-3, no early stopping): models that overfit stop early by default.
_TRAINING = {
    "vae": {"steps": 4000, "lr": 5e-4, "patience": 10, "validation_every": 100},
    "hvae": {"steps": 4000, "lr": 5e-4, "patience": 10, "validation_every": 100},
    "vqvae": {"steps": 3000, "patience": 10, "validation_every": 100},
    # eight_gaussians: all 8 modes at 10000 steps (2 modes at 3000 steps,
    # 1 with lr 2e-4).
    "gan": {"steps": 10000, "lr": 1e-3},
    # digits: see `_IMAGE_CONFIGS`.
    "dcgan": {"steps": 5000, "lr": 4e-4},
    "wgan_gp": {"steps": 3000, "lr": 4e-4},
    # digits with MLP networks, seed 0: validation FID 52 at 3000 steps (with
    # the conv networks the posterior collapsed and the decoder with it).
    "vaegan": {"steps": 3000, "lr": 2e-4},
    # digits, batch 64, seed 0, DDIM-50 FID-digits of 1000 samples after 3000
    # steps: 12.9 at lr 2e-3, 16.4 at 1e-3 (22.2 at batch 128 and 5e-4).
    "ddpm": {"steps": 3000, "lr": 2e-3},
    "ldm": {"steps": 5000, "lr": 1e-3},
    "ncsn": {"steps": 3000, "lr": 1e-3},
    "ebm": {"steps": 3000, "lr": 1e-3},
    "nce": {"steps": 3000, "lr": 1e-3},
    "fce": {"steps": 3000, "lr": 1e-3},
    # Autoregressive models overfit 1257 digits within a few hundred steps
    # (MADE [512]: test 2.885 bits/dim at 3000 steps, 2.34 at 300).
    **{name: {"steps": 4000, "patience": 10, "validation_every": 100}
       for name in ("fvsbn", "nade", "made", "pixelcnn", "vqvae_prior")},
}

# Overrides of `_TRAINING` for vector data (2D toys), where a step costs
# far less than on images. On two_moons, energy distance of 2000 samples to
# 2000 test points (train vs test: -0.00025 +- 0.00074), seeds 0-2
# (bench/ddpm_two_moons.py): ddpm -0.00047 +- 0.00010 with these, 0.00163
# +- 0.00018 at 10000 steps, 0.00074 +- 0.00011 at 10000 steps of hidden
# units [256] * 3 (seed 0: 0.0043 at 3000 steps of lr 2e-3); ncsn 0.0029 at
# 10000 steps against 0.0087 at 3000 (its samples a blur of the moons).
_VECTOR_TRAINING = {
    "ddpm": {"steps": 30000, "lr": 1e-3},
    "ncsn": {"steps": 10000},
}

# Adam's moment decays (Keras' defaults otherwise), from the papers: DCGAN's
# beta_1 = 0.5 for the GANs, WGAN-GP's (0, 0.9) for the Wasserstein losses.
_ADAM = {
    **{name: {"beta_1": 0.5} for name in ("gan", "dcgan", "fgan", "vaegan")},
    **{name: {"beta_1": 0.0, "beta_2": 0.9} for name in ("wgan", "wgan_gp")},
}


def check_model_name(name):
    """Raises a ValueError naming the choices unless `name` is registered."""
    if name not in MODELS:
        raise ValueError(
            f"Unknown `MODEL` {name!r}; choose one of {sorted(MODELS)}.")


def get_model_class(name):
    """Returns the model class registered as `name`."""
    check_model_name(name)
    module, _, cls = MODELS[name].rpartition(".")
    return getattr(importlib.import_module(module), cls)


def default_config(name, event_shape):
    """Constructor arguments (beyond `event_shape`) that `tfgen train` uses
    for model `name` on examples of `event_shape` unless told otherwise."""
    check_model_name(name)
    return dict(_IMAGE_CONFIGS.get(name, {})) if len(event_shape) == 3 else {}


def default_training(name, images=True):
    """The training settings (`steps`, `lr`, `patience`, `validation_every`)
    `tfgen train` uses for model `name` on image data (`images`) or on
    vectors unless told otherwise."""
    check_model_name(name)
    return {**_TRAINING.get(name, {}), **({} if images else _VECTOR_TRAINING.get(name, {}))}


def adam_settings(name):
    """Keyword arguments of the Adam optimizers `tfgen train` gives model
    `name` (beyond the learning rate)."""
    check_model_name(name)
    return dict(_ADAM.get(name, {}))


def training_settings(name, steps, epochs, lr, patience, validation_every, images=True):
    """`(steps, lr, patience, validation_every)` of a run of model `name`:
    the given ones, else `default_training(name, images)` (without its
    `steps` and `validation_every` for an `epochs` budget), else lr 1e-3."""
    defaults = default_training(name, images)
    if epochs is None and steps is None:
        steps = defaults.get("steps")
    if patience is None:
        patience = defaults.get("patience")
    if validation_every is None and patience is not None and epochs is None:
        validation_every = defaults.get("validation_every")
    return steps, lr if lr is not None else defaults.get("lr", 1e-3), patience, validation_every


def default_batch_size(images):
    """`tfgen train`'s batch size: 64 for image data (digits has 1257
    training images), 256 for vectors."""
    return 64 if images else 256
