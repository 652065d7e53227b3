"""`tfgen train`'s training speed against the model's own `fit`, every flow.

For each registered flow, on a 2D toy (two_moons) and on digits, in one
process and one after the other (two trainings at once on 2 cores distort
both):

- CLI: `tfgen.training.train`, the `tfgen train` run with its defaults
  (progress bar on, its output discarded), `steps_per_second` from its
  metrics.json: steady state, without the first execution (tracing) and
  without validation;
- fit: the same model (same constructor arguments) compiled with Adam and
  Keras' defaults (one step per execution), `fit(verbose=0)` on a prebatched
  in-memory dataset of model-space training data (digits dequantized once),
  its steady-state rate measured by the same `tfgen.callbacks.Throughput`.

The target is fit/CLI <= 1.3 for every flow (issue 12).

    python bench/cli_vs_fit.py [--only realnvp,maf] [--data two_moons]
"""

import argparse
import contextlib
import io
import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

import tfgen
from tfgen import registry, training

# Steps per measurement: about ten seconds of training each.
STEPS = {
    "two_moons": {"planar": 1000, "radial": 1000, "nice": 1000, "realnvp": 600, "maf": 1000,
                  "iaf": 500},
    "digits": {"planar": 1000, "radial": 1000, "nice": 200, "realnvp": 100, "maf": 1000,
               "iaf": 150, "glow": 200},
}


def cli_rate(model, data, steps):
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        metrics = training.train(model, data, os.path.join(folder, "run"), steps=steps)
        with open(os.path.join(folder, "run", "run.json")) as f:
            run = json.load(f)
    return metrics["steps_per_second"], run


def fit_rate(model, run, steps):
    source = tfgen.data.load_data(run["data"])
    cls = registry.get_model_class(model)
    if len(source.event_shape) not in cls.event_ranks:
        source = source.flattened()
    x = np.concatenate([b.numpy() for b in source.dataset("train", 4096, shuffle=False)])
    keras.utils.set_random_seed(run["seed"])
    flow = training.build_model(model, source.event_shape, run["config"])
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = tf.data.Dataset.from_tensor_slices(x).batch(
        run["batch_size"], drop_remainder=True).repeat()
    throughput = tfgen.callbacks.Throughput()
    flow.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[throughput],
             shuffle=False)
    return throughput.steps_per_second


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--data", help="two_moons or digits (default both)")
    args = parser.parse_args()
    print(f"{'data':<10}{'model':<9}{'steps':>6}{'batch':>6}{'CLI steps/s':>13}"
          f"{'fit steps/s':>13}{'fit/CLI':>9}", flush=True)
    for data, models in STEPS.items():
        if args.data and data != args.data:
            continue
        for model, steps in models.items():
            if args.only and model not in args.only.split(","):
                continue
            cli, run = cli_rate(model, data, steps)
            fit = fit_rate(model, run, steps)
            print(f"{data:<10}{model:<9}{steps:>6}{run['batch_size']:>6}{cli:>13.1f}"
                  f"{fit:>13.1f}{fit / cli:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
