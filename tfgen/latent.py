"""Latent-space tools for models with an encoder: reconstructions,
interpolations, attribute vectors and latent scatter plots, as arrays and
as PNG pictures.

The functions take any model with `encode(x, condition)` (returning the
posterior's mean first, e.g. `(mean, stddev)`), `decode_mean(z, condition)`
and `latent_dim`: `tfgen.models.vae.VAE` and the rest of the VAE family.
Encodings are posterior means, decodings the decoder's mode, so every
result is deterministic; models that keep a moving average of their weights
(`ema_decay`) use the averages, as in sampling. Inputs and outputs are in
model space (what `source.dataset(...)` yields and `model.sample` returns);
results are NumPy arrays. Conditional models take `condition`, one per
example (for a class-conditional model: each input's own label).

Example:

```python
import tfgen
from tfgen import latent
from tfgen.models.vae import VAE

digits = tfgen.data.load_data("digits")
vae = VAE([8, 8, 1], latent_dim=2, hidden_units=[32], dequantizer=digits.dequantizer)
vae.compile(optimizer="adam")
vae.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=50, epochs=1, verbose=0)
x, labels = (t.numpy() for t in next(iter(digits.dataset("test", 360, labels=True))))

latent.encode(vae, x)                                # [360, 2] posterior means
latent.interpolate(vae, x[:4], x[4:8], steps=8)      # [4, 8, 8, 8, 1]
vector = latent.attribute_vector(vae, x, labels, from_class=1, to_class=7)
latent.apply_attribute(vae, x[labels == 3][:5], vector)   # [5, 4, 8, 8, 1]
latent.latent_scatter_png(vae, x, labels, "latent_scatter.png")
```
"""

import contextlib
import numbers

import numpy as np

from tfgen import plots
from tfgen._validation import check_positive_int

__all__ = [
    "METHODS",
    "apply_attribute",
    "attribute_png",
    "attribute_vector",
    "decode",
    "encode",
    "interpolate",
    "interpolations_png",
    "latent_scatter_png",
    "reconstruct",
    "reconstructions_png",
]

# Interpolation paths: straight lines, or great-circle arcs (spherical).
METHODS = ("linear", "slerp")


# Arguments.

def _check_model(model):
    if not all(hasattr(model, name) for name in ("encode", "decode_mean", "latent_dim")):
        raise TypeError(
            f"`model` must have a latent space (`encode`, `decode_mean` and `latent_dim`, as "
            f"VAEs do); received a {type(model).__name__}.")


def _check_batch(name, x):
    """`x` as a NumPy batch of examples `[n, ...]`, n >= 1."""
    x = np.asarray(x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"`{name}` must be a batch of examples [n, ...]; received shape "
                         f"{list(x.shape)}.")
    return x


def _check_labels(labels, n):
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"`labels` must be ints; received dtype {labels.dtype}.")
    if labels.shape != (n,):
        raise ValueError(f"`labels` must hold one label per example, shape [{n}]; received "
                         f"shape {list(labels.shape)}.")
    return labels


def _check_class(name, value, labels):
    if value not in labels:
        raise ValueError(f"`{name}` {value!r} is not among the labels; they hold classes "
                         f"{np.unique(labels).tolist()}.")


def _per_example(condition, n, times):
    """`condition` (one per example of `n`) with each repeated `times`
    times in a row, for the `n * times` latents decoded from them."""
    if condition is None:
        return None
    condition = np.asarray(condition)
    if condition.ndim == 0 or len(condition) != n:
        raise ValueError(f"`condition` must hold one condition per example ({n}); received "
                         f"shape {list(condition.shape)}.")
    return np.repeat(condition, times, axis=0)


def _averaged(model):
    """The model's averaged weights while encoding and decoding, when it
    keeps them (`tfgen.models.GenerativeModel.averaged_weights`)."""
    averaged = getattr(model, "averaged_weights", None)
    return averaged() if averaged is not None else contextlib.nullcontext()


# Arrays.

