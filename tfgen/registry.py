"""Model names used by the CLI and configs -> model classes, and the
settings `tfgen train` starts from for each kind of data.

This module imports no TensorFlow: the command line checks a model name
before loading anything, and `get_model_class` imports the class.
"""

import importlib

__all__ = ["MODELS", "check_model_name", "default_batch_size", "default_config",
           "get_model_class"]

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


def default_batch_size(images):
    """`tfgen train`'s batch size: 64 for image data (digits has 1257
    training images), 256 for vectors."""
    return 64 if images else 256
