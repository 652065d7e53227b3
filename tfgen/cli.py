"""The `tfgen` command line: train, eval, sample, export, latent, models, data.

    tfgen train MODEL --data DATA [--steps N | --epochs N] [--batch-size B]
                      [--lr LR] [--lr-schedule cosine|constant] [--seed S]
                      [--patience P] [--validation-every K] [--conditional]
                      [--quality-every K] [--keep-best fid|kid|energy_distance]
                      [--set KEY=VALUE ...] [--config FILE.yaml] --out DIR
    tfgen eval DIR [--data DATA] [SAMPLING]   # prints one JSON object of metrics
    tfgen sample DIR -n N --out FILE [--label L] [--seed S] [SAMPLING]   # .npy or .png
        SAMPLING (diffusion models): [--sampler ddpm|ddim] [--steps S] [--eta E]
                                     [--guidance G]
    tfgen export DIR --out EXPORT_DIR [--overwrite]
    tfgen latent DIR --out OUTDIR [--data NAME] [--seed S] [--overwrite]   # VAEs
    tfgen models | tfgen data

`train` is `tfgen.training.train`: it writes DIR only when everything has
succeeded, as `export` and `latent` (pictures of a VAE's latent space, by
`tfgen.latent`) write theirs. `sample` writes `.npy` files in the data's own
units (the integer levels of discrete data such as digits' 0..16) and
`.png` pictures.

Errors in what the user typed print one line naming the argument and exit
with status 2; an interrupt (Ctrl-C) exits with 130. Both leave nothing
half-written. TensorFlow is imported only by commands that need it, after
the arguments are checked.
"""

import argparse
import json
import os
import sys

import numpy as np
import yaml

from tfgen._files import staged_dir, write_atomically
from tfgen._quiet import quiet_console
from tfgen._validation import check_run_settings
from tfgen.errors import NonFiniteLossError
from tfgen.registry import MODELS

__all__ = ["build_parser", "main"]

_EXIT_USAGE, _EXIT_INTERRUPTED = 2, 130


def _yaml_error(error):
    """A YAML parser error (where and what) on one line."""
    return " ".join(str(error).split())


