"""The `tfgen` command line: train, eval, sample, export.

    tfgen train MODEL --data DATA [--steps N | --epochs N] [--batch-size B]
                      [--lr LR] [--lr-schedule cosine|constant] [--seed S]
                      [--patience P] [--validation-every K] [--conditional]
                      [--set KEY=VALUE ...]
                      [--config FILE.yaml] --out DIR
    tfgen eval DIR --data DATA         # prints one JSON object of metrics
    tfgen sample DIR -n N --out FILE [--label L]   # .npy (model space) or .png
    tfgen export DIR --out EXPORT_DIR

`train` writes DIR/model.keras, DIR/saved_model/, DIR/metrics.json,
DIR/samples.png (and DIR/density.png for 2D data) and DIR/run.json, all into
a staging directory that becomes DIR only when everything succeeded.

`--patience P` stops training after P validation evaluations without a lower
validation NLL and keeps the best weights (early stopping); the validation
split is scored every epoch (`--epochs`) or every K steps (`--steps`).
`--conditional` trains a class-conditional model on labeled data (digits,
TFDS); its samples.png has one row per class.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import yaml

__all__ = ["main"]


def _parse_set(items):
    """`KEY=VALUE` strings -> dict, each value parsed as YAML."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"`--set` takes KEY=VALUE; received {item!r}.")
        out[key] = yaml.safe_load(value)
    return out


def _model_kwargs(args):
    kwargs = {}
    if args.config:
        with open(args.config) as f:
            loaded = yaml.safe_load(f) or {}
        if not isinstance(loaded, dict):
            raise ValueError(
                f"`--config` {args.config!r} must hold a mapping of constructor "
                f"arguments; received {type(loaded).__name__}.")
        kwargs.update(loaded)
    kwargs.update(_parse_set(args.set))
    if "event_shape" in kwargs:
        raise ValueError("`event_shape` comes from the data; do not set it.")
    return kwargs


def _build_model(name, event_shape, kwargs):
    from tfgen.registry import get_model_class

    cls = get_model_class(name)
    try:
        return cls(event_shape=event_shape, **kwargs)
    except TypeError as error:
        if "unexpected keyword argument" in str(error):
            raise ValueError(
                f"{name} has no constructor argument among {sorted(kwargs)}: "
                f"{error}") from None
        raise


def _class_rows(model, per_class, seed):
    """Samples `[classes * per_class, ...]`, class `k` in row `k`."""
    labels = np.repeat(np.arange(model.num_classes, dtype=np.int32), per_class)
    return np.asarray(model.sample(len(labels), labels, seed=seed))


def _write_pictures(model, source, out_dir, seed):
    from tfgen import plots

    if source.image_shape is not None:
        path = os.path.join(out_dir, "samples.png")
        if model.conditional:
            samples = _class_rows(model, 10, seed)
            columns = 10
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


