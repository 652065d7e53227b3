"""`train`: one training run of a registered model, as `tfgen train` does it.

The run trains on the data's train split with Adam (cosine-decayed by
default), optionally stops early on the validation loss, evaluates on the
test split (`tfgen.evaluation.evaluate`), and writes a run directory:

    DIR/model.keras  DIR/saved_model/  DIR/metrics.json  DIR/run.json
    DIR/samples.png  (DIR/density.png for 2D data)  (DIR/tensorboard/)

all into a staging directory that becomes DIR only when everything has
succeeded, so a failed or interrupted run leaves nothing behind in DIR.

Resuming: every `checkpoint_every` steps the whole training state goes to
`DIR.checkpoint/` beside DIR (see `tfgen.callbacks.PeriodicCheckpoint`).
Running the same command again after a crash or a kill resumes from it
(weights, optimizers, EMA, step; the data stream and its noise are functions
of the step) and, without early stopping, reaches the weights an
uninterrupted run reaches (early stopping's patience count and best weights
are not checkpointed: they start again);
`run.json` records `resumed_from_step`. The checkpoint is removed when DIR
is written. TensorBoard logs (`tensorboard=True`) are written to
`DIR.checkpoint/tensorboard` while the run goes and end in DIR.

Speed: training batches come from vectorized `tf.data` ops, and the train
function runs `steps_per_execution` steps per call (the progress bar moves
once per call). `metrics.json` reports `steps_per_second` (steady state:
without the first call, which traces the step, and without validation or
sample-quality measurements) and `train_seconds` (the whole `fit`).
"""

import json
import math
import os
import shutil

import keras
import numpy as np

from tfgen import callbacks, plots, registry
from tfgen._files import staged_dir
from tfgen._validation import check_run_settings
from tfgen.data import load_data
from tfgen.errors import NonFiniteLossError
from tfgen.evaluation import evaluate
from tfgen.export import export
from tfgen.models.distributed import shard_by_data

__all__ = ["train"]

# Most train steps one execution of the train function runs.
MAX_STEPS_PER_EXECUTION = 50
# Validation passes of a `steps` run with early stopping, unless given.
DEFAULT_VALIDATIONS = 20
# Steps between checkpoints, unless given.
DEFAULT_CHECKPOINT_EVERY = 1000
# Sample grids written to TensorBoard per run.
TENSORBOARD_GRIDS = 20
STRATEGIES = ("default", "mirrored", "multi-worker")


