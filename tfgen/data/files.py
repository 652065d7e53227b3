"""User data from `.npy` / `.npz` files of float samples."""

import os
import zipfile

import numpy as np

from tfgen._validation import check_finite_array
from tfgen.data.sources import ArraySource

__all__ = ["file_source"]

_SPLITS = ("train", "validation", "test")


def _load(path):
    """The arrays in a `.npy` (one, keyed None) or `.npz` file (by name),
    with a clear error for any other content."""
    kind = "a NumPy .npz archive (numpy.savez)" if path.endswith(".npz") else \
        "a NumPy .npy file (numpy.save)"
    try:
        if path.endswith(".npy"):
            return {None: np.load(path)}
        with np.load(path) as archive:
            return {k: archive[k] for k in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path!r} is not {kind}: {error}") from None


def _checked(path, arrays, min_examples):
    """`arrays` after checking each holds finite float samples, at least
    `min_examples` of them."""
    for name, array in arrays.items():
        label = path if name is None else f"{path}[{name!r}]"
        if (not np.issubdtype(array.dtype, np.floating) or array.ndim < 2
                or len(array) < min_examples):
            raise ValueError(
                f"{label!r} must hold float samples [n >= {min_examples}, ...]; received "
                f"dtype {array.dtype} and shape {array.shape}.")
        check_finite_array(label, array)
    return arrays


def file_source(path, seed=0):
    """An `ArraySource` from a file of samples `[n, ...]`.

    `.npz` files with exactly the arrays "train", "validation" and "test" use
    them as the splits; a `.npy` file (or an `.npz` with a single array) is
    split 80/10/10 after a permutation by `seed`. The "all" split holds every
    row.

    Raises:
      ValueError: a missing file, an unsupported suffix, a file that is not
        NumPy's, an `.npz` with other arrays, a non-float or non-finite
        array.
    """
    if not os.path.isfile(path):
        raise ValueError(f"`path` {path!r} is not a file.")
    if not path.endswith((".npy", ".npz")):
        raise ValueError(f"`path` must end in .npy or .npz; received {path!r}.")
    arrays = _load(path)
    if path.endswith(".npz"):
        if set(arrays) == set(_SPLITS):
            return ArraySource(os.path.basename(path), _checked(path, arrays, 1))
        if len(arrays) != 1:
            raise ValueError(
                f"{path!r} must hold exactly the arrays {list(_SPLITS)} or a single array; "
                f"received {sorted(arrays)}.")
    (array,) = _checked(path, arrays, 3).values()  # split in three
    order = np.random.default_rng(seed).permutation(len(array))
    n_test = n_val = max(1, len(array) // 10)
    return ArraySource(os.path.basename(path), {
        "test": array[order[:n_test]],
        "validation": array[order[n_test:n_test + n_val]],
        "train": array[order[n_test + n_val:]]})