def encode(model, x, condition=None):
    """The posterior means of `x`.

    Args:
      model: a model with `encode`, `decode_mean` and `latent_dim`.
      x: examples `[n, ...]` in model space.
      condition: conditional models: the condition of each example.

    Returns:
      `[n, latent_dim]` NumPy array.

    Example:

    ```python
    z = latent.encode(vae, x)
    ```
    """
    _check_model(model)
    x = _check_batch("x", x)
    with _averaged(model):
        mean = model.encode(x, condition)[0]
    return np.asarray(mean)


def decode(model, z, condition=None):
    """The decoder's mode (discrete data: the most likely level) at latents
    `z` `[n, latent_dim]`, in model space.

    Example:

    ```python
    x_hat = latent.decode(vae, np.zeros([1, vae.latent_dim], np.float32))
    ```
    """
    _check_model(model)
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[1] != model.latent_dim or len(z) == 0:
        raise ValueError(f"`z` must have shape [n, {model.latent_dim}] (the model's "
                         f"latent_dim); received shape {list(z.shape)}.")
    with _averaged(model):
        return np.asarray(model.decode_mean(z, condition))


def reconstruct(model, x, condition=None):
    """`decode(model, encode(model, x))`: each example through its
    posterior mean, `[n, ...]` like `x`.

    Example:

    ```python
    x_hat = latent.reconstruct(vae, x)
    ```
    """
    return decode(model, encode(model, x, condition), condition)


def _path(z_a, z_b, steps, method):
    """Latents `[n, steps, d]` from `z_a` to `z_b` `[n, d]`: evenly spaced
    in `t` on the line (`(1 - t) z_a + t z_b`) or on the great-circle arc
    (`sin((1 - t) theta) / sin(theta) z_a + sin(t theta) / sin(theta) z_b`,
    `theta` the angle between them; the line where they are parallel)."""
    t = np.linspace(0.0, 1.0, steps)[None, :, None]
    a, b = z_a[:, None].astype(np.float64), z_b[:, None].astype(np.float64)
    if method == "linear":
        path = (1.0 - t) * a + t * b
    else:
        norms = np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=-1,
                                                                          keepdims=True)
        cos = np.sum(a * b, axis=-1, keepdims=True) / np.maximum(norms, np.finfo(float).tiny)
        theta = np.arccos(np.clip(cos, -1.0, 1.0))
        sin = np.sin(theta)
        parallel = sin < 1e-6
        sin = np.where(parallel, 1.0, sin)
        path = (np.where(parallel, 1.0 - t, np.sin((1.0 - t) * theta) / sin) * a
                + np.where(parallel, t, np.sin(t * theta) / sin) * b)
    return path.astype(z_a.dtype)


def _decode_rows(model, z, condition):
    """Decodes latents `[n, k, d]`, the `k` of row `i` with `condition[i]`,
    into `[n, k, ...]`."""
    n, k, d = z.shape
    decoded = decode(model, z.reshape([n * k, d]), _per_example(condition, n, k))
    return decoded.reshape([n, k, *decoded.shape[1:]])


def interpolate(model, x_a, x_b, steps=8, method="linear", condition=None):
    """Decodings along paths in latent space between the encodings of
    `x_a[i]` and `x_b[i]`.

    Args:
      model: a model with `encode`, `decode_mean` and `latent_dim`.
      x_a, x_b: examples `[n, ...]`; pair `i` is `(x_a[i], x_b[i])`.
      steps: points per path, ends included (an int >= 2), evenly spaced in
        `t` from 0 (`x_a`'s encoding) to 1 (`x_b`'s).
      method: "linear" (`(1 - t) z_a + t z_b`) or "slerp" (spherical:
        along the great-circle arc between them, which keeps the norm where
        the two have the same; White, "Sampling Generative Networks", 2016).
      condition: conditional models: one condition per pair, for both ends
        and the path between.

    Returns:
      `[n, steps, ...]` NumPy array; `[:, 0]` and `[:, -1]` are the
      reconstructions of `x_a` and `x_b`.

    Example:

    ```python
    rows = latent.interpolate(vae, x[:4], x[4:8], steps=8, method="slerp")
    ```
    """
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool):
        raise TypeError(f"`steps` must be an int; received {steps!r}.")
    if steps < 2:
        raise ValueError(f"`steps` must be >= 2 (the two ends); received {steps!r}.")
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; received {method!r}.")
    x_a, x_b = _check_batch("x_a", x_a), _check_batch("x_b", x_b)
    if x_a.shape != x_b.shape:
        raise ValueError(f"`x_a` and `x_b` must have the same shape (pairs of examples); "
                         f"received {list(x_a.shape)} and {list(x_b.shape)}.")
    z = _path(encode(model, x_a, condition), encode(model, x_b, condition), steps, method)
    return _decode_rows(model, z, condition)


