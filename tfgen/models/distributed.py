"""Training under `tf.distribute.MultiWorkerMirroredStrategy` (MWMS).

Keras 3 cannot `fit` or `evaluate` a model whose step returns scalars under
MWMS with more than one worker: tracing the step fails with "Invalid
reduction dimension 0 for input with 0 dimensions"
(tensorflow/tensorflow#72388, closed unfixed; the code is the same from Keras
3.3 to 3.15.1 and on Keras' master).
Keras' step function (`TensorFlowTrainer._make_function`, in
`keras/src/backend/tensorflow/trainer.py`) reduces what the step returns with
`reduce_per_replica(outputs, strategy, reduction="auto")`. For MWMS across
workers "auto" means "mean", and the multi-worker branch of `_reduce` calls

    strategy.reduce("MEAN", value, axis=0)

`Strategy.reduce` with an `axis` first sums each replica's value along that
axis (`tf.reduce_sum(value, axis=0)`), and a scalar has no axis 0. Every step
returning `{m.name: m.result()}` returns scalars, Keras' own `train_step`
too. Single-process strategies (`MirroredStrategy`) take another branch,
`tf.reduce_mean` over the stacked per-replica values, and work.

The fix gives each scalar the axis Keras reduces: under multi-worker MWMS
the step's scalars are returned with shape `[1]`, and
`reduce("MEAN", v, axis=0)` then returns the scalar mean over the replicas,
the value Keras computes for `MirroredStrategy`. Anywhere else the step's
logs are left unchanged.

What the values are: Keras metrics keep their state in `ON_READ` variables
aggregated by summing. Inside the step each replica reads its own state, so
a `keras.metrics.Mean` gives the replica's running mean, and the mean over
replicas is the running mean over the global batches (each replica gets the
same number of examples when the global batch splits evenly): the per-batch
logs callbacks see. At the end of the epoch Keras reads the metrics outside
the step, where `ON_READ` variables are summed across workers, so `History`
holds the exact mean over all the epoch's examples, the same on every worker
(`EarlyStopping` therefore stops all workers together).

That read outside the step is a collective: every worker has to call
`metric.result()`, `evaluate` or `get_metrics_result()` together, or the
ones that did wait for the others. Reading weights (`get_weights`,
`model.save`, exports) is local, so only the chief needs to write.

Data: Keras distributes a `tf.data.Dataset` with
`strategy.experimental_distribute_dataset`, which expects batches of the
global batch size. With `AutoShardPolicy.DATA` every worker builds the whole
dataset and keeps its share of every global batch, so the workers together
see the batches one process sees; `AUTO` (the default) tries `FILE` first,
which for datasets read from files gives each worker its own files (other
batches than one process sees), and falls back to `DATA` for in-memory
tensors. `shard_by_data` sets `DATA`.
Shuffles must be seeded alike on all workers.

Random draws: `replica_rows` (and `replica_slice`, `gather_replicas`)
give each replica its rows of one draw over the global batch, so a
distributed step makes the one-device update also when it is random.
"""

import tensorflow as tf

__all__ = ["MultiWorkerMetricsMixin", "gather_replicas", "in_multi_worker_mode",
           "multi_worker_logs", "replica_rows", "replica_slice", "shard_by_data"]


def replica_rows(draw, count):
    """This replica's `count` rows of one draw over the global batch.

    `draw(total)` returns `[total, ...]` random values from a seed that is
    the same on every replica; replica r keeps rows `[offset, offset +
    count)`, `offset` being the examples of the replicas before it (their
    counts all-gathered). Replicas that hold consecutive parts of a global
    batch then draw, together, exactly what one device draws for the
    whole batch, so a distributed step makes the one-device update also
    when it is random. Outside a replica context, or on one replica,
    `draw(count)`.

    Example:

    ```python
    z = replica_rows(lambda n: tf.random.stateless_normal([n, 8], seed), batch)
    ```
    """
    offset, total = replica_slice(count)
    if offset is None:
        return draw(count)
    return draw(total)[offset:offset + count]


