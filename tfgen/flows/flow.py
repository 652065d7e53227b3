"""`Flow`: the Keras model every normalizing flow in tfgen is built on.

A flow owns Keras layers (the weights) and, on every call, builds from them a
pure TFP bijector in the normalizing direction `f: data -> latent`. Then

    log p(x | c) = log N(f(x; c); 0, I) + log|det df/dx|

and sampling draws `z ~ N(0, T^2 I)` (temperature `T`, 1 by default) and
returns `f^{-1}(z; c)`. The condition `c` (conditional flows only) reaches
the conditioner networks; it is a class label or a vector.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import check_positive_float
from tfgen.flows.actnorm import ActNormLayer
from tfgen.models.exact import ExactLikelihoodModel
from tfgen.models.inputs import check_samples

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["Flow"]


class Flow(ExactLikelihoodModel):
    """Base class of tfgen's flows: `log_prob`, `sample`, `fit` by NLL.

    Subclasses create their layers in `__init__` and implement
    `normalizing_bijector(condition)`, which returns a fresh `tfb.Bijector`
    mapping data to latent, built from those layers.

    A `tfgen.models.GenerativeModel` with an exact likelihood: `train_step`
    minimizes the negative log-likelihood (nats) averaged over the global
    batch; `train_step` and `test_step` report `nll` (nats, in model space) and
    `bits_per_dim`: of the discrete data when the flow has a `dequantizer`
    (the figure `tfgen eval` reports for digits), else `nll / (D ln 2)` with
    `D` the event size. A non-finite loss stops `fit` with
    `tfgen.errors.NonFiniteLossError`: before its update is applied, or,
    where XLA compiles the step (`jit_compile`, Keras' default on GPUs) and
    drops assertions, after the execution that produced it.

    Conditional flows (`num_classes` or `condition_shape` set) take the
    condition as Keras' `y`: `fit(x, labels)` or a dataset of `(x, labels)`.

    Flows with `ActNormLayer`s initialize them from data before training:
    `fit` does it from its first batch, or call `initialize(x)` yourself.

    Args:
      event_shape: the shape of one example.
      num_classes: class-conditional flow: conditions are int labels in
        `[0, num_classes)`, fed to the conditioners one-hot.
      condition_shape: vector-conditional flow: conditions are float vectors
        `[k]` (pass one of `num_classes`, `condition_shape`, or neither).
      dequantizer: for discrete data, the `tfgen.data.Dequantizer` (or its
        `get_config()` dict) that maps it to the model space the flow sees:
        `log_prob` and `sample` stay in model space; metrics report the
        discrete data's bits/dim, and exports add signatures to and from
        the data's integer levels (see `serving_endpoints`).
      ema_decay: keep a moving average of the weights for sampling,
        evaluation and export (see `GenerativeModel`).

    Attributes:
      bijector: a fresh `tfb.Bijector` mapping latent to data (TFP's
        sampling direction), for use in plain TFP code.
      distribution: `tfd.TransformedDistribution(base, bijector)`; for
        conditional flows use `conditional_distribution(condition)`.
    """

    # Whether the subclass routes conditions to its layers.
    supports_conditions = False
    # Event ranks the subclass takes: 1 (vectors), 3 (images).
    event_ranks = (1, 3)

    family = "flow"

    def __init__(self, event_shape, num_classes=None, condition_shape=None, dequantizer=None,
                 ema_decay=None, **kwargs):
        super().__init__(event_shape, num_classes=num_classes, condition_shape=condition_shape,
                         dequantizer=dequantizer, ema_decay=ema_decay, **kwargs)
        # Subclasses create every weight in __init__: nothing is left to build.
        self.built = True

    def normalizing_bijector(self, condition=None):
        """Returns a fresh bijector data -> latent built from the layers;
        `condition` is the `[batch, condition_size]` float condition."""
        raise NotImplementedError

    def _base(self, batch_shape=()):
        """N(0, I) on the event shape, with `batch_shape` independent copies."""
        loc = tf.zeros(batch_shape, self.compute_dtype)
        return tfd.Sample(tfd.Normal(loc, tf.ones_like(loc)), sample_shape=self.event_shape)

    @property
    def base_distribution(self):
        return self._base()

    @property
    def bijector(self):
        return tfb.Invert(self.normalizing_bijector(self._condition(None)))

    @property
    def distribution(self):
        return self.conditional_distribution(None)

    def conditional_distribution(self, condition):
        """`tfd.TransformedDistribution` of data given `condition`, a batch
        of `b` conditions (None for unconditional flows): batch shape `[b]`,
        so `.sample()` draws one example per condition and `.log_prob(x)`
        scores `x[i]` under condition `i`."""
        condition = self._condition(condition)
        batch_shape = () if condition is None else tf.shape(condition)[:1]
        return tfd.TransformedDistribution(
            self._base(batch_shape),
            tfb.Invert(self.normalizing_bijector(condition)))

    def log_prob(self, x, condition=None):
        """Log-density of `x` `[batch, *event_shape]` in nats, shape `[batch]`
        (given `condition`: `[batch]` labels or `[batch, k]` vectors, or one
        condition for every example). More leading dimensions of `x`
        broadcast against a batch of conditions, as in
        `conditional_distribution`."""
        x = check_samples(x, self.event_shape, self.compute_dtype)
        batch_size = None
        if x.shape.rank == len(self.event_shape) + 1:
            batch_size = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
        f = self.normalizing_bijector(self._condition(condition, batch_size))
        return (self.base_distribution.log_prob(f.forward(x))
                + f.forward_log_det_jacobian(x, event_ndims=len(self.event_shape)))

    def sample(self, n, condition=None, seed=None, temperature=1.0):
        """Draws `n` samples; the same int `seed` gives the same samples.

        Args:
          n: number of samples.
          condition: conditional flows: one condition (a label, or a `[k]`
            vector) for all samples, or `n` of them.
          seed: int seed.
          temperature: the latent's standard deviation `T` (`T < 1` trades
            diversity for typical samples, as in Glow).
        """
        return super().sample(n, condition, seed, temperature=temperature)

    def draw(self, n, condition, seed, temperature=1.0):
        if isinstance(temperature, (int, float)):
            check_positive_float("temperature", temperature)
        z = self.base_distribution.sample(n, seed=seed) * tf.cast(temperature, self.compute_dtype)
        return self.normalizing_bijector(condition).inverse(z)

    # Data-dependent initialization (ActNorm).

    def _uninitialized_actnorms(self):
        return [layer for layer in self._flatten_layers()
                if isinstance(layer, ActNormLayer) and not layer.is_initialized]

    def initialize(self, x, condition=None):
        """Sets every uninitialized `ActNormLayer` from the batch `x`, layer
        by layer in data -> latent order, so each sees the output of the
        ones before it; already-initialized layers are left alone."""
        layers = self._uninitialized_actnorms()
        if not layers:
            return
        with self.distribute_strategy.scope():
            for layer in layers:
                layer.initializing = True
            try:
                self.log_prob(x, condition)
            finally:
                for layer in layers:
                    layer.initializing = False

    def prepare_training(self, x, y, batch_size):
        """Initializes ActNorm layers from the first batch of `x` (arrays, or
        a `tf.data.Dataset` of `x` or `(x, y)`) before `fit` trains."""
        if not self._uninitialized_actnorms():
            return
        if isinstance(x, tf.data.Dataset):
            first, first_y, _ = keras.utils.unpack_x_y_sample_weight(next(iter(x)))
        elif isinstance(x, (np.ndarray, tf.Tensor)):
            size = batch_size or 32
            first, first_y = x[:size], None if y is None else y[:size]
        else:
            raise TypeError(
                f"{type(self).__name__} has ActNorm layers to initialize from data: "
                f"pass `x` as an array or a tf.data.Dataset, or call "
                f"`initialize(x)` before `fit`; received {type(x).__name__}.")
        self.initialize(first, first_y)

