"""tfgen's MAF against zuko's (PyTorch, CPU), side by side in one run.

Both sides get the same training batches in the same order (drawn here once
with NumPy), the same model size (MADE layers with ReLU hidden layers,
reversed orders between layers), Adam with the same learning rate, betas
and eps (set explicitly on both sides), a constant learning rate and the same
step budget. Printed:

  (a) MAF 5 x [64, 64] on two_moons, eight_gaussians, checkerboard, 3000
      steps: test NLL minus the true entropy, and the paired KL gap (NLL
      minus the true NLL of the same test points);
  (b) steps/s of MAF 5 x [h, h], h = 64, 256 and 1024, on two_moons, with
      the tfgen/zuko ratio and the fraction of the machine's matmul rate the
      step achieves (matmul FLOPs of forward + backward / time, over the best
      float32 rate measured with TF and torch);
  (c) MAF 5 x [256, 256] on digits (64-D, logit space): test bits/dim of the
      17-level data (same dequantization noise on both sides), at the best of
      validation checks every 25 steps (at most 1000 steps; both sides stop
      after 4 checks without improvement and restore their best weights).

Every process computes with one thread (TensorFlow's intra- and inter-op
pools too: with its default inter-op pool a toy run here took ~40% more CPU
time for no speed), so the quality runs (a) and (c) share the 2 cores of
this machine: tfgen trains on all four data sets here while zuko trains on
them in two subprocesses (bench/zuko_maf.py). Speed is measured in (b)
alone, one side at a time; the first 10% of the steps, tracing included,
are not timed. tfgen runs with Keras' default `jit_compile` (no XLA on a
CPU-only machine).

One seed's KL gap in (a) is largely decided by the draw of the initial
weights: over `--seeds 8` (41 minutes here) tfgen's gaps ranged 0.031-0.051
(zuko's 0.021-0.047) on two_moons, 0.148-0.302 (0.161-0.203) on
eight_gaussians and 0.199-0.287 (0.215-0.305) on checkerboard. Even from
the same initial weights, float32 round-off alone moves a final gap by up
to ~0.02 (bench/maf_twin.py).

    python bench/maf_vs_zuko.py [--quick] [--seeds N]

Needs the `bench` extra (`pip install -e '.[bench]'`: torch, zuko).
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ["TF_NUM_INTRAOP_THREADS"] = "1"  # both read when TensorFlow starts
os.environ["TF_NUM_INTEROP_THREADS"] = "1"

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

import tfgen  # noqa: E402
import zuko_maf  # noqa: E402

torch.set_num_threads(1)

BATCH = 256
CHECK_EVERY, PATIENCE = 25, 4
THROUGHPUT_STEPS = {64: 300, 256: 100, 1024: 10}
TOYS = ("two_moons", "eight_gaussians", "checkerboard")


def training_batches(train, steps, batch_size, seed=0):
    """`[steps, batch, ...]`: epochs of shuffled data, one batch per step."""
    rng = np.random.default_rng(seed)
    per_epoch = len(train) // batch_size
    order = np.concatenate([rng.permutation(len(train))[:per_epoch * batch_size]
                            for _ in range(math.ceil(steps / per_epoch))])
    return train[order[:steps * batch_size]].reshape(steps, batch_size, *train.shape[1:])


def matmul_rate(n=1024, repeats=20, trials=5):
    """Float32 matmul rate in FLOP/s of TF and torch on [n, n]: the best of
    `trials` timings of `repeats` products (this machine is noisy)."""
    a = tf.random.normal([n, n])
    tf_matmul = tf.function(lambda a: tf.linalg.matmul(a, a))
    b = torch.randn(n, n)
    runs = {"tf": lambda: tf_matmul(a).numpy(), "torch": lambda: b @ b}
    rates = {}
    for side, run in runs.items():
        run()
        best = math.inf
        for _ in range(trials):
            start = time.perf_counter()
            for _ in range(repeats):
                run()
            best = min(best, time.perf_counter() - start)
        rates[side] = 2 * n ** 3 * repeats / best
    return rates


def maf_step_flops(d, hidden, batch=BATCH, params=2):
    """Matmul FLOPs of one training step: forward 2 * batch * sum(in * out)
    per MADE, backward twice that."""
    widths = [d, *hidden, params * d]
    forward = 2 * batch * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return 3 * zuko_maf.NUM_LAYERS * forward


class _StepTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append((batch + 1, time.perf_counter()))


def steady_rate(times, total_steps):
    """Steps/s after the first 10% of the steps."""
    start = next((s, t) for s, t in times if s >= total_steps // 10)
    end = times[-1]
    return (end[0] - start[0]) / (end[1] - start[1])


def train_tfgen(batches, hidden, steps_per_execution, validation=None, seed=0):
    """tfgen's MAF trained on `batches` (one per step) from initial weights
    drawn with `seed`, with zuko_maf.train's early-stopping rule when
    `validation` is given. Returns `(model, times, best_step)`."""
    keras.utils.set_random_seed(seed)
    model = tfgen.flows.MAF([batches.shape[-1]], num_layers=zuko_maf.NUM_LAYERS,
                            hidden_units=hidden)
    model.compile(optimizer=keras.optimizers.Adam(zuko_maf.LEARNING_RATE, *zuko_maf.BETAS,
                                                  epsilon=zuko_maf.EPS),
                  steps_per_execution=steps_per_execution)
    data = tf.data.Dataset.from_tensor_slices(batches).prefetch(tf.data.AUTOTUNE)
    timer = _StepTimes()
    if validation is None:
        model.fit(data, epochs=1, steps_per_epoch=len(batches), verbose=0, callbacks=[timer])
        return model, timer.times, len(batches)
    stop = keras.callbacks.EarlyStopping(monitor="val_nll", mode="min", patience=PATIENCE,
                                         restore_best_weights=True)
    history = model.fit(data, epochs=len(batches) // CHECK_EVERY,
                        steps_per_epoch=CHECK_EVERY, validation_data=(validation,),
                        verbose=0, callbacks=[timer, stop])
    best_epoch = int(np.argmin(history.history["val_nll"]))
    return model, timer.times, (best_epoch + 1) * CHECK_EVERY


def quality_runs(toy_steps, digit_steps, seeds):
    """The runs of (a) and (c), keyed by data set and seed (of the initial
    weights): the training batches (one per step), test points, hidden widths
    and, for digits, the validation points and early-stopping rule."""
    runs = {}
    for name in TOYS:
        source = tfgen.data.load_data(name)
        train, test = (source.arrays[split].astype(np.float32) for split in ("train", "test"))
        batches = training_batches(train, toy_steps, BATCH)
        for seed in range(seeds):
            runs[name, seed] = dict(batches=batches, test=test, hidden=[64, 64], seed=seed)
    source = tfgen.data.digits(flatten=True)
    # Same dequantization noise on both sides: drawn here, once per batch.
    raw = source.arrays["train"].reshape(-1, 64).astype(np.float32)
    batches = training_batches(raw, digit_steps, BATCH)
    noise = np.random.default_rng(1).uniform(size=batches.shape).astype(np.float32)
    validation, test = (np.concatenate([b.numpy() for b in source.dataset(split, 1024)])
                        for split in ("validation", "test"))
    runs["digits", 0] = dict(batches=source.dequantizer.to_model(batches, noise).numpy(),
                             test=test, hidden=[256, 256], seed=0, validation=validation,
                             check_every=CHECK_EVERY, patience=PATIENCE)
    return runs


def train_side_by_side(runs):
    """Trains tfgen on every run here while zuko trains on them in two
    subprocesses. Returns `{side: {key: (test log_prob, best step)}}`."""
    results = {"tfgen": {}, "zuko": {}}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {(name, seed): (Path(tmp, f"{name}-{seed}.npz"),
                                Path(tmp, f"{name}-{seed}.out.npz")) for name, seed in runs}
        for key, run in runs.items():
            np.savez(paths[key][0], threads=1, **run)
        keys = list(runs)
        zuko_runs = [subprocess.Popen([sys.executable, zuko_maf.__file__,
                                       *(str(p) for key in keys[i::2] for p in paths[key])])
                     for i in range(2)]
        for key, run in runs.items():
            model, _, best = train_tfgen(run["batches"], run["hidden"],
                                         CHECK_EVERY if "validation" in run else 100,
                                         run.get("validation"), run["seed"])
            results["tfgen"][key] = model.log_prob(run["test"]).numpy(), best
        for process in zuko_runs:
            if process.wait():
                raise RuntimeError(f"zuko's run failed with exit status {process.returncode}.")
        for key, (_, out) in paths.items():
            with np.load(out) as zuko:
                results["zuko"][key] = zuko["log_prob"], int(zuko["best_step"])
    return results


def print_toys(runs, results, seeds):
    steps = len(runs[TOYS[0], 0]["batches"])
    print(f"(a) MAF 5 x [64, 64], {steps} steps, batch {BATCH}, Adam lr "
          f"{zuko_maf.LEARNING_RATE} eps {zuko_maf.EPS}"
          + (f"; means over {seeds} seeds of the initial weights, then each seed's KL gap"
             if seeds > 1 else ""))
    print(f"{'data':<17}{'side':<7}{'NLL-H':>9}{'KL gap':>9}")
    for name in TOYS:
        toy, test = tfgen.data.load_data(name).toy, runs[name, 0]["test"]
        true_nll = -np.mean(toy.log_prob(test))
        for side in results:
            nlls = [-np.mean(results[side][name, seed][0]) for seed in range(seeds)]
            each = "".join(f"{nll - true_nll:9.4f}" for nll in nlls) if seeds > 1 else ""
            print(f"{name:<17}{side:<7}{np.mean(nlls) - toy.entropy():9.4f}"
                  f"{np.mean(nlls) - true_nll:9.4f}{each}")


def print_digits(runs, results):
    print(f"(c) MAF 5 x [256, 256] on digits (64-D, logit space), at most "
          f"{len(runs['digits', 0]['batches'])} steps, batch {BATCH}, best of validation checks "
          f"every {CHECK_EVERY} steps")
    print(f"{'side':<7}{'test bits/dim':>14}{'best step':>10}")
    dequantizer = tfgen.data.digits(flatten=True).dequantizer
    test = tf.constant(runs["digits", 0]["test"])
    for side in results:
        log_prob, best = results[side]["digits", 0]
        bpd = dequantizer.bits_per_dim(tf.constant(-log_prob), test)
        print(f"{side:<7}{float(np.mean(bpd)):14.4f}{best:10d}")


def throughput(budgets, rate):
    print(f"(b) MAF 5 x [h, h] on two_moons, batch {BATCH}, alone, 1 thread; "
          f"matmul rate {rate / 1e9:.1f} GFLOP/s (best of TF, torch)")
    print(f"{'h':<7}{'steps':>6} {'side':<7}{'steps/s':>9}{'GFLOP/s':>9}{'of peak':>9}"
          f"{'tfgen/zuko':>12}")
    train = tfgen.data.load_data("two_moons").arrays["train"].astype(np.float32)
    for h, steps in budgets.items():
        batches = training_batches(train, steps, BATCH)
        flops = maf_step_flops(2, [h, h])
        _, times, _ = train_tfgen(batches, [h, h], max(1, steps // 10))
        tf_rate = steady_rate(times, steps)
        _, times, _ = zuko_maf.train(batches, [h, h])
        torch_rate = steady_rate(times, steps)
        for side, r in (("tfgen", tf_rate), ("zuko", torch_rate)):
            ratio = f"{tf_rate / torch_rate:12.2f}" if side == "tfgen" else ""
            print(f"{h:<7}{steps:>6} {side:<7}{r:9.1f}{r * flops / 1e9:9.1f}"
                  f"{r * flops / rate:9.1%}{ratio}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: a tenth of every step budget")
    parser.add_argument("--seeds", type=int, default=1,
                        help="(a) over this many seeds of the initial weights per side")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    start = time.perf_counter()
    rates = matmul_rate()
    print(f"matmul [1024, 1024] float32: TF {rates['tf'] / 1e9:.1f} GFLOP/s, "
          f"torch {rates['torch'] / 1e9:.1f} GFLOP/s", flush=True)
    runs = quality_runs(3000 // scale, 1000 // scale, args.seeds)
    results = train_side_by_side(runs)
    print_toys(runs, results, args.seeds)
    print_digits(runs, results)
    print(f"(a) and (c) took {time.perf_counter() - start:.0f} s", flush=True)
    throughput({h: max(10, steps // scale) for h, steps in THROUGHPUT_STEPS.items()},
               max(rates.values()))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
