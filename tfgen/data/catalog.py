"""`load_data(name)`: every data name the CLI and users can ask for."""

from tfgen.data.builtin import digits, toy_source
from tfgen.data.files import file_source
from tfgen.data.tfds_loaders import TfdsSource
from tfgen.data.toys import TOYS

__all__ = ["DATA_NAMES", "load_data"]

DATA_NAMES = sorted(TOYS) + ["digits"]


def load_data(name, **options):
    """Returns a `DataSource` by name.

    Args:
      name: a toy (`two_moons`, `eight_gaussians`, `checkerboard`, `rings`,
        `pinwheel`, `two_spirals`), `digits`, `tfds:NAME` (`mnist`,
        `fashion_mnist`, `cifar10`), or a path ending in `.npy` / `.npz`.
      **options: passed to the loader (e.g. `logit_alpha`, `flatten` for
        digits; `num_train` for toys).

    Raises:
      ValueError: an unknown name, naming the choices.
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str; received {name!r}.")
    if name in TOYS:
        return toy_source(name, **options)
    if name == "digits":
        return digits(**options)
    if name.startswith("tfds:"):
        return TfdsSource(name[len("tfds:"):], **options)
    if name.endswith((".npy", ".npz")):
        return file_source(name, **options)
    raise ValueError(
        f"Unknown data {name!r}: use one of {DATA_NAMES}, 'tfds:NAME', or a "
        ".npy/.npz path.")