def attribute_vector(model, x, labels, from_class, to_class, condition=None):
    """The mean encoding of the examples of class `to_class` minus that of
    class `from_class`: a direction in latent space from one class to the
    other, for `apply_attribute`.

    Meant for unconditional models on labeled data. (A class-conditional
    model given the labels as `condition` codes the class in the condition:
    the vector keeps only what its latents code beyond the label.)

    Args:
      model: a model with `encode`, `decode_mean` and `latent_dim`.
      x: examples `[n, ...]`.
      labels: their int labels `[n]`; both classes must be among them.
      from_class, to_class: the two classes.
      condition: conditional models: the condition of each example.

    Returns:
      `[latent_dim]` NumPy array.

    Example:

    ```python
    vector = latent.attribute_vector(vae, x, labels, from_class=1, to_class=7)
    ```
    """
    x = _check_batch("x", x)
    labels = _check_labels(labels, len(x))
    _check_class("from_class", from_class, labels)
    _check_class("to_class", to_class, labels)
    if from_class == to_class:
        raise ValueError(f"`to_class` must differ from `from_class`; received {to_class!r} "
                         "for both.")
    z = encode(model, x, condition)
    return z[labels == to_class].mean(axis=0) - z[labels == from_class].mean(axis=0)


def apply_attribute(model, x, vector, strengths=(0, 0.5, 1, 1.5), condition=None):
    """Decodings of the encodings of `x` plus `strength * vector`, for each
    strength (0: the reconstructions).

    Args:
      model: a model with `encode`, `decode_mean` and `latent_dim`.
      x: examples `[n, ...]`.
      vector: a direction `[latent_dim]` (`attribute_vector`).
      strengths: the multiples of `vector` added, a non-empty sequence of
        finite numbers.
      condition: conditional models: the condition of each example.

    Returns:
      `[n, len(strengths), ...]` NumPy array: row `i` is `x[i]` at each
      strength.

    Example:

    ```python
    rows = latent.apply_attribute(vae, threes, vector, strengths=(0, 1, 2))
    ```
    """
    _check_model(model)
    vector = np.asarray(vector)
    if vector.shape != (model.latent_dim,):
        raise ValueError(f"`vector` must have shape [{model.latent_dim}] (the model's "
                         f"latent_dim); received shape {list(vector.shape)}.")
    try:
        factors = np.asarray(strengths, np.float64)
    except (TypeError, ValueError):
        factors = None
    if factors is None or factors.ndim != 1 or not len(factors) or \
            not np.all(np.isfinite(factors)):
        raise ValueError(f"`strengths` must be a non-empty sequence of finite numbers; "
                         f"received {strengths!r}.")
    z = encode(model, x, condition)
    shifted = z[:, None] + factors[None, :, None] * vector
    return _decode_rows(model, shifted.astype(z.dtype), condition)


# Pictures.

def _pixels(model, values, to_pixels):
    """Model-space examples `[n, ...]` as images `[n, h, w, c]` in [0, 1]:
    `to_pixels(values)`, by default the model's dequantizer's intensities
    (or the values as they are, for models without one)."""
    if to_pixels is None:
        dequantizer = getattr(model, "dequantizer", None)
        to_pixels = np.asarray if dequantizer is None else dequantizer.from_model
    pixels = np.asarray(to_pixels(values))
    if pixels.ndim != 4:
        raise ValueError(f"Pictures need images [n, height, width, channels]; the examples "
                         f"have shape {list(pixels.shape[1:])}: pass `to_pixels`, a function "
                         "from model-space examples to images.")
    return pixels


