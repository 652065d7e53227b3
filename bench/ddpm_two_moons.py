"""DDPM on two_moons: energy distance to the test split, with its jackknife
standard error, next to the data-vs-data value, over seeds and settings.

Each variant is `tfgen train ddpm --data two_moons` with some settings
changed (`VARIANTS`); each run's 2000 samples (the model's default walk) are
compared with 2000 test points, and 2000 train points with the same test
points give the floor. Printed per variant: the energy distance (mean +-
standard error over seeds), its mean jackknife standard error within a run,
the floor, and the bound in bits/dim against the true entropy (0.725).

    python bench/ddpm_two_moons.py [--seeds N] [--variants a,b]
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import side_by_side  # noqa: E402
import tfgen  # noqa: E402
import tfgen.models.diffusion  # noqa: E402,F401  (registers DDPM for loading)
from tfgen import metrics, training  # noqa: E402

# name: (constructor settings over the registry's, training steps or None).
VARIANTS = {
    "default": ({}, None),
    "importance": ({"timestep_sampling": "importance"}, None),
    "steps_10k": ({}, 10000),
    "wide_10k": ({"hidden_units": [256, 256, 256]}, 10000),
}


def run(name, seed, source, test):
    config, steps = VARIANTS[name]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        start = time.perf_counter()
        training.train("ddpm", "two_moons", out, steps=steps, seed=seed, config=config,
                       verbose=0)
        seconds = time.perf_counter() - start
        model = keras.models.load_model(os.path.join(out, "model.keras"))
        with open(os.path.join(out, "metrics.json")) as f:
            bits = json.load(f)["vlb_bits_per_dim"]
    samples = model.sample(len(test), seed=seed).numpy()
    distance, stderr = metrics.energy_distance(samples, test, return_stderr=True)
    return {"energy_distance": distance, "stderr": stderr, "bits_per_dim": bits,
            "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    source = tfgen.data.load_data("two_moons")
    test = source.arrays["test"][:2000].astype(np.float32)
    train = source.arrays["train"][:len(test)].astype(np.float32)
    floor, floor_stderr = metrics.energy_distance(train, test, return_stderr=True)
    print(f"data-vs-data (2000 train vs 2000 test points): {floor:.5f} +- {floor_stderr:.5f}")
    for name in args.variants.split(","):
        results = [run(name, seed, source, test) for seed in range(args.seeds)]
        column = {key: [r[key] for r in results] for key in results[0]}
        print(f"{name:12s} energy distance {side_by_side.mean_stderr(column['energy_distance'], 5)}"
              f" (per-run jackknife stderr {np.mean(column['stderr']):.5f}; runs "
              f"{', '.join(f'{d:.5f}' for d in column['energy_distance'])}); bound "
              f"{side_by_side.mean_stderr(column['bits_per_dim'], 3)} bits/dim; "
              f"{np.mean(column['seconds']):.0f} s per run", flush=True)


if __name__ == "__main__":
    main()