def _parse_set(items):
    """`KEY=VALUE` strings -> dict, each value parsed as YAML."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"`--set` takes KEY=VALUE; received {item!r}.")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise ValueError(
                f"`--set` {item!r}: the value is not valid YAML ({_yaml_error(error)}).") from None
    return out


def _model_kwargs(args):
    """Constructor arguments from `--config` and then `--set`."""
    kwargs = {}
    if args.config:
        try:
            with open(args.config) as f:
                loaded = yaml.safe_load(f)
        except OSError as error:
            raise ValueError(f"`--config` {args.config!r}: {error.strerror}.") from None
        except yaml.YAMLError as error:
            raise ValueError(
                f"`--config` {args.config!r} is not valid YAML ({_yaml_error(error)}).") from None
        if not isinstance(loaded, (dict, type(None))):
            raise ValueError(
                f"`--config` {args.config!r} must hold a mapping of constructor "
                f"arguments; received {type(loaded).__name__}.")
        kwargs.update(loaded or {})
    kwargs.update(_parse_set(args.set))
    return kwargs


def _train(args):
    # The defaults by the data's shape are filled in by `train`.
    check_run_settings(args.model, args.steps, args.epochs, args.batch_size, args.lr,
                       args.lr_schedule, args.patience, args.validation_every, args.out,
                       args.checkpoint_every, args.strategy, args.quality_every, args.keep_best)
    config = _model_kwargs(args)
    from tfgen.training import train

    metrics = train(args.model, args.data, args.out, steps=args.steps, epochs=args.epochs,
                    batch_size=args.batch_size, lr=args.lr, lr_schedule=args.lr_schedule,
                    seed=args.seed, patience=args.patience,
                    validation_every=args.validation_every, conditional=args.conditional,
                    config=config, checkpoint_every=args.checkpoint_every,
                    tensorboard=args.tensorboard, strategy=args.strategy,
                    quality_every=args.quality_every, keep_best=args.keep_best)
    wrote = metrics.pop("wrote_outputs")
    print(json.dumps(metrics, indent=2))
    if wrote:
        print(f"tfgen: wrote model.keras, saved_model/, metrics.json and pictures to {args.out}")
    else:
        print(f"tfgen: done; the chief worker writes {args.out}")


def _load_run(run_dir):
    """The model in `run_dir/model.keras` and the run's `run.json` (a
    model saved from Python has none)."""
    path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(path):
        raise ValueError(f"`DIR` {run_dir!r} holds no model.keras; train into it first.")
    import keras

    from tfgen.registry import get_model_class

    for name in MODELS:  # registers every family's serializable classes
        get_model_class(name)
    from tfgen.data import Dequantizer

    run = {}
    if os.path.isfile(os.path.join(run_dir, "run.json")):
        with open(os.path.join(run_dir, "run.json")) as f:
            run = json.load(f)
    model = keras.models.load_model(path)
    if model.dequantizer is None and run.get("dequantizer"):
        # Runs written before flows carried their dequantizer.
        model.dequantizer = Dequantizer.from_config(run["dequantizer"])
    return model, run


def _run_data(args, model, run):
    """The data `--data` names, else the run's, shaped as the model takes
    them: `(name, source)`."""
    from tfgen import data as tfgen_data

    name = args.data or run.get("data")
    if name is None:
        raise ValueError(f"`--data`: {args.dir!r} has no run.json naming its data; pass --data.")
    source = tfgen_data.load_data(name)
    if len(source.event_shape) not in type(model).event_ranks:
        source = source.flattened()  # image data for a vector model, as in training
    if source.event_shape != list(model.event_shape):
        raise ValueError(
            f"`--data` {name!r} has examples of shape {source.event_shape}; "
            f"the model takes {list(model.event_shape)}.")
    return name, source


def _eval(args):
    from tfgen.evaluation import evaluate

    model, run = _load_run(args.dir)
    name, source = _run_data(args, model, run)
    options = _sampling_options(args, model)
    # A .npy file is the user's evaluation set: all of it is scored.
    metrics = evaluate(model, source, "all" if name.endswith(".npy") else "test",
                       sample_options=options)
    print(json.dumps(metrics, sort_keys=True))


# Sampling flags -> the `model.sample` options they set.
_SAMPLING_FLAGS = {"sampler": "sampler", "steps": "steps", "eta": "eta",
                   "guidance": "guidance_scale", "precision": "precision"}


def _sampling_options(args, model):
    """The sampling flags given, as `model.sample` options; a ValueError
    naming a flag the model does not take."""
    options = {}
    for flag, option in _SAMPLING_FLAGS.items():
        value = getattr(args, flag)
        if value is None:
            continue
        if option not in model.sampling_options:
            raise ValueError(f"`--{flag}`: {type(model).__name__} models take no such sampling "
                             f"option; received {value!r}.")
        options[option] = value
    if options.get("steps") is not None and options["steps"] < 1:
        raise ValueError(f"`--steps` must be >= 1; received {options['steps']}.")
    return options


def _add_sampling_flags(parser):
    parser.add_argument("--sampler",
                        choices=["ddpm", "ddim", "annealed_langevin", "pc", "langevin"],
                        help="diffusion models: ddpm or ddim; score models: annealed_langevin, "
                             "pc (predictor-corrector) or langevin")
    parser.add_argument("--steps", type=int,
                        help="diffusion and score models: the sampler's steps; energy models: "
                             "Langevin's")
    parser.add_argument("--eta", type=float, help="DDIM's noise scale, 0 to 1")
    parser.add_argument("--guidance", type=float,
                        help="conditional diffusion models: the guidance scale")
    parser.add_argument("--precision", choices=["float32", "bfloat16"],
                        help="diffusion models: the denoiser's precision while sampling")


def _check_file_out(path, suffixes):
    """Raises unless `--out` `path` ends in one of `suffixes` and its folder
    exists."""
    if not path.endswith(suffixes):
        raise ValueError(f"`--out` must end in {' or '.join(suffixes)}; received {path!r}.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"`--out` {path!r}: the folder {folder!r} does not exist.")
    if os.path.isdir(path):
        raise ValueError(f"`--out` {path!r} is a directory.")


def _sample(args):
    if args.n < 1:
        raise ValueError(f"`-n` must be >= 1; received {args.n}.")
    _check_file_out(args.out, (".npy", ".png"))
    from tfgen import plots
    from tfgen.training import class_rows

    model, run = _load_run(args.dir)
    options = _sampling_options(args, model)
    if "progress" in model.sampling_options:
        options["progress"] = True
    columns = None
    if not model.conditional:
        if args.label is not None:
            raise ValueError(f"`--label`: the model in {args.dir!r} is unconditional.")
        samples = model.sample(args.n, seed=args.seed, **options)
    elif args.label is not None:
        if not 0 <= args.label < model.num_classes:
            raise ValueError(f"`--label` must be in [0, {model.num_classes}); "
                             f"received {args.label}.")
        samples = model.sample(args.n, args.label, seed=args.seed, **options)
    else:  # -n per class, one row per class
        samples, columns = class_rows(model, args.n, args.seed, **options), args.n
    samples = np.asarray(samples)
    # Runs written before "image_shape" was recorded: image models only.
    image_shape = run.get("image_shape") or (
        model.event_shape if len(model.event_shape) == 3 else None)
    deq = model.dequantizer
    if args.out.endswith(".npy"):  # the data's own units, or the model's
        values = samples if deq is None or args.model_space else deq.to_levels(samples).numpy()
        if image_shape:
            values = values.reshape([len(values), *image_shape])
        write_atomically(args.out, lambda path: np.save(path, values))
    elif image_shape:
        pixels = samples if deq is None else deq.from_model(samples).numpy()
        write_atomically(args.out, lambda path: plots.image_grid_png(
            pixels.reshape([len(pixels), *image_shape]), path, columns=columns))
    else:
        write_atomically(args.out, lambda path: plots.scatter_png(samples[:, :2], path))
    print(f"tfgen: wrote {len(samples)} samples to {args.out}")


def _check_dir_out(args, what):
    """Raises unless `--out` is new, or a directory (`what`) to replace
    with `--overwrite`; returns its absolute path."""
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not args.overwrite:
        raise ValueError(f"`--out` {args.out!r} exists; pass --overwrite to replace it.")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"`--out` {args.out!r} is a file, not {what}.")
    return out


def _export(args):
    out = _check_dir_out(args, "a SavedModel directory")
    from tfgen.export import export

    model, _ = _load_run(args.dir)
    export(model, out, overwrite=args.overwrite)
    print(f"tfgen: wrote a SavedModel to {args.out}")


# `tfgen latent`'s pictures: the inputs reconstructed, the pairs
# interpolated, and the attribute (from_class, to_class) added to inputs of
# from_class that its vector was not computed from: the mean latent of the
# 7s minus that of the 1s gives 1s the 7's bar (`tfgen train vae --data
# digits`: the shipped classifier calls 74% of the test 1s 7s at strength 1,
# 89% at 1.5).
_LATENT_INPUTS = 16
_LATENT_PAIRS = 8
_ATTRIBUTE = (1, 7)
_ATTRIBUTE_INPUTS = 6


def _pairs(rng, labels, same_class):
    """Indices `(starts, ends)` of `_LATENT_PAIRS` pairs of distinct
    examples, of one class each or of two different classes."""
    starts = rng.choice(len(labels), _LATENT_PAIRS, replace=False)
    ends = []
    for i in starts:
        same = labels == labels[i]
        ends.append(rng.choice(np.flatnonzero(
            (same if same_class else ~same) & (np.arange(len(labels)) != i))))
    return starts, np.array(ends)


def _latent(args):
    out = _check_dir_out(args, "a directory")
    from tfgen import latent

    model, run = _load_run(args.dir)
    if not hasattr(model, "encode"):
        raise ValueError(f"`DIR` {args.dir!r} holds a {type(model).__name__}, a model "
                         "without an encoder; `tfgen latent` takes VAEs.")
    name, source = _run_data(args, model, run)
    if source.num_classes is None or source.image_shape is None:
        has = ("no labels" if source.num_classes is None else
               f"examples of shape {source.event_shape}, not images")
        raise ValueError(f"`--data` {name!r} has {has}; `tfgen latent` draws labeled images "
                         "(e.g. digits).")
    x, labels = (np.concatenate(parts) for parts in zip(
        *source.dataset("test", 512, shuffle=False, labels=True)))
    # Conditional models see each input's own label.
    condition = labels if model.conditional else None

    def given(index):
        return None if condition is None else condition[index]

    def to_pixels(values):
        return source.to_pixels(values).reshape([-1, *source.image_shape])

    rng = np.random.default_rng(args.seed)
    shown = rng.choice(len(x), _LATENT_INPUTS, replace=False)
    # A conditional model's pairs share a class (a row has one label).
    starts, ends = _pairs(rng, labels, same_class=model.conditional)
    targets = rng.choice(np.flatnonzero(labels == _ATTRIBUTE[0]), _ATTRIBUTE_INPUTS,
                         replace=False)
    rest = np.setdiff1d(np.arange(len(x)), targets)
    vector = latent.attribute_vector(model, x[rest], labels[rest], *_ATTRIBUTE, given(rest))
    with staged_dir(out, replace=args.overwrite) as staging:
        latent.reconstructions_png(model, x[shown], os.path.join(staging, "reconstructions.png"),
                                   given(shown), to_pixels=to_pixels)
        latent.interpolations_png(model, x[starts], x[ends],
                                  os.path.join(staging, "interpolations.png"),
                                  condition=given(starts), to_pixels=to_pixels)
        latent.attribute_png(model, x[targets], vector, os.path.join(staging, "attribute.png"),
                             condition=given(targets), to_pixels=to_pixels)
        if model.latent_dim == 2:
            latent.latent_scatter_png(model, x, labels,
                                      os.path.join(staging, "latent_scatter.png"), condition)
        written = sorted(os.listdir(staging))
    for file in written:
        print(f"tfgen: wrote {os.path.join(args.out, file)}")


def _models(args):
    import inspect

    from tfgen.registry import get_model_class

    def parameters(cls):
        """`cls`'s constructor arguments, with those its `**kwargs` pass on
        to its base classes' constructors (DCGAN's are GAN's)."""
        found = {}
        for klass in cls.__mro__:
            if "__init__" not in vars(klass):
                continue
            params = inspect.signature(klass.__init__).parameters.values()
            for p in params:
                if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    found.setdefault(p.name, p)
            if not any(p.kind == p.VAR_KEYWORD for p in params) or klass.__module__.startswith(
                    "keras"):
                break
        return found.values()

    for name in MODELS:
        cls = get_model_class(name)
        arguments = [f"{p.name}={p.default!r}" if p.default is not p.empty else p.name
                     for p in parameters(cls)]
        print(f"{name:10s} family={cls.family} likelihood={cls.likelihood}")
        print(f"{'':10s} {cls.__name__}({', '.join(arguments)})")


