"""Binary masks for coupling bijectors (Dinh et al., 2017, section 3.4).

A mask has the event shape of the data; 1 marks the entries that pass through
unchanged and condition the transformation of the entries marked 0.
"""

import numpy as np

__all__ = ["MASK_KINDS", "make_mask"]

MASK_KINDS = ("half", "checkerboard", "channel")


def make_mask(kind, event_shape, parity=0):
    """Returns a float32 NumPy mask of shape `event_shape`.

    Args:
      kind: `"half"` (vectors: the first `ceil(d/2)` entries are 1),
        `"checkerboard"` (images `[h, w, c]`: 1 where `(i + j)` is even) or
        `"channel"` (images: the first `ceil(c/2)` channels are 1).
      event_shape: the shape of one example.
      parity: 0 or 1; 1 flips the mask.

    Example:

    ```python
    make_mask("checkerboard", [2, 2, 1])[..., 0]  # [[1, 0], [0, 1]]
    ```

    Raises:
      ValueError: on an unknown `kind`, a mask kind that does not fit the
        rank of `event_shape`, or a `parity` other than 0 or 1.
    """
    event_shape = [int(n) for n in event_shape]
    if kind not in MASK_KINDS:
        raise ValueError(
            f"`kind` must be one of {MASK_KINDS}; received {kind!r}.")
    if parity not in (0, 1):
        raise ValueError(f"`parity` must be 0 or 1; received {parity!r}.")
    wanted_rank = 1 if kind == "half" else 3
    if len(event_shape) != wanted_rank:
        raise ValueError(
            f"A {kind!r} mask needs an `event_shape` of rank {wanted_rank}; "
            f"received {event_shape}.")
    if kind == "half":
        (d,) = event_shape
        mask = (np.arange(d) < (d + 1) // 2)
    elif kind == "checkerboard":
        h, w, c = event_shape
        rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        mask = np.repeat((((rows + cols) % 2) == 0)[..., None], c, axis=-1)
    else:
        h, w, c = event_shape
        if c < 2:
            raise ValueError(
                f"A 'channel' mask needs at least 2 channels; received "
                f"event_shape {event_shape}.")
        mask = np.broadcast_to(np.arange(c) < (c + 1) // 2, (h, w, c))
    mask = mask.astype(np.float32)
    return 1.0 - mask if parity else mask
