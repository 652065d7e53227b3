"""Trained tfgen models as parts of new ones: the latent diffusion model's
autoencoder, an autoregressive prior's VQ-VAE.

A part is given as the model itself, as a run directory of `tfgen train`
(its `model.keras`), as a `.keras` file, or, when Keras rebuilds the new
model from its saved config, as the part's serialized config: the part's
weights are then the new model's own and load with them.

Example:

```python
from tfgen.models.pretrained import load_pretrained
from tfgen.models.vae import VAE

vae = load_pretrained("runs/vae_digits", "autoencoder", VAE)
```
"""

import os

import keras

__all__ = ["RESERVED", "check_compatible", "load_pretrained", "part_config",
           "with_averaged_weights"]

# A part's constructor arguments that the model holding it sets.
RESERVED = ("event_shape", "num_classes", "condition_shape", "dequantizer", "ema_decay",
            "ema_warmup")


def load_pretrained(value, name, cls):
    """Returns the `cls` model `value` names.

    Args:
      value: a `cls` instance, a run directory holding `model.keras`, a
        `.keras` file, or a `keras.saving.serialize_keras_object` dict.
      name: the argument's name, for messages.
      cls: the class the model must be (or subclass).

    Raises:
      TypeError: `value` is none of these, or not a `cls`.
      ValueError: the path holds no model.
    """
    if isinstance(value, dict):
        value = keras.saving.deserialize_keras_object(value)
    elif isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if os.path.isdir(path):
            path = os.path.join(path, "model.keras")
        if not (path.endswith(".keras") and os.path.isfile(path)):
            raise ValueError(f"`{name}` must be a run directory holding model.keras or a .keras "
                             f"file; received {os.fspath(value)!r}.")
        value = keras.models.load_model(path, compile=False)
    if not isinstance(value, cls):
        raise TypeError(f"`{name}` must be a trained {cls.__name__} (the model, its run "
                        f"directory or .keras file); received {type(value).__name__}.")
    return value


def with_averaged_weights(model):
    """`model`, or for one that averages its weights (`ema_decay`) a copy
    without averaging that holds the averages: a frozen part then serves
    and saves its averaged weights."""
    if model.ema_decay is None:
        return model
    copy = type(model).from_config({**model.get_config(), "ema_decay": None})
    averages = model.ema_weights or []
    with model.averaged_weights():
        copy.set_weights([w.numpy() for w in model.weights
                          if not any(w is average for average in averages)])
    return copy


def check_compatible(part, name, event_shape, dequantizer):
    """Raises a ValueError unless the part `name` models examples of
    `event_shape` with the same `dequantizer` (a `Dequantizer`, its config,
    or None: the part's)."""
    if list(event_shape) != list(part.event_shape):
        raise ValueError(f"`event_shape` {list(event_shape)} differs from the {name}'s "
                         f"{part.event_shape}.")
    if dequantizer is None or part.dequantizer is None:
        return
    given = dequantizer if isinstance(dequantizer, dict) else dequantizer.get_config()
    if given != part.dequantizer.get_config():
        raise ValueError(f"`dequantizer` {given} differs from the {name}'s "
                         f"{part.dequantizer.get_config()}.")


def part_config(config, name, owner):
    """The constructor arguments `config` (a dict or None) of the part
    `name` as a dict; raises a ValueError if they set any of `RESERVED`,
    which `owner` (the model holding the part, in words) sets."""
    config = dict(config or {})
    reserved = sorted(set(config) & set(RESERVED))
    if reserved:
        raise ValueError(f"`{name}` must not set {reserved}: the {owner} sets them; received "
                         f"{name}={config!r}.")
    return config