def train(model, data, out, steps=None, epochs=None, batch_size=None, lr=None,
          lr_schedule="cosine", seed=0, patience=None, validation_every=None,
          conditional=False, config=None, checkpoint_every=DEFAULT_CHECKPOINT_EVERY,
          tensorboard=False, strategy="default", quality_every=None, keep_best=None,
          verbose=1):
    """Trains model `model` (a registry name) on `data` and writes `out`.

    Args:
      model: a registered model name (`tfgen.registry.MODELS`).
      data: a data name for `tfgen.data.load_data`.
      out: the run directory to create; it must not exist, or be empty.
      steps, epochs: the budget (at most one; default the model's
        `tfgen.registry.default_training` for the data's shape, else 1000
        steps). An epoch is one
        pass over the train split in whole batches.
      batch_size: the global batch (default
        `tfgen.registry.default_batch_size`); models whose step takes
        several batches (`batches_per_step`: a GAN's discriminator steps)
        get that many per step.
      lr: Adam's (peak) learning rate, for each optimizer the model names
        (default the model's, else 1e-3).
      lr_schedule: "cosine" (decay to 0 over the budget) or "constant".
      seed: seeds weights, shuffling and dequantization noise.
      patience: early stopping after this many validations without a lower
        validation loss, keeping the best weights (default the model's:
        none for flows).
      validation_every: with `steps` and `patience`, validate every this
        many steps (default: `DEFAULT_VALIDATIONS` times per run).
      conditional: train a class-conditional model on labeled data.
      config: constructor arguments over `tfgen.registry.default_config`.
      checkpoint_every: steps between checkpoints in `out + ".checkpoint"`.
      tensorboard: write TensorBoard scalars and sample grids from fixed
        noise.
      strategy: "default" (one device), "mirrored" (all GPUs of this
        machine, `tf.distribute.MirroredStrategy`) or "multi-worker"
        (`MultiWorkerMirroredStrategy` over the machines `TF_CONFIG`
        names; run the same command on each; the chief writes `out`).
      quality_every: measure sample quality on the validation split every
        this many steps (`tfgen.callbacks.SampleQuality`; default: 10 times
        per run for models without a likelihood, GANs, else never);
        `metrics.json` lists the measurements.
      keep_best: "fid", "kid" (digits) or "energy_distance" (vectors):
        restore the weights of the best measurement at the end.
      verbose: Keras' progress bar setting.

    Returns:
      The metrics written to `out/metrics.json`, and `wrote_outputs`: False
      on the workers of a multi-worker run that leave writing to the chief.

    Raises:
      ValueError, TypeError: bad arguments, naming them.
      tfgen.errors.NonFiniteLossError: the loss diverged.
    """
    # The CLI checked these before importing TensorFlow; Python callers not.
    # (The early stopping defaults are the same for every data shape.)
    check_run_settings(model, steps, epochs, batch_size, lr, lr_schedule, patience,
                       validation_every, out, checkpoint_every, strategy, quality_every,
                       keep_best)
    out = os.path.abspath(out)
    checkpoint_dir = out + ".checkpoint"
    config = dict(config or {})
    for name in ("event_shape", "dequantizer"):
        if name in config:
            raise ValueError(f"`{name}` comes from the data; do not set it.")
    distribution = _strategy(strategy)
    keras.utils.set_random_seed(seed)
    source = load_data(data)
    if conditional:
        if source.num_classes is None:
            raise ValueError(
                f"`--conditional` needs labeled data; `--data` {data!r} has no labels.")
        if "num_classes" in config or "condition_shape" in config:
            raise ValueError("`--conditional` sets num_classes from the data; do not set it.")
        config["num_classes"] = source.num_classes
    if len(source.event_shape) not in registry.get_model_class(model).event_ranks:
        source = source.flattened()  # image data for a vector model
    steps, lr, patience, validation_every = registry.training_settings(
        model, steps, epochs, lr, patience, validation_every, len(source.event_shape) == 3)
    config = {**registry.default_config(model, source.event_shape), **config}
    if source.dequantizer is not None:
        config["dequantizer"] = source.dequantizer.get_config()
    batch_size = batch_size or registry.default_batch_size(source.image_shape is not None)
    with distribution.scope():
        network = build_model(model, source.event_shape, config)
    # A step takes `batches_per_step` batches (a GAN's k discriminator steps).
    step_batch = batch_size * network.batches_per_step
    plan = fit_plan(steps, epochs, patience, validation_every, checkpoint_every,
                    batches_per_epoch=None if epochs is None else _full_batches(
                        source, step_batch))
    if strategy == "multi-worker":
        # Keras' loop of several steps per execution fails under
        # MultiWorkerMirroredStrategy ("You must feed a value for placeholder
        # tensor" in its has-next check of the distributed iterator).
        plan["steps_per_execution"] = 1
    run = {"model": model, "data": data, "config": config,
           "image_shape": source.image_shape, "steps": plan["steps"], "batch_size": batch_size,
           "lr": lr, "lr_schedule": lr_schedule, "seed": seed, "conditional": conditional,
           "patience": patience, "validation_every": plan["validation_every"],
           "strategy": strategy}
    with distribution.scope():
        # One Adam per optimizer the family names (its generator and
        # discriminator, say), each with its own schedule over the updates
        # it makes in the budget (a GAN's discriminator makes k per step).
        network.compile(**{name: keras.optimizers.Adam(
                               _learning_rate(lr, lr_schedule,
                                              plan["steps"] * network.updates_per_step(name)),
                               **registry.adam_settings(model))
                           for name in network.optimizer_names},
                        steps_per_execution=plan["steps_per_execution"])
    resumed_from = _resume(network, checkpoint_dir, run)

    # Under a multi-worker strategy each worker keeps its share of every
    # global batch (files are not split between workers).
    train_data = shard_by_data(source.dataset("train", step_batch, seed=seed, repeat=True,
                                              labels=conditional, start_batch=resumed_from))
    fit_args = dict(epochs=plan["epochs"], steps_per_epoch=plan["steps_per_epoch"],
                    initial_epoch=resumed_from // plan["steps_per_epoch"])
    if patience is not None:
        fit_args["validation_data"] = source.dataset("validation", batch_size,
                                                     labels=conditional)
    chief = _is_chief(distribution)
    throughput = callbacks.Throughput()
    fit_callbacks = [*network.training_callbacks(), callbacks.StopAtStep(plan["steps"]),
                     throughput]
    if chief:
        fit_callbacks.append(callbacks.PeriodicCheckpoint(
            checkpoint_dir, plan["checkpoint_every"], state={"run": run}))
    quality = _sample_quality(network, source, plan, quality_every, keep_best, seed, verbose)
    if quality is not None:
        fit_callbacks.append(quality)
    if patience is not None:
        fit_callbacks.append(keras.callbacks.EarlyStopping(
            monitor=f"val_{network.loss_metric}", mode="min", patience=patience,
            restore_best_weights=True))
    log_dir = os.path.join(checkpoint_dir, "tensorboard")
    if tensorboard and chief:
        every = max(plan["steps_per_execution"], plan["steps"] // TENSORBOARD_GRIDS)
        # Keras counts TensorBoard's update_freq in executions of the train function.
        fit_callbacks += [keras.callbacks.TensorBoard(
                              log_dir, update_freq=max(1, every // plan["steps_per_execution"])),
                          callbacks.SampleGrid(log_dir, every=every, seed=seed,
                                               image_shape=source.image_shape)]
    if resumed_from >= plan["steps"]:
        history = {}
    else:
        try:
            history = network.fit(train_data, verbose=verbose, callbacks=fit_callbacks,
                                  shuffle=False, **fit_args).history  # the data are shuffled
        except NonFiniteLossError as error:
            raise NonFiniteLossError(
                f"{error} The learning rate was {lr:g}.", error.step) from None
    steps_run = int(network.optimizer.iterations.numpy())
    if quality is not None:  # measuring is not training
        throughput.excluded_seconds = quality.seconds_during_training

    metrics = evaluate(network, source, "test", seed=seed)
    metrics.update(train_seconds=throughput.seconds, steps=steps_run,
                   steps_per_second=throughput.steps_per_second,
                   steps_per_execution=plan["steps_per_execution"])
    loss = network.loss_metric
    if loss in history:
        metrics[f"final_train_{loss}"] = float(history[loss][-1])
    if f"val_{loss}" in history:
        val = history[f"val_{loss}"]
        metrics.update({f"best_validation_{loss}": float(min(val)),
                        "best_validation_epoch": int(np.argmin(val)) + 1,
                        "epochs_run": len(val)})
    if quality is not None:
        metrics["sample_quality_during_training"] = quality.records
        if keep_best:
            metrics["best_quality_step"] = quality.best_step
    run.update(steps=steps_run, resumed_from_step=resumed_from or None)
    if not chief:
        return {**metrics, "wrote_outputs": False}
    with staged_dir(out) as staging:
        network.save(os.path.join(staging, "model.keras"))
        export(network, os.path.join(staging, "saved_model"))
        write_pictures(network, source, staging, seed)
        write_json(os.path.join(staging, "run.json"), run)
        write_json(os.path.join(staging, "metrics.json"), metrics)
        if os.path.isdir(log_dir):
            shutil.move(log_dir, os.path.join(staging, "tensorboard"))
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {**metrics, "wrote_outputs": True}


def _sample_quality(network, source, plan, every, keep_best, seed, verbose):
    """The `SampleQuality` callback of a run, or None: asked for, or by
    default (10 measurements) for models without a likelihood on digits or
    vector data; `every` rounded up to whole executions."""
    measurable = source.name == "digits" or (source.image_shape is None
                                             and len(source.event_shape) == 1)
    if every is None and keep_best is None and (network.likelihood is not None
                                                or not measurable):
        return None
    # Callbacks run between executions: a multiple of their size.
    execution = plan["steps_per_execution"]
    every = -(-(every or max(1, plan["steps"] // 10)) // execution) * execution
    return callbacks.SampleQuality(source, every, keep_best=keep_best, seed=seed,
                                   verbose=verbose)


def _learning_rate(lr, schedule, steps):
    """`lr`, or its cosine decay to 0 over `steps`."""
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, steps)
    return lr


def _strategy(name):
    """The `tf.distribute` strategy named by `strategy`."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _is_chief(strategy):
    """Whether this process writes the outputs: always, except for the
    non-chief workers of a multi-worker run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _resume(network, checkpoint_dir, run):
    """Loads the checkpoint of this run, if there is one; returns its step
    (0 when starting afresh)."""
    _, state = callbacks.read_checkpoint(checkpoint_dir)
    if state is None:
        return 0
    run = json.loads(json.dumps(run))  # as stored: tuples are lists
    if state.get("run") != run:
        differ = sorted(k for k in set(run) | set(state.get("run") or {})
                        if run.get(k) != (state.get("run") or {}).get(k))
        raise ValueError(
            f"`--out`: {checkpoint_dir!r} holds the checkpoint of a different run "
            f"(it differs in {', '.join(differ)}); remove it to start over, or run the "
            "same command to resume it.")
    network.build_optimizers()
    network.load_weights(os.path.join(checkpoint_dir, callbacks.checkpoint.MODEL_FILE))
    # The step the weights are at (a kill between the checkpoint's two files
    # can leave state.json one checkpoint behind).
    step = int(network.optimizer.iterations.numpy())
    print(f"tfgen: resuming from the checkpoint of step {step} in {checkpoint_dir}")
    return step


def fit_plan(steps, epochs, patience, validation_every, checkpoint_every, batches_per_epoch):
    """How `fit` runs a budget over the repeating training stream: epochs,
    steps per epoch, the step budget, the validation interval, the
    checkpoint interval and steps per execution.

    A `steps` budget runs epochs of `validation_every` steps (one epoch
    without early stopping), cut at the budget by `StopAtStep`; an `epochs`
    budget runs epochs of `batches_per_epoch` steps. Steps per execution
    divide the epoch, the budget and the checkpoint interval (at most the
    budget), so executions end exactly on them, and leave at least four
    executions to measure the steady-state rate on.
    """
    if epochs is not None:
        steps, every = epochs * batches_per_epoch, batches_per_epoch
    else:
        steps = steps or 1000
        every = steps
        if patience is not None:
            every = min(validation_every or max(1, steps // DEFAULT_VALIDATIONS), steps)
    checkpoint_every = min(checkpoint_every, steps)
    if patience is not None and epochs is None:
        # Checkpoints at validation points: a resumed run validates where
        # an uninterrupted one does.
        checkpoint_every = max(every, checkpoint_every // every * every)
    return dict(epochs=epochs or -(-steps // every), steps_per_epoch=every, steps=steps,
                validation_every=every if patience is not None and epochs is None else None,
                checkpoint_every=checkpoint_every,
                steps_per_execution=_divisor_at_most(
                    math.gcd(steps, every, checkpoint_every),
                    min(MAX_STEPS_PER_EXECUTION, max(1, steps // 4))))


def _full_batches(source, batch_size):
    """Whole batches in one pass over the train split (an epoch)."""
    n = source.num_examples("train")
    return n // min(batch_size, n)


def _divisor_at_most(n, limit):
    """The largest divisor of `n` that is at most `limit`."""
    return max(k for k in range(1, min(n, limit) + 1) if n % k == 0)


def build_model(name, event_shape, config):
    """`registry.get_model_class(name)(event_shape=..., **config)`, with an
    unknown argument reported as a ValueError naming it."""
    cls = registry.get_model_class(name)
    try:
        return cls(event_shape=event_shape, **config)
    except TypeError as error:
        if "unexpected keyword argument" in str(error):
            raise ValueError(
                f"{name} has no constructor argument among {sorted(config)}: "
                f"{error}") from None
        raise


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def class_rows(model, per_class, seed, **options):
    """Samples `[classes * per_class, ...]`, class `k` in row `k`
    (`options`: of `model.sample`)."""
    labels = np.repeat(np.arange(model.num_classes, dtype=np.int32), per_class)
    return np.asarray(model.sample(len(labels), labels, seed=seed, **options))


def write_pictures(model, source, out_dir, seed):
    """samples.png (a grid of images, one row per class when conditional, or
    a scatter of 2D samples) and, for 2D data and models with an exact
    likelihood, density.png."""
    if source.image_shape is not None:
        path = os.path.join(out_dir, "samples.png")
        if model.conditional:
            samples, columns = class_rows(model, 10, seed), 10
        else:
            samples, columns = model.sample(64, seed=seed), None
        pixels = source.to_pixels(samples).reshape([-1, *source.image_shape])
        plots.image_grid_png(pixels, path, columns=columns)
    elif source.event_shape == [2]:
        samples = np.asarray(model.sample(2000, seed=seed))
        reference = next(iter(source.dataset("test", 2000, shuffle=False))).numpy()
        bounds = source.toy.bounds if source.toy is not None else (
            float(reference.min()) - 0.5, float(reference.max()) + 0.5)
        plots.scatter_png(samples, os.path.join(out_dir, "samples.png"),
                          reference=reference, bounds=bounds)
        if model.likelihood != "exact":
            return
        plots.density_png(
            lambda p: model.log_prob(p).numpy(), os.path.join(out_dir, "density.png"),
            bounds=bounds,
            true_log_prob=source.toy.log_prob if source.toy is not None else None)
    else:
        samples = np.asarray(model.sample(2000, seed=seed))
        plots.scatter_png(samples[:, :2], os.path.join(out_dir, "samples.png"),
                          title="model samples, first two coordinates")