def replica_slice(count):
    """`(offset, total)`: where this replica's `count` rows start in the
    global batch, and its size (their counts all-gathered); `(None,
    count)` outside a replica context or on one replica. For draws
    repeated in a loop (`replica_rows` gathers the counts each time)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None, count
    counts = context.all_gather(tf.reshape(tf.cast(count, tf.int32), [1]), axis=0)
    return tf.reduce_sum(counts[:context.replica_id_in_sync_group]), tf.reduce_sum(counts)


def gather_replicas(values):
    """`values` `[count, ...]` of every replica, concatenated in replica
    order (the global batch's rows); `values` itself on one replica."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return values
    return context.all_gather(values, axis=0)


def in_multi_worker_mode(strategy=None):
    """Whether `strategy` is an MWMS across several workers, the case in
    which Keras reduces the step's logs with `axis=0`.

    Args:
      strategy: a `tf.distribute.Strategy`; the current one by default.

    Returns:
      bool.
    """
    strategy = strategy or tf.distribute.get_strategy()
    # More replicas than this worker's devices: there are other workers
    # (Keras asks the private `strategy.extended._in_multi_worker_mode()`).
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.num_replicas_in_sync > len(strategy.extended.worker_devices))


def multi_worker_logs(logs, strategy=None):
    """What a `train_step` or `test_step` returns, made safe for Keras' MWMS
    reduction: call it inside the step, on the step's logs.

    Under multi-worker MWMS each scalar in `logs` becomes a `[1]` tensor, so
    Keras' `strategy.reduce("MEAN", v, axis=0)` returns the scalar mean over
    replicas; elsewhere `logs` is returned unchanged.

    Args:
      logs: a dict (or any nest) of tensors, as a step returns.
      strategy: the strategy the step runs under; the current one by default.

    Returns:
      `logs`, with scalars of shape `[1]` under multi-worker MWMS.
    """
    if not in_multi_worker_mode(strategy):
        return logs

    def with_batch_axis(value):
        value = tf.convert_to_tensor(value)
        return tf.reshape(value, [1]) if value.shape.rank == 0 else value

    return tf.nest.map_structure(with_batch_axis, logs)


def shard_by_data(dataset):
    """`dataset` with `AutoShardPolicy.DATA`: under a multi-worker strategy
    each worker keeps its share of every global batch, so the workers
    together train on the batches one process would.

    Args:
      dataset: a `tf.data.Dataset` batched by the global batch size.

    Returns:
      The dataset, with those options.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options)


class MultiWorkerMetricsMixin:
    """Makes `fit` and `evaluate` of a `keras.Model` work under multi-worker
    MWMS, whatever `train_step` and `test_step` its subclasses write.

    Put it before `keras.Model` (or before the model class it fixes) in the
    bases. The train and test functions Keras builds then run the steps
    through `multi_worker_logs`; outside multi-worker MWMS they are Keras'
    own.

    Example:

    ```python
    class GenerativeModel(MultiWorkerMetricsMixin, keras.Model):
        ...
    ```

    The overrides are Keras' `make_train_function` and `make_test_function`
    (TensorFlow backend, unchanged since Keras 3.8) with the step wrapped:
    Keras builds both from `self._make_function(step)`.
    """

    def make_train_function(self, force=False):
        if self.train_function is None or force:
            self.train_function = self._make_function(_with_multi_worker_logs(self.train_step))
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            self.test_function = self._make_function(_with_multi_worker_logs(self.test_step))
        return self.test_function


def _with_multi_worker_logs(step):
    """`step`, returning its logs through `multi_worker_logs`."""

    def step_with_multi_worker_logs(data):
        return multi_worker_logs(step(data))

    return step_with_multi_worker_logs