def reconstructions_png(model, x, path, condition=None, columns=8, to_pixels=None):
    """Writes inputs and their reconstructions to one PNG: rows of up to
    `columns` inputs, each above the row of their reconstructions.

    Args:
      model: a model with `encode`, `decode_mean` and `latent_dim`.
      x: examples `[n, ...]`.
      path: the PNG file to write.
      condition: conditional models: the condition of each example.
      columns: inputs per row.
      to_pixels: function from model-space examples to images `[n, h, w,
        c]` in [0, 1] (default: the model's dequantizer's intensities, e.g.
        `lambda v: source.to_pixels(v).reshape([-1, 8, 8, 1])` for a model
        of flattened digits).

    Example:

    ```python
    latent.reconstructions_png(vae, x[:16], "reconstructions.png")
    ```
    """
    x = _check_batch("x", x)
    columns = check_positive_int("columns", columns)
    pairs = np.stack([_pixels(model, x, to_pixels),
                      _pixels(model, reconstruct(model, x, condition), to_pixels)])
    rows = -(-len(x) // columns)
    blank = np.ones([2, rows * columns - len(x), *pairs.shape[2:]], pairs.dtype)
    # [2, rows, columns, ...] -> [rows, 2, columns, ...]: inputs, then theirs.
    grid = np.concatenate([pairs, blank], axis=1).reshape([2, rows, columns, *pairs.shape[2:]])
    plots.image_grid_png(grid.swapaxes(0, 1).reshape([-1, *pairs.shape[2:]]), path,
                         columns=columns)


def _rows_png(model, rows, path, to_pixels):
    """Writes decodings `[n, k, ...]` as a grid PNG of `n` rows and `k` columns."""
    n, k = rows.shape[:2]
    plots.image_grid_png(_pixels(model, rows.reshape([n * k, *rows.shape[2:]]), to_pixels),
                         path, columns=k)


def interpolations_png(model, x_a, x_b, path, steps=8, method="linear", condition=None,
                       to_pixels=None):
    """Writes `interpolate(model, x_a, x_b, steps, method, condition)` to
    one PNG, a row per pair, from `x_a[i]`'s reconstruction on the left to
    `x_b[i]`'s on the right. `to_pixels`: as in `reconstructions_png`.

    Example:

    ```python
    latent.interpolations_png(vae, x[:6], x[6:12], "interpolations.png")
    ```
    """
    _rows_png(model, interpolate(model, x_a, x_b, steps, method, condition), path, to_pixels)


def attribute_png(model, x, vector, path, strengths=(0, 0.5, 1, 1.5), condition=None,
                  to_pixels=None):
    """Writes `apply_attribute(model, x, vector, strengths, condition)` to
    one PNG: a row per example of `x`, a column per strength.
    `to_pixels`: as in `reconstructions_png`.

    Example:

    ```python
    latent.attribute_png(vae, threes, vector, "attribute.png")
    ```
    """
    _rows_png(model, apply_attribute(model, x, vector, strengths, condition), path, to_pixels)


def latent_scatter_png(model, x, labels, path, condition=None):
    """Writes a scatter plot of the posterior means of `x`, colored by
    label with a legend, for models with 2D latents.

    Args:
      model: a model with `encode`, `decode_mean` and `latent_dim` 2.
      x: examples `[n, ...]`.
      labels: their int labels `[n]`.
      path: the PNG file to write.
      condition: conditional models: the condition of each example.

    Raises:
      ValueError: the model's `latent_dim` is not 2.

    Example:

    ```python
    latent.latent_scatter_png(vae, x, labels, "latent_scatter.png")
    ```
    """
    _check_model(model)
    if model.latent_dim != 2:
        raise ValueError(f"A latent scatter plot needs `latent_dim` 2; the model's "
                         f"latent_dim is {model.latent_dim!r}.")
    x = _check_batch("x", x)
    labels = _check_labels(labels, len(x))
    z = encode(model, x, condition)
    margin = 0.1 * max(float(np.ptp(z)), 1.0)
    bounds = (float(z.min()) - margin, float(z.max()) + margin)
    plots.scatter_png(z, path, bounds=bounds, title="posterior means", labels=labels)
