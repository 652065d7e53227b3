"""`Flow`: the Keras model every normalizing flow in tfgen is built on.

A flow owns Keras layers (the weights) and, on every call, builds from them a
pure TFP bijector in the normalizing direction `f: data -> latent`. Then

    log p(x | c) = log N(f(x; c); 0, I) + log|det df/dx|

and sampling draws `z ~ N(0, T^2 I)` (temperature `T`, 1 by default) and
returns `f^{-1}(z; c)`. The condition `c` (conditional flows only) reaches
the conditioner networks; it is a class label or a vector.
"""

import math
import re

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import (
    check_event_shape, check_finite_array, check_positive_float, check_positive_int)
from tfgen.data.preprocessing import Dequantizer
from tfgen.errors import NonFiniteLossError
from tfgen.flows.actnorm import ActNormLayer
from tfgen.flows.inputs import (
    check_count, check_label_dtype, check_labels, check_sample_spec, check_samples)

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["Flow"]

_NON_FINITE_LOSS = "the training loss (negative log-likelihood) is not finite"
# What the failed assertion in `train_step` reports: "[<message>] [<step>]".
_NON_FINITE_STEP = re.compile(re.escape(_NON_FINITE_LOSS) + r"\] \[(\d+)\]")


def stateless_seed(seed):
    """An int seed (Python or tensor) as the `[2]` int32 seed TFP reads as
    stateless, so equal seeds give equal samples."""
    return tf.stack([tf.constant(0x7F6E, tf.int32), tf.cast(seed, tf.int32)])


class _CompiledLossCheck(keras.callbacks.Callback):
    """Stops `fit` on a non-finite loss where XLA compiles the step: XLA
    drops the assertion `train_step` makes, so the check runs here, after
    each execution, on the epoch's mean NLL (NaN once any step's was)."""

    def on_train_batch_end(self, batch, logs=None):
        nll = (logs or {}).get("nll")
        if nll is not None and not np.isfinite(float(nll)):
            step = int(self.model.optimizer.iterations.numpy())
            raise NonFiniteLossError(
                f"{_NON_FINITE_LOSS} by step {step} (under XLA the step that produced it "
                "was applied); lower the learning rate or check the data.", step)


