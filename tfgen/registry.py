"""Model names used by the CLI and configs -> model classes, and the
settings `tfgen train` starts from for each kind of data."""

from tfgen import flows

__all__ = ["MODELS", "default_batch_size", "default_config", "get_model_class"]

MODELS = {
    "planar": flows.Planar,
    "radial": flows.Radial,
    "nice": flows.NICE,
    "realnvp": flows.RealNVP,
    "maf": flows.MAF,
    "iaf": flows.IAF,
    "glow": flows.Glow,
}

# Constructor arguments for image data ([h, w, c] events), where the class
# defaults (sized for 2D data) train at well under a step per second on a
# 2-core CPU. These are the saved_models runs' settings (2.029 and 2.096
# bits/dim on digits); `--config` and `--set` override them.
_IMAGE_CONFIGS = {
    "nice": {"num_couplings": 4, "hidden_units": [64, 64]},
    "realnvp": {"num_couplings": 3, "hidden_units": [64, 64]},
    "glow": {"num_levels": 2, "num_steps": 4, "hidden_channels": 32},
}


def get_model_class(name):
    """Returns the model class registered as `name`."""
    if name not in MODELS:
        raise ValueError(
            f"Unknown `MODEL` {name!r}; choose one of {sorted(MODELS)}.")
    return MODELS[name]


def default_config(name, event_shape):
    """Constructor arguments (beyond `event_shape`) that `tfgen train` uses
    for model `name` on examples of `event_shape` unless told otherwise."""
    get_model_class(name)
    return dict(_IMAGE_CONFIGS.get(name, {})) if len(event_shape) == 3 else {}


def default_batch_size(images):
    """`tfgen train`'s batch size: 64 for image data (digits has 1257
    training images), 256 for vectors."""
    return 64 if images else 256