def _train(args):
    import keras

    from tfgen import data as tfgen_data
    from tfgen.export import export

    if args.steps is not None and args.epochs is not None:
        raise ValueError("Pass `--steps` or `--epochs`, not both.")
    for name in ("steps", "epochs", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be >= 1; received {value}.")
    if not args.lr > 0:
        raise ValueError(f"`--lr` must be > 0; received {args.lr}.")
    out_dir = os.path.abspath(args.out)
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise ValueError(f"`--out` {args.out!r} exists and is not empty.")
    for name in ("patience", "validation_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be >= 1; received {value}.")
    kwargs = _model_kwargs(args)
    keras.utils.set_random_seed(args.seed)
    source = tfgen_data.load_data(args.data)
    if args.conditional:
        if source.num_classes is None:
            raise ValueError(
                f"`--conditional` needs labeled data; `--data` {args.data!r} has no labels.")
        if "num_classes" in kwargs or "condition_shape" in kwargs:
            raise ValueError("`--conditional` sets num_classes from the data; do not set it.")
        kwargs["num_classes"] = source.num_classes
    from tfgen.registry import get_model_class

    if len(source.event_shape) not in get_model_class(args.model).event_ranks:
        source = source.flattened()  # image data for a vector model
    model = _build_model(args.model, source.event_shape, kwargs)
    labels = args.conditional

    validation = source.dataset("validation", args.batch_size, labels=labels)
    if args.epochs is not None:
        train = source.dataset("train", args.batch_size, seed=args.seed, labels=labels)
        fit_args = dict(epochs=args.epochs, validation_data=validation)
        batches = int(train.cardinality())  # known for array and TFDS sources
        if batches < 0:
            batches = sum(1 for _ in train)
        total_steps = args.epochs * batches
    else:
        train = source.dataset("train", args.batch_size, seed=args.seed, repeat=True,
                               labels=labels)
        total_steps = args.steps or 1000
        fit_args = dict(epochs=1, steps_per_epoch=total_steps)
        if args.patience is not None:
            # Epochs of K steps, each followed by a validation pass.
            every = min(args.validation_every or max(1, total_steps // 20), total_steps)
            fit_args = dict(epochs=-(-total_steps // every), steps_per_epoch=every,
                            validation_data=validation)
    callbacks = []
    if args.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_nll", mode="min", patience=args.patience,
            restore_best_weights=True))
    learning_rate = args.lr
    if args.lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(args.lr, total_steps)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    start = time.perf_counter()
    history = model.fit(train, verbose=1, shuffle=False, callbacks=callbacks,
                        **fit_args)  # train is shuffled
    train_seconds = time.perf_counter() - start
    steps = model.optimizer.iterations.numpy().item()

    metrics = source.metrics(model, "test")
    metrics.update(train_seconds=train_seconds, steps=steps,
                   steps_per_second=steps / train_seconds,
                   final_train_nll=float(history.history["nll"][-1]))
    if "val_nll" in history.history:
        val = history.history["val_nll"]
        metrics.update(best_validation_nll=float(min(val)),
                       best_validation_epoch=int(np.argmin(val)) + 1,
                       epochs_run=len(val))

    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.partial-", dir=parent)
    try:
        model.save(os.path.join(staging, "model.keras"))
        export(model, os.path.join(staging, "saved_model"))
        _write_pictures(model, source, staging, args.seed)
        dequantizer = source.dequantizer
        run = {"model": args.model, "data": args.data, "config": kwargs,
               "image_shape": source.image_shape,
               "steps": steps, "batch_size": args.batch_size, "lr": args.lr,
               "lr_schedule": args.lr_schedule,
               "seed": args.seed, "conditional": args.conditional,
               "patience": args.patience,
               "dequantizer": None if dequantizer is None else {
                   "levels": dequantizer.levels, "logit_alpha": dequantizer.logit_alpha}}
        _write_json(os.path.join(staging, "run.json"), run)
        _write_json(os.path.join(staging, "metrics.json"), metrics)
        if os.path.exists(out_dir):
            os.rmdir(out_dir)  # empty, checked above
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(json.dumps(metrics, indent=2))
    print(f"tfgen: wrote model.keras, saved_model/, metrics.json and pictures to {out_dir}")


def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def _load_run(run_dir):
    import keras

    import tfgen.flows  # noqa: F401  registers the serializable classes

    path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(path):
        raise ValueError(f"`DIR` {run_dir!r} holds no model.keras; train into it first.")
    run = {"dequantizer": None}  # a model.keras saved from Python has no run.json
    if os.path.isfile(os.path.join(run_dir, "run.json")):
        with open(os.path.join(run_dir, "run.json")) as f:
            run = json.load(f)
    return keras.models.load_model(path), run


def _eval(args):
    from tfgen import data as tfgen_data

    model, run = _load_run(args.dir)
    source = tfgen_data.load_data(args.data)
    if source.event_shape != list(model.event_shape):
        raise ValueError(
            f"`--data` {args.data!r} has examples of shape {source.event_shape}; "
            f"the model takes {list(model.event_shape)}.")
    # A .npy file is the user's evaluation set: all of it is scored.
    metrics = source.metrics(model, "all" if args.data.endswith(".npy") else "test")
    print(json.dumps(metrics, sort_keys=True))


def _sample(args):
    from tfgen import plots
    from tfgen.data import Dequantizer

    if args.n < 1:
        raise ValueError(f"`-n` must be >= 1; received {args.n}.")
    if not args.out.endswith((".npy", ".png")):
        raise ValueError(f"`--out` must end in .npy or .png; received {args.out!r}.")
    model, run = _load_run(args.dir)
    columns = None
    if not model.conditional:
        if args.label is not None:
            raise ValueError(f"`--label`: the model in {args.dir!r} is unconditional.")
        samples = np.asarray(model.sample(args.n, seed=args.seed))
    elif args.label is not None:
        if not 0 <= args.label < model.num_classes:
            raise ValueError(f"`--label` must be in [0, {model.num_classes}); "
                             f"received {args.label}.")
        samples = np.asarray(model.sample(args.n, args.label, seed=args.seed))
    else:  # -n per class, one row per class
        samples, columns = _class_rows(model, args.n, args.seed), args.n
    # Runs written before "image_shape" was recorded: image models only.
    image_shape = run.get("image_shape") or (
        model.event_shape if len(model.event_shape) == 3 else None)
    if args.out.endswith(".npy"):
        np.save(args.out, samples)
    elif image_shape:
        if run["dequantizer"] is not None:
            samples = Dequantizer(**run["dequantizer"]).from_model(samples).numpy()
        plots.image_grid_png(samples.reshape([len(samples), *image_shape]), args.out,
                             columns=columns)
    else:
        plots.scatter_png(samples[:, :2], args.out)
    print(f"tfgen: wrote {args.n} samples to {args.out}")


def _export(args):
    from tfgen.export import export

    model, _ = _load_run(args.dir)
    export(model, args.out)
    print(f"tfgen: wrote a SavedModel to {args.out}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfgen", description="Train, evaluate, sample and export tfgen models.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model; writes DIR on success")
    train.add_argument("model", help="registered model name, e.g. realnvp")
    train.add_argument("--data", required=True,
                       help="built-in name, tfds:NAME, or a .npy/.npz path")
    train.add_argument("--steps", type=int, help="training steps (default 1000)")
    train.add_argument("--epochs", type=int, help="epochs over the train split")
    train.add_argument("--batch-size", type=int, default=256)
    train.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of Adam")
    train.add_argument("--lr-schedule", choices=("cosine", "constant"), default="cosine",
                       help="cosine decays the rate to 0 over the run (default)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--patience", type=int,
                       help="early stopping: validation evaluations without improvement")
    train.add_argument("--validation-every", type=int, metavar="K",
                       help="with --steps and --patience: validate every K steps "
                            "(default: 20 evaluations per run)")
    train.add_argument("--conditional", action="store_true",
                       help="class-conditional model on labeled data")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="constructor argument, value parsed as YAML")
    train.add_argument("--config", help="YAML mapping of constructor arguments")
    train.add_argument("--out", required=True, help="output directory")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("eval", help="print test metrics as JSON")
    evaluate.add_argument("dir")
    evaluate.add_argument("--data", required=True)
    evaluate.set_defaults(run=_eval)

    sample = commands.add_parser("sample", help="write samples to .npy or .png")
    sample.add_argument("dir")
    sample.add_argument("-n", type=int, required=True)
    sample.add_argument("--out", required=True)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--label", type=int,
                        help="conditional models: the class to sample (default: "
                             "n per class, a row each)")
    sample.set_defaults(run=_sample)

    export = commands.add_parser("export", help="write a SavedModel")
    export.add_argument("dir")
    export.add_argument("--out", required=True)
    export.set_defaults(run=_export)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, TypeError) as error:
        print(f"tfgen {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