class Flow(keras.Model):
    """Base class of tfgen's flows: `log_prob`, `sample`, `fit` by NLL.

    Subclasses create their layers in `__init__` and implement
    `normalizing_bijector(condition)`, which returns a fresh `tfb.Bijector`
    mapping data to latent, built from those layers.

    `train_step` minimizes the negative log-likelihood (nats) averaged over the
    global batch (under `tf.distribute`, each replica's mean is divided by the
    number of replicas, and the optimizer sums the replicas' gradients);
    `train_step` and `test_step` report `nll` (nats, in model space) and
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

    def __init__(self, event_shape, num_classes=None, condition_shape=None, dequantizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_event_shape(event_shape)
        self.dequantizer = Dequantizer.from_config(dequantizer)
        self.event_size = int(np.prod(self.event_shape))
        if num_classes is not None and condition_shape is not None:
            raise ValueError(
                f"Pass `num_classes` or `condition_shape`, not both; received "
                f"num_classes={num_classes!r}, condition_shape={condition_shape!r}.")
        self.num_classes = (None if num_classes is None
                            else check_positive_int("num_classes", num_classes))
        self.condition_shape = (None if condition_shape is None else check_event_shape(
            condition_shape, ranks=(1,), name="condition_shape"))
        # Width of the condition the conditioners see: 0 when unconditional.
        self.condition_size = (self.num_classes or 0) + (
            self.condition_shape[0] if self.condition_shape else 0)
        if self.condition_size and not self.supports_conditions:
            raise ValueError(
                f"{type(self).__name__} has no conditional form; received "
                f"num_classes={num_classes!r}, condition_shape={condition_shape!r}.")
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        # Subclasses create every weight in __init__: nothing is left to build.
        self.built = True

    def normalizing_bijector(self, condition=None):
        """Returns a fresh bijector data -> latent built from the layers;
        `condition` is the `[batch, condition_size]` float condition."""
        raise NotImplementedError

    @property
    def conditional(self):
        return self.condition_size > 0

    def _require_condition(self, given):
        """Raises unless a condition is `given` exactly for conditional flows."""
        if given and not self.conditional:
            raise ValueError(
                f"This {type(self).__name__} is unconditional; received a condition "
                "(`condition`, or labels as `y`).")
        if not given and self.conditional:
            raise ValueError(
                f"This {type(self).__name__} is conditional: pass `condition` (in `fit`, "
                "as `y`): " + ("int labels." if self.num_classes else
                               f"vectors of shape {self.condition_shape}."))

    def _condition(self, condition, batch_size=None):
        """The user's condition as a float `[batch, condition_size]` tensor,
        or None for unconditional flows. With `batch_size`, one condition
        (a label, or one vector) is repeated to that batch, and a batch of
        conditions must have that size."""
        self._require_condition(condition is not None)
        if condition is None:
            return None
        if self.num_classes:
            labels = check_labels(condition, self.num_classes)
            if batch_size is not None and labels.shape.rank == 0:
                labels = tf.fill([batch_size], labels)
            if labels.shape.rank != 1:
                raise ValueError(
                    f"`condition` must be int labels of shape [batch]; received shape "
                    f"{labels.shape.as_list()}.")
            condition = tf.one_hot(labels, self.num_classes, dtype=self.compute_dtype)
        else:
            condition = tf.cast(condition, self.compute_dtype)
            if batch_size is not None and condition.shape.rank == 1:
                condition = tf.tile(condition[None], [batch_size, 1])
            if condition.shape.rank != 2 or condition.shape[-1] != self.condition_size:
                raise ValueError(
                    f"`condition` must have shape [batch, {self.condition_size}]; received "
                    f"shape {condition.shape.as_list()}.")
        if batch_size is not None:
            condition = self._check_batch(condition, batch_size)
        return condition

    @staticmethod
    def _check_batch(condition, batch_size):
        """`condition` after checking it holds `batch_size` conditions."""
        size, expected = condition.shape[0], tf.get_static_value(batch_size)
        message = "`condition` must hold one condition, or one per example"
        if size is not None and expected is not None:
            if size != expected:
                raise ValueError(f"{message} ({expected}); received {size}.")
            return condition
        with tf.control_dependencies([tf.debugging.assert_equal(
                tf.shape(condition)[0], tf.cast(batch_size, tf.int32), message=message)]):
            return tf.identity(condition)

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

    def call(self, inputs):
        """`log_prob(x)`; conditional flows take `(x, condition)`."""
        if self.conditional:
            x, condition = inputs
            return self.log_prob(x, condition)
        return self.log_prob(inputs)

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
        n = check_count(n)
        if isinstance(temperature, (int, float)):
            check_positive_float("temperature", temperature)
        z = self.base_distribution.sample(
            n, seed=None if seed is None else stateless_seed(seed))
        z = z * tf.cast(temperature, z.dtype)
        return self.normalizing_bijector(self._condition(condition, n)).inverse(z)

    def serving_endpoints(self):
        """Endpoints for `tfgen.export.export`.

        `log_prob(x)` -> `{"log_prob"}` and `sample(n, seed)` ->
        `{"samples"}`, in model space; conditional flows add `condition` to
        both (`[batch]` int32 labels or `[batch, k]` floats, one per
        example). Flows with a `dequantizer` also speak the data's own units,
        the int32 levels `0 .. L-1` ("pixels": 0..16 for digits):
        `log_prob` adds `bits_per_dim` (of the discrete data), `sample` adds
        `pixels`, `to_model(pixels, noise)` -> `{"x"}` dequantizes (`noise`
        in [0, 1) of the same shape: uniform draws, or 0.5 for bin centres)
        and `from_model(x)` -> `{"pixels", "intensities"}` (in [0, 1]).
        """
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        n_spec = tf.TensorSpec([], tf.int32, name="n")
        seed_spec = tf.TensorSpec([], tf.int32, name="seed")
        c_spec = (tf.TensorSpec([None], tf.int32, name="condition") if self.num_classes
                  else tf.TensorSpec([None, self.condition_size], tf.float32, name="condition"))
        if self.conditional:
            endpoints = {
                "log_prob": (lambda x, condition: self._serve_log_prob(x, condition),
                             [x_spec, c_spec]),
                "sample": (lambda n, condition, seed: self._serve_sample(n, condition, seed),
                           [n_spec, c_spec, seed_spec]),
            }
        else:
            endpoints = {
                "log_prob": (lambda x: self._serve_log_prob(x), [x_spec]),
                "sample": (lambda n, seed: self._serve_sample(n, None, seed),
                           [n_spec, seed_spec]),
            }
        if self.dequantizer is not None:
            pixels_spec = tf.TensorSpec([None, *self.event_shape], tf.int32, name="pixels")
            noise_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="noise")
            endpoints["to_model"] = (
                lambda pixels, noise: {"x": self.dequantizer.to_model(pixels, noise)},
                [pixels_spec, noise_spec])
            endpoints["from_model"] = (
                lambda x: {"pixels": self.dequantizer.to_levels(x),
                           "intensities": self.dequantizer.from_model(x)}, [x_spec])
        return endpoints

    def _serve_log_prob(self, x, condition=None):
        log_prob = self.log_prob(x, condition)
        if self.dequantizer is None:
            return {"log_prob": log_prob}
        return {"log_prob": log_prob, "bits_per_dim": self.bits_per_dim(-log_prob, x)}

    def _serve_sample(self, n, condition, seed):
        samples = self.sample(n, condition, seed=seed)
        if self.dequantizer is None:
            return {"samples": samples}
        return {"samples": samples, "pixels": self.dequantizer.to_levels(samples)}

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

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.fit`, after checking the data, initializing ActNorm
        layers from the first batch of `x` (arrays, or a `tf.data.Dataset` of
        `x` or `(x, y)`) and building the optimizer.

        Raises:
          TypeError, ValueError: `x` or `y` do not fit the model (checked
            before training: dtypes, shapes, labels, finite values of arrays).
          tfgen.errors.NonFiniteLossError: the loss became NaN or infinite.
        """
        x, y = self._check_fit_data(x, y)
        if self._uninitialized_actnorms():
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
        # Without a distribution strategy Keras builds the optimizer inside
        # the first traced step; tf.function then traces `train_step` twice
        # (once creating the slot variables, once without), which doubles the
        # start-up of every `fit`. Every layer is built at construction, so
        # the optimizer can be built here.
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            with self.distribute_strategy.scope():
                optimizer.build(self.trainable_variables)
        if getattr(self, "compiled", False) and self.jit_compile:
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _CompiledLossCheck()]
        try:
            return super().fit(x, y, batch_size=batch_size, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            found = _NON_FINITE_STEP.search(error.message)
            if found is None:
                raise
            step = int(found.group(1))
            raise NonFiniteLossError(
                f"{_NON_FINITE_LOSS} at step {step}; lower the learning rate or check "
                "the data.", step) from None

    def _check_fit_data(self, x, y):
        """Checks arrays, or a dataset's element spec, against the model;
        returns array inputs as NumPy arrays."""
        if isinstance(x, tf.data.Dataset):
            x_spec, y_spec, _ = keras.utils.unpack_x_y_sample_weight(x.element_spec)
            check_sample_spec(x_spec.dtype, x_spec.shape, self.event_shape)
            self._require_condition(y_spec is not None)
            if self.num_classes:
                check_label_dtype(y_spec.dtype, self.num_classes)
            return x, y
        if not isinstance(x, (np.ndarray, tf.Tensor, list, tuple)):
            return x, y  # generators and PyDatasets: Keras' own checks
        x = np.asarray(x)
        check_sample_spec(x.dtype, x.shape, self.event_shape)
        check_finite_array("x", x)
        self._require_condition(y is not None)
        if y is not None:
            y = np.asarray(y)
            self._condition(y, len(x))
        return x, y

    # Training.

    @property
    def metrics(self):
        return [self.nll_tracker, self.bits_per_dim_tracker]

    def bits_per_dim(self, nll, x):
        """Bits/dim of examples `x` (model space) whose NLL is `nll`: of the
        discrete data when the flow has a dequantizer."""
        if self.dequantizer is not None:
            return self.dequantizer.bits_per_dim(nll, x)
        return nll / (self.event_size * math.log(2.0))

    def _update_metrics(self, nll, x):
        self.nll_tracker.update_state(nll)
        self.bits_per_dim_tracker.update_state(self.bits_per_dim(nll, x))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            nll = -self.log_prob(x, condition)
            loss = tf.reduce_mean(nll)
            scaled_loss = self.optimizer.scale_loss(loss / replicas)
        gradients = self._gradients_of_finite_loss(
            loss, tape.gradient(scaled_loss, self.trainable_weights))
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._update_metrics(nll, x)

    def _gradients_of_finite_loss(self, loss, gradients):
        """`gradients`, released only once `loss` is known to be finite: a
        NaN or infinite loss fails an assertion that names the step, before
        any update is applied."""
        step = self.optimizer.iterations + 1
        with tf.control_dependencies([tf.debugging.Assert(
                tf.math.is_finite(loss), [_NON_FINITE_LOSS, step])]):
            return [tf.identity(g) for g in gradients]

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._update_metrics(-self.log_prob(x, condition), x)

    def get_config(self):
        return {"name": self.name, "event_shape": self.event_shape,
                "num_classes": self.num_classes, "condition_shape": self.condition_shape,
                "dequantizer": None if self.dequantizer is None else self.dequantizer.get_config()}
