"""`GenerativeModel`: the one contract every tfgen model family implements.

A family subclasses `GenerativeModel`, creates its layers in `__init__`, and
writes `train_step` (and `test_step`) as in Keras' guides, with the base's
helpers for what every family shares:

    with tf.GradientTape() as tape:
        per_example = family_loss(x, condition)        # [batch]
        loss = self.global_mean(per_example)          # over the global batch
    self.minimize(tape, loss, self.trainable_weights)  # scale_loss, finite check
    self.update_ema()                                 # if ema_decay is set

The base owns conditions (Keras' `y`, validated in one place), named
optimizers (built before the first step, saved and restored with their
state), the exact global-batch mean under any `tf.distribute` strategy, the
stop on a non-finite loss, the exponential moving average of the weights
(used by `sample`, `evaluate` and exports), seeded stateless sampling, and
the data checks of `fit`.
"""

import contextlib
import math
import re

import keras
import numpy as np
import tensorflow as tf

from tfgen._validation import check_event_shape, check_finite_array, check_positive_int
from tfgen.data.preprocessing import Dequantizer
from tfgen.errors import NonFiniteLossError
from tfgen.models.distributed import MultiWorkerMetricsMixin
from tfgen.models.inputs import check_count, check_label_dtype, check_labels, check_sample_spec

__all__ = ["GenerativeModel", "stateless_seed"]

_NON_FINITE = "the training loss is not finite"
# What the failed assertion in `minimize` reports: "[<message>] [<step>]".
_NON_FINITE_STEP = re.compile(re.escape(_NON_FINITE) + r"\] \[(\d+)\]")


def stateless_seed(seed):
    """An int seed (Python or tensor) as the `[2]` int32 seed TFP and
    `tf.random.stateless_*` read, so equal seeds give equal samples."""
    return tf.stack([tf.constant(0x7F6E, tf.int32), tf.cast(seed, tf.int32)])


class _CompiledLossCheck(keras.callbacks.Callback):
    """Stops `fit` on a non-finite loss where XLA compiles the step: XLA
    drops the assertion `minimize` makes, so the check runs here, after each
    execution, on the epoch's running mean of the model's `loss_metric`
    (NaN once any step's loss was)."""

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get(self.model.loss_metric)
        if value is not None and not np.isfinite(float(value)):
            step = int(self.model.optimizer.iterations.numpy())
            raise NonFiniteLossError(
                f"the training loss ({self.model.loss_name}) is not finite by step {step} "
                "(under XLA the "
                "step that produced it was applied); lower the learning rate or check "
                "the data.", step)


