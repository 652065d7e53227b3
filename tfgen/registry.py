"""Model names used by the CLI and configs -> model classes."""

from tfgen import flows

__all__ = ["MODELS", "get_model_class"]

MODELS = {
    "planar": flows.Planar,
    "radial": flows.Radial,
    "nice": flows.NICE,
    "realnvp": flows.RealNVP,
    "maf": flows.MAF,
    "iaf": flows.IAF,
    "glow": flows.Glow,
}


def get_model_class(name):
    """Returns the model class registered as `name`."""
    if name not in MODELS:
        raise ValueError(
            f"Unknown `MODEL` {name!r}; choose one of {sorted(MODELS)}.")
    return MODELS[name]
