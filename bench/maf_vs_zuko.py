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

(a) and (c) measure quality: to shorten the run (zuko's MAF steps at ~30/s
here) the two sides train at the same time, zuko in a subprocess
(bench/zuko_maf.py, 1 thread).
Speed is measured in (b) alone, one side at a time, with 2 threads each
(both libraries' default on this machine); the first 10% of the steps,
tracing and compilation included, are not timed.

    python bench/maf_vs_zuko.py [--quick]

Needs the `bench` extra (`pip install -e '.[bench]'`: torch, zuko).
"""

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import keras
import tensorflow as tf
import torch

import tfgen
import zuko_maf

torch.set_num_threads(2)

BATCH = 256
CHECK_EVERY, PATIENCE = 25, 4
THROUGHPUT_STEPS = {64: 300, 256: 100, 1024: 40}


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


def train_tfgen(batches, hidden, steps_per_execution, validation=None):
    """tfgen's MAF trained on `batches` (one per step), with zuko_maf.train's
    early-stopping rule when `validation` is given. Returns `(model, times,
    best_step)`."""
    keras.utils.set_random_seed(0)
    model = tfgen.flows.MAF([batches.shape[-1]], num_layers=zuko_maf.NUM_LAYERS,
                            hidden_units=hidden)
    model.compile(optimizer=keras.optimizers.Adam(zuko_maf.LEARNING_RATE, *zuko_maf.BETAS,
                                                  epsilon=zuko_maf.EPS),
                  jit_compile=True, steps_per_execution=steps_per_execution)
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


def side_by_side(batches, test, hidden, validation=None):
    """Trains tfgen here while zuko trains in a subprocess (1 thread); returns
    both sides' test log-probs and best steps."""
    with tempfile.TemporaryDirectory() as tmp:
        run, out = Path(tmp, "run.npz"), Path(tmp, "out.npz")
        early = ({} if validation is None else
                 dict(validation=validation, check_every=CHECK_EVERY, patience=PATIENCE))
        np.savez(run, batches=batches, test=test, hidden=hidden, threads=1, **early)
        zuko_run = subprocess.Popen([sys.executable, zuko_maf.__file__, str(run), str(out)])
        model, _, tfgen_best = train_tfgen(batches, hidden, CHECK_EVERY if early else 100,
                                           validation)
        tfgen_log_prob = model.log_prob(test).numpy()
        if zuko_run.wait():
            raise RuntimeError(f"zuko's run failed with exit status {zuko_run.returncode}.")
        zuko = np.load(out)
        return {"tfgen": (tfgen_log_prob, tfgen_best),
                "zuko": (zuko["log_prob"], int(zuko["best_step"]))}


def toys(steps):
    print(f"(a) MAF 5 x [64, 64], {steps} steps, batch {BATCH}, Adam lr "
          f"{zuko_maf.LEARNING_RATE} eps {zuko_maf.EPS}")
    print(f"{'data':<17}{'side':<7}{'NLL-H':>9}{'KL gap':>9}")
    for name in ("two_moons", "eight_gaussians", "checkerboard"):
        source = tfgen.data.load_data(name)
        train = source.arrays["train"].astype(np.float32)
        test = source.arrays["test"].astype(np.float32)
        true_nll = -np.mean(source.toy.log_prob(test))
        entropy = source.toy.entropy()
        results = side_by_side(training_batches(train, steps, BATCH), test, [64, 64])
        for side, (log_prob, _) in results.items():
            nll = -np.mean(log_prob)
            print(f"{name:<17}{side:<7}{nll - entropy:9.4f}{nll - true_nll:9.4f}", flush=True)


def throughput(budgets, rate):
    print(f"(b) MAF 5 x [h, h] on two_moons, batch {BATCH}, alone, 2 threads; "
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


def digits(steps):
    print(f"(c) MAF 5 x [256, 256] on digits (64-D, logit space), at most {steps} steps, "
          f"batch {BATCH}, best of validation checks every {CHECK_EVERY} steps")
    print(f"{'side':<7}{'test bits/dim':>14}{'best step':>10}")
    source = tfgen.data.digits(flatten=True)
    # Same dequantization noise on both sides: drawn here, once per batch.
    raw = source.arrays["train"].reshape(-1, 64).astype(np.float32)
    batches = training_batches(raw, steps, BATCH)
    noise = np.random.default_rng(1).uniform(size=batches.shape).astype(np.float32)
    batches = source.dequantizer.to_model(batches, noise).numpy()
    validation, test = (np.concatenate([b.numpy() for b in source.dataset(split, 1024)])
                        for split in ("validation", "test"))
    for side, (log_prob, best) in side_by_side(batches, test, [256, 256], validation).items():
        bpd = source.dequantizer.bits_per_dim(tf.constant(-log_prob), tf.constant(test))
        print(f"{side:<7}{float(np.mean(bpd)):14.4f}{best:10d}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: a tenth of every step budget")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    start = time.perf_counter()
    rates = matmul_rate()
    print(f"matmul [1024, 1024] float32: TF {rates['tf'] / 1e9:.1f} GFLOP/s, "
          f"torch {rates['torch'] / 1e9:.1f} GFLOP/s", flush=True)
    toys(3000 // scale)
    throughput({h: max(20, steps // scale) for h, steps in THROUGHPUT_STEPS.items()},
               max(rates.values()))
    digits(1000 // scale)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