class GenerativeModel(MultiWorkerMetricsMixin, keras.Model):
    """Base of every tfgen model family.

    Subclasses set the class attributes below, create their layers in
    `__init__`, and implement `draw` (sampling), `train_step`, `test_step`
    and `serving_endpoints`; `get_config` extends the base's.

    Class attributes:
      family: the family's name ("flow", "vae", "gan", ...).
      likelihood: "exact" (flows, autoregressive), "bound" (ELBO, IWAE,
        VLB) or None (GANs, unnormalized energy models).
      supports_conditions: whether the family has conditional forms.
      event_ranks: the example ranks it takes: 1 (vectors), 3 (images).
      optimizer_names: the optimizers `compile` takes, the first also being
        `model.optimizer` (whose `iterations` count the training steps);
        families with several override `optimizer_variables(name)`.
      loss_metric: the tracker whose value is the training loss (the one a
        non-finite check under XLA reads, and early stopping watches).
      loss_name: the training loss in words, for messages.
      batches_per_step: batches one training step consumes (a GAN's k
        discriminator steps, each on its own batch): `tfgen train` feeds
        batches that many times its batch size.
      likelihood_of_levels: whether the likelihood (or its bound) is that
        of the discrete data's levels themselves (a categorical decoder's)
        rather than a density in model space.
      sampling_options: the keyword options `sample` passes to `draw`
        (a diffusion model's sampler and steps), which `tfgen sample` and
        `tfgen eval` take as flags.

    Args:
      event_shape: the shape of one example.
      num_classes: class-conditional model: conditions are int labels in
        `[0, num_classes)`, passed as Keras' `y` in `fit` and as `condition`
        elsewhere.
      condition_shape: vector-conditional model: conditions are float
        vectors `[k]` (pass one of `num_classes`, `condition_shape`, or
        neither).
      dequantizer: for discrete data, the `tfgen.data.Dequantizer` (or its
        `get_config()` dict) between the data's integer levels and the
        model space that `sample` and the likelihoods work in.
      ema_decay: keep an exponential moving average of the trainable
        weights, `a <- d a + (1 - d) w` after every training step (`a`
        starts at the weights when training starts); `sample`, `evaluate`
        and exports then use the averages. None: no averaging.
      ema_warmup: average with `d_t = min(d, (1 + t) / (10 + t))` at
        training step t (`tf.train.ExponentialMovingAverage`'s
        `num_updates` form), so short runs do not keep much of the initial
        weights (with d = 0.999 they would keep 0.999^t of them).
    """

    family = None
    likelihood = None
    supports_conditions = True
    event_ranks = (1, 3)
    optimizer_names = ("optimizer",)
    loss_metric = "loss"
    loss_name = "loss"
    batches_per_step = 1
    sampling_options = ()
    likelihood_of_levels = False

    def __init__(self, event_shape, num_classes=None, condition_shape=None, dequantizer=None,
                 ema_decay=None, ema_warmup=False, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_event_shape(event_shape)
        self.event_size = int(np.prod(self.event_shape))
        self.dequantizer = Dequantizer.from_config(dequantizer)
        if num_classes is not None and condition_shape is not None:
            raise ValueError(
                f"Pass `num_classes` or `condition_shape`, not both; received "
                f"num_classes={num_classes!r}, condition_shape={condition_shape!r}.")
        self.num_classes = (None if num_classes is None
                            else check_positive_int("num_classes", num_classes))
        self.condition_shape = (None if condition_shape is None else check_event_shape(
            condition_shape, ranks=(1,), name="condition_shape"))
        # Width of the condition the networks see: 0 when unconditional.
        self.condition_size = (self.num_classes or 0) + (
            self.condition_shape[0] if self.condition_shape else 0)
        if self.condition_size and not self.supports_conditions:
            raise ValueError(
                f"{type(self).__name__} has no conditional form; received "
                f"num_classes={num_classes!r}, condition_shape={condition_shape!r}.")
        if ema_decay is not None and not (isinstance(ema_decay, (int, float))
                                          and 0.0 <= ema_decay < 1.0):
            raise ValueError(f"`ema_decay` must be a float in [0, 1); received {ema_decay!r}.")
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.ema_warmup = bool(ema_warmup)
        # The averages, one per trainable weight, created by `_ensure_ema`.
        self.ema_weights = None
        self._ema_applied = False

    # Conditions.

    @property
    def conditional(self):
        return self.condition_size > 0

    def _require_condition(self, given):
        """Raises unless a condition is `given` exactly for conditional models."""
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
        """The user's condition as a float `[batch, condition_size]` tensor
        (labels one-hot), or None for unconditional models. With
        `batch_size`, one condition (a label, or one vector) is repeated to
        that batch, and a batch of conditions must have that size."""
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
            condition = _check_batch(condition, batch_size)
        return condition

    # Sampling.

    def sample(self, n, condition=None, seed=None, **options):
        """Draws `n` samples in model space, with the averaged weights when
        the model keeps them; the same int `seed` gives the same samples
        (also inside an exported graph).

        Args:
          n: number of samples (a positive int, or an int scalar tensor).
          condition: conditional models: one condition (a label, or a `[k]`
            vector) for all samples, or `n` of them.
          seed: int seed.
          **options: the family's sampling options (see its `draw`).
        """
        n = check_count(n)
        condition = self._condition(condition, n)
        with self.averaged_weights():
            return self.draw(n, condition, None if seed is None else stateless_seed(seed),
                             **options)

    def draw(self, n, condition, seed, **options):
        """Returns `n` samples; `condition` is the `[n, condition_size]`
        float condition or None, `seed` a stateless `[2]` seed or None."""
        raise NotImplementedError

    def serving_endpoints(self):
        """name -> (function returning a dict of tensors, input signature),
        for `tfgen.export.export`."""
        raise NotImplementedError

    def condition_spec(self):
        """The `condition` of exported signatures: int labels `[n]` of
        class-conditional models, else float vectors `[n, k]`."""
        if self.num_classes:
            return tf.TensorSpec([None], tf.int32, name="condition")
        return tf.TensorSpec([None, self.condition_size], tf.float32, name="condition")

    def _serve_sample(self, n, condition, seed, **options):
        """The exported `sample`: `{"samples"}` in model space, and for
        discrete data `"pixels"`, their int32 levels; `options` go to
        `draw`."""
        samples = self.sample(n, condition, seed=seed, **options)
        if self.dequantizer is None:
            return {"samples": samples}
        return {"samples": samples, "pixels": self.dequantizer.to_levels(samples)}

    # Likelihoods.

    def bits_per_dim(self, nll, x):
        """Bits/dim of examples `x` (model space) whose NLL (or NLL bound)
        is `nll` nats: of the discrete data when the model has a
        dequantizer (`nll / (D ln 2)` directly when its likelihood is that
        of the levels, `likelihood_of_levels`), else `nll / (D ln 2)`."""
        if self.dequantizer is not None and not self.likelihood_of_levels:
            return self.dequantizer.bits_per_dim(nll, x)
        return nll / (self.event_size * math.log(2.0))

    def nll_bounds(self, x, condition=None):
        """Families with `likelihood = "bound"`: `{name: [batch] upper
        bounds on the NLL of x in nats}`, e.g. `{"elbo": ..., "iwae": ...}`;
        evaluation reports each as `<name>_nll` and `<name>_bits_per_dim`."""
        raise NotImplementedError

    def evaluation_metrics(self, source, split="test"):
        """The family's own figures on `split` of `source` (a
        `tfgen.data.DataSource`) that evaluation reports next to the
        likelihood and sample quality, as a dict of floats (a VQ-VAE's
        reconstruction and codebook use); none by default."""
        return {}

    # Optimizers.

    def compile(self, optimizer=None, **kwargs):
        """`keras.Model.compile` with the family's named optimizers.

        Single-network families take `optimizer=`; families with several
        take each name in `optimizer_names` (e.g. `generator_optimizer=`,
        `discriminator_optimizer=`), as optimizer instances or names.
        """
        names = self.optimizer_names
        given = {"optimizer": optimizer} if names == ("optimizer",) else {
            name: kwargs.pop(name, None) for name in names}
        if names != ("optimizer",) and optimizer is not None:
            raise ValueError(f"{type(self).__name__} takes {', '.join(names)}; received "
                             f"`optimizer`={optimizer!r}.")
        missing = [name for name, value in given.items() if value is None]
        if missing:
            raise ValueError(f"{type(self).__name__}.compile needs `{missing[0]}`.")
        optimizers = {name: keras.optimizers.get(value) for name, value in given.items()}
        super().compile(optimizer=optimizers.get("optimizer"), **kwargs)
        for name, value in optimizers.items():
            setattr(self, name, value)
        self.optimizer = optimizers[names[0]]

    def named_optimizers(self):
        """`{name: optimizer}` in `optimizer_names` order (after `compile`)."""
        return {name: getattr(self, name) for name in self.optimizer_names}

    def optimizer_variables(self, name):
        """The variables the optimizer `name` trains."""
        return self.trainable_variables

    def updates_per_step(self, name):
        """How many updates the optimizer `name` makes per training step (a
        GAN's discriminator makes k): its learning-rate schedule spans
        that many times the step budget."""
        return 1

    def build_optimizers(self):
        """Creates every optimizer's state (slots, iterations) for its
        variables, so that it is tracked before the first step; a no-op for
        built ones."""
        with self.distribute_strategy.scope():
            for name, optimizer in self.named_optimizers().items():
                if not optimizer.built:
                    optimizer.build(self.optimizer_variables(name))

    def get_compile_config(self):
        config = super().get_compile_config()
        if self.compiled and self.optimizer_names != ("optimizer",):
            config.update({name: keras.optimizers.serialize(optimizer)
                           for name, optimizer in self.named_optimizers().items()})
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        if self.optimizer_names != ("optimizer",):
            config.pop("optimizer", None)
        self.compile(**config)
        if self.built:
            self.build_optimizers()

    # Losses and updates.

    def step_seed(self, key=0x5EED, per_replica=True):
        """A stateless `[2]` seed of this training step (the first
        optimizer's iterations), `key` and, `per_replica`, this replica:
        training noise that a resumed run draws again exactly. With
        `per_replica=False` every replica gets the same seed, for draws over
        the global batch (`tfgen.models.distributed.replica_rows`)."""
        context = tf.distribute.get_replica_context()
        replica = 0 if context is None or not per_replica else context.replica_id_in_sync_group
        seed = tf.stack([tf.cast(replica, tf.int32), tf.constant(key, tf.int32)])
        return tf.random.experimental.stateless_fold_in(
            seed, tf.cast(self.optimizer.iterations, tf.int32))

    @staticmethod
    def global_mean(per_example):
        """The mean of a replica's per-example losses `[batch]` over the
        global batch: `sum / (total examples on all replicas)`. Optimizers
        sum the replicas' gradients, so this is the single-device update,
        also when the replicas' batches differ in size."""
        per_example = tf.convert_to_tensor(per_example)
        count = _sum_over_replicas(tf.cast(tf.size(per_example), per_example.dtype))
        return tf.reduce_sum(per_example) / count

    def minimize(self, tape, loss, variables, optimizer_name="optimizer"):
        """One step of optimizer `optimizer_name` on `loss`, recorded on
        `tape` (a `GradientTape` that was `persistent` if more steps follow):
        the loss is scaled by the optimizer (mixed precision), and the
        update waits for an assertion that the loss is finite on every
        replica, so a NaN or infinite loss stops training (all replicas
        together) before any update is applied."""
        optimizer = getattr(self, optimizer_name)
        gradients = tape.gradient(optimizer.scale_loss(loss), variables)
        step = optimizer.iterations + 1
        with tf.control_dependencies([tf.debugging.Assert(
                _finite_everywhere(loss), [_NON_FINITE, step])]):
            gradients = [tf.identity(g) for g in gradients]
        optimizer.apply_gradients(zip(gradients, variables))

    # Exponential moving average of the weights.

    def ema_targets(self):
        """The weights `ema_decay` averages: every trainable weight by
        default (a GAN averages its generator's only)."""
        return self.trainable_weights

    def _ensure_ema(self):
        """Creates the averages (equal to the weights) when `ema_decay` is set."""
        if self.ema_decay is None or self.ema_weights is not None:
            return
        with self.distribute_strategy.scope():
            self.ema_weights = [
                self.add_weight(shape=w.shape, dtype=w.dtype, trainable=False,
                                initializer=keras.initializers.Constant(w.numpy()),
                                aggregation="mean", name=f"ema_{i}")
                for i, w in enumerate(self.ema_targets())]

    def update_ema(self):
        """`a <- d a + (1 - d) w` for every weight of `ema_targets` (d
        warmed up with `ema_warmup`); call at the end of `train_step`, after
        the step's update. A no-op without `ema_decay`."""
        if self.ema_weights is None:
            return
        decay = tf.constant(self.ema_decay, tf.float32)
        if self.ema_warmup:  # t: the steps made, this one included
            t = tf.cast(self.optimizer.iterations, tf.float32)
            decay = tf.minimum(decay, (1.0 + t) / (10.0 + t))
        for average, weight in zip(self.ema_weights, self.ema_targets()):
            d = tf.cast(decay, average.dtype)
            average.assign(d * average + (1.0 - d) * weight)

    @contextlib.contextmanager
    def averaged_weights(self, use=True):
        """Within, the trainable weights hold their averages (when the model
        keeps them and `use` is true); the raw weights are back after."""
        if not use or self.ema_weights is None or self._ema_applied:
            yield
            return
        self._swap_ema()
        self._ema_applied = True
        try:
            yield
        finally:
            self._swap_ema()
            self._ema_applied = False

    def _swap_ema(self):
        for average, weight in zip(self.ema_weights, self.ema_targets()):
            raw = tf.identity(weight)
            weight.assign(average)
            average.assign(raw)

    def save_own_variables(self, store):
        self._ensure_ema()
        super().save_own_variables(store)

    def load_own_variables(self, store):
        self._ensure_ema()
        super().load_own_variables(store)

    # Training and evaluation.

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.fit` after checking the data against the model,
        building every optimizer and the weight averages.

        Raises:
          TypeError, ValueError: `x` or `y` do not fit the model (checked
            before training: dtypes, shapes, labels, finite values of arrays).
          tfgen.errors.NonFiniteLossError: the loss became NaN or infinite.
        """
        x, y = self._check_fit_data(x, y)
        self.prepare_training(x, y, batch_size)
        # Without a distribution strategy Keras builds the optimizer inside
        # the first traced step; tf.function then traces `train_step` twice
        # (once creating the slot variables, once without).
        if getattr(self, "compiled", False):
            self.build_optimizers()
        self._ensure_ema()
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
                f"the training loss ({self.loss_name}) is not finite at step {step}; "
                "lower the learning rate or check the data.", step) from None

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a distribution strategy Keras builds the model from a first
        # batch it draws from the training iterator: that batch is then
        # skipped when the iterator outlives the epoch (`steps_per_epoch`
        # over a repeating dataset, as `tfgen train` runs), and the draw
        # fails when the replicas' batches differ in size. tfgen models are
        # built at construction and their optimizers in `fit`: nothing needs
        # a batch, unless the user compiled Keras losses or metrics.
        if self.built and self._compile_loss is None and self._compile_metrics is None:
            if getattr(self, "compiled", False):
                self.build_optimizers()
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def training_callbacks(self):
        """Callbacks the model's configuration asks `tfgen train` to add
        (loss-weight schedules, say); none by default."""
        return []

    def prepare_training(self, x, y, batch_size):
        """Family hook run by `fit` before training (e.g. data-dependent
        initialization); `x`, `y` as given to `fit`."""

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate` with the averaged weights (also for the
        validation passes of `fit`)."""
        with self.averaged_weights():
            return super().evaluate(*args, **kwargs)

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

    def get_config(self):
        return {"name": self.name, "event_shape": self.event_shape,
                "num_classes": self.num_classes, "condition_shape": self.condition_shape,
                "dequantizer": None if self.dequantizer is None else self.dequantizer.get_config(),
                "ema_decay": self.ema_decay, "ema_warmup": self.ema_warmup}


def _sum_over_replicas(value):
    """`value` summed over the replicas in sync (itself on one replica, or
    outside a replica context)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _finite_everywhere(loss):
    """Whether `loss` is finite on every replica, so that all of them stop
    together."""
    return tf.equal(_sum_over_replicas(tf.cast(~tf.math.is_finite(loss), tf.float32)), 0.0)


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