def _data(args):
    from tfgen.data import DATA_NAMES, TFDS_DATASETS

    for name in DATA_NAMES:
        what = ("8x8x1 images, integer levels 0..16, 10 classes; splits 1257 / 180 / 360"
                if name == "digits" else
                "2D points with an exact density; splits 50000 / 5000 / 10000")
        print(f"{name:18s} {what}")
    for name, shape in TFDS_DATASETS.items():
        print(f"{'tfds:' + name:18s} {'x'.join(map(str, shape))} images, levels 0..255, 10 "
              "classes (prepared in TFDS's data directory; never downloaded)")
    print(f"{'FILE.npy':18s} float samples [n, ...] (train / validation / test: 80 / 10 / 10%)")
    print(f"{'FILE.npz':18s} float arrays named train, validation and test")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfgen", description="Train, evaluate, sample and export tfgen models.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model; writes DIR on success")
    train.add_argument("model", help="registered model name, e.g. realnvp (see `tfgen models`)")
    train.add_argument("--data", required=True,
                       help="built-in name, tfds:NAME, or a .npy/.npz path (see `tfgen data`)")
    train.add_argument("--steps", type=int, help="training steps (default 1000)")
    train.add_argument("--epochs", type=int, help="epochs over the train split")
    train.add_argument("--batch-size", type=int,
                       help="default 64 for image data, 256 for vectors")
    train.add_argument("--lr", type=float,
                       help="peak learning rate of Adam (default: the model's, else 1e-3)")
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
    train.add_argument("--checkpoint-every", type=int, default=1000, metavar="K",
                       help="steps between checkpoints in OUT.checkpoint/ (default 1000); "
                            "the same command resumes from the last one")
    train.add_argument("--quality-every", type=int, metavar="K",
                       help="measure sample quality on the validation split every K steps "
                            "(FID and class histogram on digits; energy distance and modes "
                            "on 2D toys); default: 10 times per run for models without a "
                            "likelihood (GANs)")
    train.add_argument("--keep-best", choices=("fid", "kid", "energy_distance"),
                       help="keep the weights of the best sample-quality measurement")
    train.add_argument("--tensorboard", action="store_true",
                       help="TensorBoard scalars and sample grids (OUT/tensorboard)")
    train.add_argument("--strategy", choices=("default", "mirrored", "multi-worker"),
                       default="default",
                       help="mirrored: all GPUs of this machine; multi-worker: the machines "
                            "TF_CONFIG names (run the command on each)")
    train.add_argument("--out", required=True, help="output directory")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("eval", help="print test metrics as JSON")
    evaluate.add_argument("dir")
    evaluate.add_argument("--data", help="default: the data the run trained on")
    _add_sampling_flags(evaluate)
    evaluate.set_defaults(run=_eval)

    sample = commands.add_parser(
        "sample", help="write samples to .npy (the data's own units) or .png")
    sample.add_argument("dir")
    sample.add_argument("-n", type=int, required=True)
    sample.add_argument("--out", required=True)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--model-space", action="store_true",
                        help=".npy: the model's raw outputs, not the data's units")
    sample.add_argument("--label", type=int,
                        help="conditional models: the class to sample (default: "
                             "n per class, a row each)")
    _add_sampling_flags(sample)
    sample.set_defaults(run=_sample)

    export = commands.add_parser("export", help="write a SavedModel")
    export.add_argument("dir")
    export.add_argument("--out", required=True)
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing EXPORT_DIR")
    export.set_defaults(run=_export)

    latent_space = commands.add_parser(
        "latent", help="pictures of a VAE's latent space (reconstructions, interpolations, "
                       "an attribute vector, a scatter of 2D latents)")
    latent_space.add_argument("dir")
    latent_space.add_argument("--out", required=True, help="output directory")
    latent_space.add_argument("--data", help="labeled images (default: the run's data); "
                                             "the test split is used")
    latent_space.add_argument("--seed", type=int, default=0, help="picks the examples shown")
    latent_space.add_argument("--overwrite", action="store_true",
                              help="replace an existing OUTDIR")
    latent_space.set_defaults(run=_latent)

    commands.add_parser("models", help="list the model names").set_defaults(run=_models)
    commands.add_parser("data", help="list the data names").set_defaults(run=_data)
    return parser


def main(argv=None):
    """Runs one command; returns the exit status (0, 2 on a user error,
    130 on an interrupt)."""
    args = build_parser().parse_args(argv)
    with quiet_console():
        return _run(args)


def _run(args):
    try:
        args.run(args)
    except KeyboardInterrupt:
        # A new line: the progress bar may hold the cursor mid-line.
        print(f"\ntfgen {args.command}: interrupted; nothing was written.", file=sys.stderr)
        return _EXIT_INTERRUPTED
    except NonFiniteLossError as error:
        print(f"\ntfgen {args.command}: error: {error}", file=sys.stderr)
        return _EXIT_USAGE
    except (ValueError, TypeError, OSError) as error:
        print(f"tfgen {args.command}: error: {error}", file=sys.stderr)
        return _EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
