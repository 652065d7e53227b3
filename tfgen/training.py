"""`train`: one training run of a registered model, as `tfgen train` does it.

The run trains on the data's train split with Adam (cosine-decayed by
default), optionally stops early on the validation NLL, evaluates on the
test split, and writes a run directory:

    DIR/model.keras  DIR/saved_model/  DIR/metrics.json  DIR/run.json
    DIR/samples.png  (DIR/density.png for 2D data)

all into a staging directory that becomes DIR only when everything has
succeeded, so a failed or interrupted run leaves nothing behind.

Speed: training batches come from vectorized `tf.data` ops, and the train
function runs `steps_per_execution` steps per call (the progress bar moves
once per call). `metrics.json` reports `steps_per_second` (steady state:
without the first call, which traces the step, and without validation) and
`train_seconds` (the whole `fit`).
"""

import json
import math
import os

import keras
import numpy as np

from tfgen import callbacks, plots, registry
from tfgen._files import staged_dir
from tfgen._validation import check_train_arguments
from tfgen.data import load_data
from tfgen.errors import NonFiniteLossError
from tfgen.export import export

__all__ = ["train"]

# Most train steps one execution of the train function runs.
MAX_STEPS_PER_EXECUTION = 50
# Validation passes of a `steps` run with early stopping, unless given.
DEFAULT_VALIDATIONS = 20


def train(model, data, out, steps=None, epochs=None, batch_size=None, lr=1e-3,
          lr_schedule="cosine", seed=0, patience=None, validation_every=None,
          conditional=False, config=None, verbose=1):
    """Trains model `model` (a registry name) on `data` and writes `out`.

    Args:
      model: a registered model name (`tfgen.registry.MODELS`).
      data: a data name for `tfgen.data.load_data`.
      out: the run directory to create; it must not exist, or be empty.
      steps, epochs: the budget (at most one; default 1000 steps).
      batch_size: default `tfgen.registry.default_batch_size`.
      lr: Adam's (peak) learning rate.
      lr_schedule: "cosine" (decay to 0 over the budget) or "constant".
      seed: seeds weights, shuffling and dequantization noise.
      patience: early stopping after this many validations without a lower
        validation NLL, keeping the best weights.
      validation_every: with `steps` and `patience`, validate every this
        many steps (default: `DEFAULT_VALIDATIONS` times per run).
      conditional: train a class-conditional model on labeled data.
      config: constructor arguments over `tfgen.registry.default_config`.
      verbose: Keras' progress bar setting.

    Returns:
      The metrics written to `out/metrics.json`.

    Raises:
      ValueError, TypeError: bad arguments, naming them.
      tfgen.errors.NonFiniteLossError: the loss diverged.
    """
    # The CLI checked these before importing TensorFlow; Python callers not.
    registry.check_model_name(model)
    check_train_arguments(steps=steps, epochs=epochs, batch_size=batch_size, lr=lr,
                          lr_schedule=lr_schedule, patience=patience,
                          validation_every=validation_every, out=out)
    out = os.path.abspath(out)
    config = dict(config or {})
    for name in ("event_shape", "dequantizer"):
        if name in config:
            raise ValueError(f"`{name}` comes from the data; do not set it.")
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
    config = {**registry.default_config(model, source.event_shape), **config}
    if source.dequantizer is not None:
        config["dequantizer"] = source.dequantizer.get_config()
    flow = build_model(model, source.event_shape, config)
    batch_size = batch_size or registry.default_batch_size(source.image_shape is not None)

    train_data = source.dataset("train", batch_size, seed=seed, repeat=epochs is None,
                                labels=conditional)
    plan = fit_plan(steps, epochs, patience, validation_every,
                    batches_per_epoch=None if epochs is None else _batches(train_data))
    fit_args = dict(epochs=plan["epochs"], steps_per_epoch=plan["steps_per_epoch"])
    if patience is not None:
        fit_args["validation_data"] = source.dataset("validation", batch_size,
                                                     labels=conditional)
    throughput = callbacks.Throughput()
    fit_callbacks = [callbacks.StopAtStep(plan["steps"]), throughput]
    if patience is not None:
        fit_callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_nll", mode="min", patience=patience, restore_best_weights=True))
    learning_rate = lr
    if lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(lr, plan["steps"])
    flow.compile(optimizer=keras.optimizers.Adam(learning_rate),
                 steps_per_execution=plan["steps_per_execution"])
    try:
        history = flow.fit(train_data, verbose=verbose, callbacks=fit_callbacks,
                           shuffle=False, **fit_args)  # the data are shuffled
    except NonFiniteLossError as error:
        raise NonFiniteLossError(f"{error} The learning rate was {lr:g}.", error.step) from None
    steps_run = int(flow.optimizer.iterations.numpy())

    metrics = source.metrics(flow, "test")
    metrics.update(train_seconds=throughput.seconds, steps=steps_run,
                   steps_per_second=throughput.steps_per_second,
                   steps_per_execution=plan["steps_per_execution"],
                   final_train_nll=float(history.history["nll"][-1]))
    if "val_nll" in history.history:
        val = history.history["val_nll"]
        metrics.update(best_validation_nll=float(min(val)),
                       best_validation_epoch=int(np.argmin(val)) + 1,
                       epochs_run=len(val))
    run = {"model": model, "data": data, "config": config,
           "image_shape": source.image_shape, "steps": steps_run, "batch_size": batch_size,
           "lr": lr, "lr_schedule": lr_schedule, "seed": seed, "conditional": conditional,
           "patience": patience, "validation_every": plan["validation_every"]}
    with staged_dir(out) as staging:
        flow.save(os.path.join(staging, "model.keras"))
        export(flow, os.path.join(staging, "saved_model"))
        write_pictures(flow, source, staging, seed)
        write_json(os.path.join(staging, "run.json"), run)
        write_json(os.path.join(staging, "metrics.json"), metrics)
    return metrics


