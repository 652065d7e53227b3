"""Argument checks shared by constructors and entry points.

Each raises `ValueError` or `TypeError` naming the argument and the value.
"""

import numbers
import os

import numpy as np

from tfgen.registry import check_model_name, training_settings

__all__ = [
    "check_event_shape",
    "check_run_settings",
    "check_finite_array",
    "check_hidden_units",
    "check_out_dir",
    "check_positive_int",
    "check_positive_float",
    "check_train_arguments",
]


_SHAPE_FORMS = {1: "[d]", 3: "[height, width, channels]"}


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name, value):
    if not _is_int(value):
        raise TypeError(f"`{name}` must be an int; received {value!r}.")
    if value < 1:
        raise ValueError(f"`{name}` must be >= 1; received {value!r}.")
    return int(value)


def check_positive_float(name, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"`{name}` must be a number; received {value!r}.")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be finite and > 0; received {value!r}.")
    return float(value)


def check_event_shape(value, ranks=(1, 3), name="event_shape"):
    """Returns `value` as a list of positive ints of an allowed rank."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"`{name}` must be a list of ints; received {value!r}.")
    shape = list(value)
    if len(shape) not in ranks or not all(
            _is_int(n) and n >= 1 for n in shape):
        forms = " or ".join(_SHAPE_FORMS[r] for r in ranks)
        raise ValueError(
            f"`{name}` must be {forms} of positive ints; received {value!r}.")
    return [int(n) for n in shape]


def check_hidden_units(value, name="hidden_units", allow_empty=False):
    """Returns `value` as a list of positive ints, non-empty unless
    `allow_empty` (no hidden layers: a linear network)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"`{name}` must be a list of ints; received {value!r}.")
    units = list(value)
    if (not units and not allow_empty) or not all(_is_int(n) and n >= 1 for n in units):
        raise ValueError(
            f"`{name}` must be a {'' if allow_empty else 'non-empty '}list of positive ints; "
            f"received {value!r}.")
    return [int(n) for n in units]


def check_finite_array(name, array):
    """Raises if a float array holds NaN or Inf, naming the first bad row."""
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(
            f"`{name}` must hold numbers; received dtype {array.dtype}.")
    if array.ndim and not len(array):
        raise ValueError(f"`{name}` holds no examples; received shape {array.shape}.")
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1) \
        if array.ndim else ~np.isfinite(array)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0]) if array.ndim else 0
        raise ValueError(
            f"`{name}` holds non-finite values (NaN or Inf), first at row "
            f"{first} of {len(array) if array.ndim else 1}.")
    return array


def check_run_settings(model, steps, epochs, batch_size, lr, lr_schedule, patience,
                       validation_every, out, checkpoint_every, strategy, quality_every,
                       keep_best):
    """`check_train_arguments` of a run of registered model `model`, its
    defaults (`tfgen.registry.training_settings`) filled in."""
    check_model_name(model)
    steps, lr, patience, validation_every = training_settings(
        model, steps, epochs, lr, patience, validation_every)
    check_train_arguments(steps=steps, epochs=epochs, batch_size=batch_size, lr=lr,
                          lr_schedule=lr_schedule, patience=patience,
                          validation_every=validation_every, out=out,
                          checkpoint_every=checkpoint_every, strategy=strategy,
                          quality_every=quality_every, keep_best=keep_best)


def check_train_arguments(steps, epochs, batch_size, lr, lr_schedule, patience,
                          validation_every, out, checkpoint_every=1000, strategy="default",
                          quality_every=None, keep_best=None):
    """The budget and settings of a training run (`tfgen.training.train`,
    `tfgen train`), checked before anything is loaded; names the flags."""
    if steps is not None and epochs is not None:
        raise ValueError(
            f"Pass `--steps` or `--epochs`, not both; received --steps {steps}, "
            f"--epochs {epochs}.")
    for name, value in (("steps", steps), ("epochs", epochs), ("batch-size", batch_size),
                        ("patience", patience), ("validation-every", validation_every),
                        ("checkpoint-every", checkpoint_every),
                        ("quality-every", quality_every)):
        if value is not None and (not _is_int(value) or value < 1):
            raise ValueError(f"`--{name}` must be an int >= 1; received {value!r}.")
    check_positive_float("--lr", lr)
    if strategy not in ("default", "mirrored", "multi-worker"):
        raise ValueError(f"`--strategy` must be 'default', 'mirrored' or 'multi-worker'; "
                         f"received {strategy!r}.")
    if lr_schedule not in ("cosine", "constant"):
        raise ValueError(
            f"`--lr-schedule` must be 'cosine' or 'constant'; received {lr_schedule!r}.")
    if validation_every is not None and epochs is not None:
        raise ValueError(
            f"`--validation-every` {validation_every} applies to `--steps` runs; with "
            f"`--epochs` early stopping validates after every epoch.")
    if validation_every is not None and patience is None:
        raise ValueError(
            f"`--validation-every` {validation_every} sets how often early stopping "
            f"validates: pass `--patience` too.")
    if keep_best not in (None, "fid", "kid", "energy_distance"):
        raise ValueError(f"`--keep-best` must be 'fid', 'kid' or 'energy_distance'; received "
                         f"{keep_best!r}.")
    check_out_dir(out)


def check_out_dir(out):
    """Raises unless the run directory `out` can be created: it does not
    exist (or is an empty directory) and its nearest existing parent is a
    writable directory."""
    given, out = out, os.path.abspath(os.fspath(out))
    if os.path.isdir(out):
        if os.listdir(out):
            raise ValueError(f"`--out` {given!r} exists and is not empty.")
        return
    if os.path.exists(out):
        raise ValueError(f"`--out` {given!r} exists and is a file, not a directory.")
    parent = os.path.dirname(out)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"`--out` {given!r}: {parent!r} is not a writable directory.")
