"""MAF and IAF: masked autoregressive flows on TFP's MADE.

Both stack `tfb.MaskedAutoregressiveFlow` bijectors whose shift and
log-scale come from MADE networks (`AutoregressiveNetworkLayer`), with the
variable order reversed between layers. They differ in direction:

- MAF (Papamakarios et al., 2017): data -> latent is one MADE pass per layer,
  so `log_prob` and training are fast; `sample` needs `d` sequential passes
  per layer.
- IAF (Kingma et al., 2016): latent -> data is one pass, so `sample` is fast;
  `log_prob` needs `d` sequential passes per layer, so training by maximum
  likelihood costs `d` times more per step than MAF.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import check_hidden_units, check_positive_float, check_positive_int
from tfgen.bijectors.spline import spline_from_raw
from tfgen.flows.flow import Flow
from tfgen.flows.made_adapter import AutoregressiveNetworkLayer

tfb = tfp.bijectors

__all__ = ["IAF", "MAF"]

_PERMUTATIONS = ("reverse", "random", "none")


class _AutoregressiveFlow(Flow):
    """Shared construction; subclasses say whether the MADE bijector runs in
    the normalizing (IAF) or the sampling (MAF) direction."""

    normalizing_is_inverse = None
    supports_conditions = True
    event_ranks = (1,)

    def __init__(self, event_shape, num_layers=5, hidden_units=(64, 64), activation="relu",
                 log_scale_bound=3.0, permutation="reverse", permutation_seed=0,
                 transform="affine", num_bins=8, spline_bound=3.0, **kwargs):
        super().__init__(event_shape, **kwargs)
        if len(self.event_shape) != 1:
            raise ValueError(
                f"{type(self).__name__} takes vectors: `event_shape` must be [d]; "
                f"received {event_shape!r}.")
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.hidden_units = check_hidden_units(hidden_units)
        self.activation = activation
        self.log_scale_bound = check_positive_float("log_scale_bound", log_scale_bound)
        if permutation not in _PERMUTATIONS:
            raise ValueError(
                f"`permutation` must be one of {_PERMUTATIONS}; received {permutation!r}.")
        self.permutation = permutation
        self.permutation_seed = int(permutation_seed)
        if transform not in ("affine", "spline"):
            raise ValueError(
                f"`transform` must be 'affine' or 'spline'; received {transform!r}.")
        self.transform = transform
        self.num_bins = check_positive_int("num_bins", num_bins)
        self.spline_bound = check_positive_float("spline_bound", spline_bound)
        params = 2 if transform == "affine" else 3 * self.num_bins - 1
        self.mades = [
            AutoregressiveNetworkLayer(self.event_size, params, self.hidden_units, activation,
                                       condition_size=self.condition_size, name=f"made_{i}")
            for i in range(self.num_layers)]

    def _made_bijector(self, made, condition):
        if self.transform == "spline":
            k = self.num_bins

            def spline(x):
                out = made(x, condition)
                return spline_from_raw(out[..., :k], out[..., k:2 * k], out[..., 2 * k:],
                                       bound=self.spline_bound)

            maf = tfb.MaskedAutoregressiveFlow(bijector_fn=spline)
        else:
            bound = self.log_scale_bound

            def shift_and_log_scale(x):
                shift, raw = tf.unstack(made(x, condition), num=2, axis=-1)
                return shift, bound * tf.tanh(raw / bound)

            maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=shift_and_log_scale)
        return tfb.Invert(maf) if self.normalizing_is_inverse else maf

    def _order(self, i):
        """The fixed permutation before MADE layer `i` (> 0), or None."""
        if self.permutation == "reverse":
            return np.arange(self.event_size)[::-1].copy()
        if self.permutation == "random":
            return np.random.default_rng([self.permutation_seed, i]).permutation(self.event_size)
        return None

    def normalizing_bijector(self, condition=None):
        steps = []
        for i, made in enumerate(self.mades):
            order = self._order(i) if i else None
            if order is not None:
                steps.append(tfb.Permute(order))
            steps.append(self._made_bijector(made, condition))
        return tfb.Chain(list(reversed(steps)))

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers,
                "hidden_units": self.hidden_units, "activation": self.activation,
                "log_scale_bound": self.log_scale_bound, "permutation": self.permutation,
                "permutation_seed": self.permutation_seed,
                "transform": self.transform, "num_bins": self.num_bins,
                "spline_bound": self.spline_bound}


@keras.saving.register_keras_serializable(package="tfgen")
class MAF(_AutoregressiveFlow):
    """Masked autoregressive flow: fast `log_prob`, sequential `sample`.

    Args:
      event_shape: `[d]`.
      num_layers: MADE layers.
      hidden_units: MADE hidden widths.
      activation: MADE activation.
      log_scale_bound: log-scales are soft-clipped to `(-c, c)`.
      permutation: between layers, "reverse" the order, a fixed "random"
        permutation (from `permutation_seed` and the layer index), or "none".
      permutation_seed: int seed of the "random" permutations.
      transform: "affine" or "spline" (rational-quadratic splines on
        `[-spline_bound, spline_bound]`, identity outside; Durkan et al., 2019).
      num_bins: spline bins.
      spline_bound: spline interval half-width.
      num_classes, condition_shape: make the flow conditional (see `Flow`);
        every MADE layer sees the condition (TFP's `conditional_input`).

    Example:

    ```python
    flow = tfgen.flows.MAF(event_shape=[2], num_layers=5, hidden_units=[64, 64])
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    ```

    References:
      Papamakarios, Pavlakou & Murray, "Masked Autoregressive Flow for
      Density Estimation", NeurIPS 2017.
    """

    normalizing_is_inverse = True


@keras.saving.register_keras_serializable(package="tfgen")
class IAF(_AutoregressiveFlow):
    """Inverse autoregressive flow: one-pass `sample`, `log_prob` in `d`
    sequential passes per layer (training by likelihood is `d` times slower
    than MAF's).

    Args: as `MAF`.

    Example:

    ```python
    flow = tfgen.flows.IAF(event_shape=[2], num_layers=5, hidden_units=[64, 64])
    flow.sample(1000, seed=0)  # one MADE pass per layer
    ```

    References:
      Kingma et al., "Improved Variational Inference with Inverse
      Autoregressive Flow", NeurIPS 2016.
    """

    normalizing_is_inverse = False
