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

__all__ = ["load_pretrained"]


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
