"""MADE's connectivity masks (Germain et al. 2015), as NumPy arrays.

Each dimension d of the data has a rank r(d) in an ordering (the step at
which it is sampled); its input units get degree r(d) + 1 and its output
units degree r(d) + 1 too. Each hidden unit k of layer l gets a degree
m_l(k) in [min degree below, D - 1]. Then

    hidden mask   M_l[k', k] = m_l(k) >= m_{l-1}(k')
    output mask   M_out[k, d] = r(d) + 1 > m_L(k)

so output d sees input d' only through paths of increasing degree, that
is only when r(d') < r(d): the network is autoregressive in the ordering.
With no hidden layers the one mask is M[d', d] = r(d') < r(d) (FVSBN).

Inputs and outputs come in blocks of `input_width` / `output_width` units
per dimension (one-hot levels in, a categorical's logits out).

References:
  Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for
  Distribution Estimation", ICML 2015.
"""

import numpy as np

__all__ = ["HIDDEN_DEGREES", "ORDERINGS", "made_masks", "orderings"]

ORDERINGS = ("raster", "reversed", "random")
HIDDEN_DEGREES = ("equal", "random")


def orderings(size, count, first="raster", seed=0):
    """`[count, size]` int orderings (row k: the dimensions in the order
    they are sampled): the first `first` ("raster" 0, 1, ..., "reversed"
    or "random"), the others random permutations drawn from `seed`."""
    if first not in ORDERINGS:
        raise ValueError(f"`input_order` must be one of {ORDERINGS}; received {first!r}.")
    rng = np.random.default_rng(seed)
    head = {"raster": np.arange(size), "reversed": np.arange(size)[::-1],
            "random": rng.permutation(size)}[first]
    return np.stack([head] + [rng.permutation(size) for _ in range(count - 1)]).astype(np.int32)


def made_masks(order, hidden_units, input_width, output_width, hidden_degrees="equal",
               rng=None):
    """The masks (float32 `[in, out]` each, one per layer) of a MADE whose
    dimensions are sampled in `order` (`[D]`), hidden layers of widths
    `hidden_units`, `input_width` input and `output_width` output units
    per dimension; hidden degrees "equal" (spread evenly over their range)
    or "random" (uniform over it, from `rng`)."""
    if hidden_degrees not in HIDDEN_DEGREES:
        raise ValueError(f"`hidden_degrees` must be one of {HIDDEN_DEGREES}; received "
                         f"{hidden_degrees!r}.")
    size = len(order)
    rank = np.empty(size, np.int64)
    rank[np.asarray(order)] = np.arange(size)
    degrees = [np.repeat(rank + 1, input_width)]
    for units in hidden_units:
        low = min(int(degrees[-1].min()), size - 1)
        if hidden_degrees == "equal":
            hidden = low + np.arange(units) * max(size - low, 1) // units
            hidden = np.minimum(hidden, size - 1)
        else:
            hidden = rng.integers(low, size, size=units)  # in [low, D - 1]
        degrees.append(hidden)
    masks = [(after[None, :] >= before[:, None]) for before, after in zip(degrees, degrees[1:])]
    output = np.repeat(rank + 1, output_width)
    masks.append(output[None, :] > degrees[-1][:, None])
    return [m.astype(np.float32) for m in masks]
