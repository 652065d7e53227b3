"""Glow's multi-scale architecture as one bijector on images `[h, w, c]`.

Normalizing direction (data -> latent), for levels l = 0 .. L-1:

    squeeze            [h, w, c]  ->  [h/2, w/2, 4c]
    K flow steps       each: ActNorm, invertible 1x1 conv, affine coupling
    factor out         (all levels but the last) half the channels go to the
                       latent; level l+1 runs on the other half
    un-squeeze         back to [h, w, c], so the latent has the data's shape

The flow steps are given as bijectors, so the same composition serves the
Keras model (`tfgen.flows.Glow`, whose layers own the weights) and plain TFP
code with any step bijectors.
"""

import tensorflow as tf
import tensorflow_probability as tfp

from tfgen.bijectors.factor_out import FactorOut
from tfgen.bijectors.squeeze import Squeeze

tfb = tfp.bijectors

__all__ = ["Glow", "glow_step"]


def glow_step(actnorm, conv1x1, coupling):
    """One Glow flow step in the normalizing direction: ActNorm, then the
    1x1 convolution, then the affine coupling."""
    return tfb.Chain([coupling, conv1x1, actnorm])


class Glow(tfb.Bijector):
    """Glow's multi-scale flow in the normalizing direction (data -> latent).

    Args:
      levels: a list of `L` lists of bijectors: `levels[l]` are level `l`'s
        flow steps in order, each on events `[h / 2^(l+1), w / 2^(l+1),
        c * 2^(l+2)]`, keeping the shape (e.g. `glow_step(...)`).
      channels: `c`, the input's channel count.
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Use `tfb.Invert(Glow(...))` as the sampling bijector of a
    `tfd.TransformedDistribution`.

    Example:

    ```python
    import numpy as np, tensorflow as tf, tfgen
    from tfgen import bijectors as B
    def step(channels):
        lu, perm = tf.linalg.lu(tf.eye(channels) + 0.1)
        coupling = B.AffineCoupling(B.make_mask("channel", [4, 4, channels]),
                                    lambda x: (0.1 * x, 0.1 * tf.tanh(x)))
        return B.glow_step(B.ActNorm(tf.zeros(channels), tf.zeros(channels), 3),
                           B.InvertibleConv1x1(lu, perm), coupling)
    glow = B.Glow([[step(4)], [step(8)]], channels=1)
    glow.forward(np.zeros([2, 8, 8, 1], np.float32)).shape  # [2, 8, 8, 1]
    ```

    References:
      Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1
      Convolutions", NeurIPS 2018.
    """

    def __init__(self, levels, channels, validate_args=False, name="glow"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            if not levels or not all(isinstance(steps, (list, tuple)) for steps in levels):
                raise ValueError(
                    f"Glow: `levels` must be a non-empty list of lists of step bijectors; "
                    f"received {levels!r}.")
            if not isinstance(channels, int) or channels < 1:
                raise ValueError(
                    f"Glow: `channels` must be a positive int; received {channels!r}.")
            self._levels = [list(steps) for steps in levels]
            self._channels = channels
            self._chain = self._level(0)
            super().__init__(
                forward_min_event_ndims=3,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _level(self, level):
        steps = [Squeeze()] + self._levels[level]
        if level + 1 < len(self._levels):
            # After the squeeze the level has 4c * 2^l channels; half go on.
            steps.append(FactorOut(self._level(level + 1),
                                   num_active=self._channels << (level + 1)))
        steps.append(tfb.Invert(Squeeze()))
        return tfb.Chain(list(reversed(steps)))

    @property
    def levels(self):
        return self._levels

    def _forward(self, x):
        return self._chain.forward(x)

    def _inverse(self, y):
        return self._chain.inverse(y)

    def _forward_log_det_jacobian(self, x):
        return self._chain.forward_log_det_jacobian(x, event_ndims=3)

    def _inverse_log_det_jacobian(self, y):
        return self._chain.inverse_log_det_jacobian(y, event_ndims=3)