def fit_plan(steps, epochs, patience, validation_every, batches_per_epoch):
    """How `fit` runs a budget: epochs, steps per epoch, the step budget,
    the validation interval and steps per execution.

    A `steps` budget runs epochs of `validation_every` steps (one epoch
    without early stopping) over a repeating dataset, cut at the budget by
    `StopAtStep`. Steps per execution divide both the epoch and the budget,
    so executions end exactly on them, and leave at least four executions to
    measure the steady-state rate on.
    """
    if epochs is not None:
        total = epochs * batches_per_epoch
        return dict(epochs=epochs, steps_per_epoch=None, steps=total, validation_every=None,
                    steps_per_execution=_divisor_at_most(
                        batches_per_epoch, min(MAX_STEPS_PER_EXECUTION, max(1, total // 4))))
    steps = steps or 1000
    every = steps
    if patience is not None:
        every = min(validation_every or max(1, steps // DEFAULT_VALIDATIONS), steps)
    return dict(epochs=-(-steps // every), steps_per_epoch=every, steps=steps,
                validation_every=every if patience is not None else None,
                steps_per_execution=_divisor_at_most(
                    math.gcd(steps, every), min(MAX_STEPS_PER_EXECUTION, max(1, steps // 4))))


def _batches(dataset):
    """Batches in one pass over a finite dataset."""
    count = int(dataset.cardinality())
    return count if count >= 0 else sum(1 for _ in dataset)


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


def class_rows(model, per_class, seed):
    """Samples `[classes * per_class, ...]`, class `k` in row `k`."""
    labels = np.repeat(np.arange(model.num_classes, dtype=np.int32), per_class)
    return np.asarray(model.sample(len(labels), labels, seed=seed))


def write_pictures(model, source, out_dir, seed):
    """samples.png (a grid of images, one row per class when conditional, or
    a scatter of 2D samples) and, for 2D data, density.png."""
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
        plots.density_png(
            lambda p: model.log_prob(p).numpy(), os.path.join(out_dir, "density.png"),
            bounds=bounds,
            true_log_prob=source.toy.log_prob if source.toy is not None else None)
    else:
        samples = np.asarray(model.sample(2000, seed=seed))
        plots.scatter_png(samples[:, :2], os.path.join(out_dir, "samples.png"),
                          title="model samples, first two coordinates")
