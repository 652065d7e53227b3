"""tfgen's MAF against zuko's (PyTorch, CPU), side by side in one run.

Both sides get the same training batches in the same order (drawn here once
with NumPy), the same model size (MADE layers with ReLU hidden layers,
reversed orders between layers), Adam with the same learning rate, betas
and eps (set explicitly on both sides), a constant learning rate and the same
step budget; the threads are 2 on both sides. Printed:

  (a) MAF 5 x [64, 64] on two_moons, eight_gaussians, checkerboard: test NLL
      minus the true entropy, the paired KL gap (NLL - true NLL on the same
      test points), and steady-state steps/s (the first 10% of the steps,
      tracing and compilation included, are not timed);
  (b) MAF 5 x [h, h], h = 256 and 1024, on two_moons: steps/s and the
      fraction of the machine's matmul rate the step achieves (matmul FLOPs
      of forward + backward / time, over the best float32 rate measured below
      with TF and torch);
  (c) MAF 5 x [256, 256] on digits (64-D, logit space), 2000 steps: test
      bits/dim of the 17-level data (same dequantization noise on both sides).

    python bench/maf_vs_zuko.py [--steps 3000] [--quick]

Needs the `bench` extra (`pip install -e '.[bench]'`: torch, zuko).
"""

import argparse
import math
import time

import numpy as np

import keras
import tensorflow as tf
import torch
import zuko

import tfgen

torch.set_num_threads(2)

LEARNING_RATE, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
BATCH = 256
TFGEN_STEPS_PER_EXECUTION = 100


def training_batches(train, steps, batch_size, seed=0):
    """`[steps, batch, ...]`: epochs of shuffled data, one batch per step."""
    rng = np.random.default_rng(seed)
    per_epoch = len(train) // batch_size
    order = np.concatenate([rng.permutation(len(train))[:per_epoch * batch_size]
                            for _ in range(math.ceil(steps / per_epoch))])
    return train[order[:steps * batch_size]].reshape(steps, batch_size, *train.shape[1:])


def matmul_rate(n=1024, repeats=20):
    """Best float32 matmul rate in FLOP/s of TF and torch on [n, n]."""
    rates = {}
    a = tf.random.normal([n, n])
    matmul = tf.function(lambda a: tf.linalg.matmul(a, a))
    matmul(a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        out = matmul(a)
    out.numpy()
    rates["tf"] = 2 * n ** 3 * repeats / (time.perf_counter() - start)
    b = torch.randn(n, n)
    b @ b
    start = time.perf_counter()
    for _ in range(repeats):
        b @ b
    rates["torch"] = 2 * n ** 3 * repeats / (time.perf_counter() - start)
    return rates


def maf_step_flops(d, hidden, layers=5, batch=BATCH, params=2):
    """Matmul FLOPs of one training step: forward 2 * batch * sum(in * out)
    per MADE, backward twice that."""
    widths = [d, *hidden, params * d]
    forward = 2 * batch * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return 3 * layers * forward


class _StepTimes(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.times.append((batch + 1, time.perf_counter()))

    def on_train_begin(self, logs=None):
        self.times = []


def steady_rate(times, total_steps):
    """Steps/s after the first 10% of the steps."""
    start = next((s, t) for s, t in times if s >= total_steps // 10)
    end = times[-1]
    return (end[0] - start[0]) / (end[1] - start[1])


def train_tfgen(batches, hidden):
    keras.utils.set_random_seed(0)
    d = batches.shape[-1]
    model = tfgen.flows.MAF([d], num_layers=5, hidden_units=hidden)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE, *BETAS, epsilon=EPS),
                  jit_compile=True, steps_per_execution=TFGEN_STEPS_PER_EXECUTION)
    data = tf.data.Dataset.from_tensor_slices(batches).prefetch(tf.data.AUTOTUNE)
    timer = _StepTimes()
    model.fit(data, epochs=1, steps_per_epoch=len(batches), verbose=0, callbacks=[timer])
    return model, steady_rate(timer.times, len(batches))


def train_zuko(batches, hidden):
    torch.manual_seed(0)
    d = batches.shape[-1]
    flow = zuko.flows.MAF(features=d, transforms=5, hidden_features=tuple(hidden))
    optimizer = torch.optim.Adam(flow.parameters(), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
    times = []
    for step, x in enumerate(torch.from_numpy(batches)):
        loss = -flow().log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append((step + 1, time.perf_counter()))
    return flow, steady_rate(times, len(batches))


def zuko_log_prob(flow, x):
    with torch.no_grad():
        return np.concatenate([flow().log_prob(torch.from_numpy(x[i:i + 4096])).numpy()
                               for i in range(0, len(x), 4096)])


def toys(steps):
    print(f"(a) MAF 5 x [64, 64], {steps} steps, batch {BATCH}, Adam lr {LEARNING_RATE} "
          f"eps {EPS}")
    print(f"{'data':<17}{'side':<7}{'NLL-H':>9}{'KL gap':>9}{'steps/s':>9}{'tfgen/zuko':>12}")
    for name in ("two_moons", "eight_gaussians", "checkerboard"):
        source = tfgen.data.load_data(name)
        train, test = source.arrays["train"].astype(np.float32), source.arrays["test"]
        test = test.astype(np.float32)
        batches = training_batches(train, steps, BATCH)
        true_nll = -np.mean(source.toy.log_prob(test))
        entropy = source.toy.entropy()
        model, tf_rate = train_tfgen(batches, [64, 64])
        flow, torch_rate = train_zuko(batches, [64, 64])
        for side, log_prob, rate in (("tfgen", model.log_prob(test).numpy(), tf_rate),
                                     ("zuko", zuko_log_prob(flow, test), torch_rate)):
            nll = -np.mean(log_prob)
            ratio = f"{tf_rate / torch_rate:12.2f}" if side == "tfgen" else ""
            print(f"{name:<17}{side:<7}{nll - entropy:9.4f}{nll - true_nll:9.4f}"
                  f"{rate:9.1f}{ratio}", flush=True)


def throughput(steps, rate):
    print(f"(b) MAF 5 x [h, h] on two_moons, {steps} steps, batch {BATCH}; "
          f"matmul rate {rate / 1e9:.1f} GFLOP/s (best of TF, torch)")
    print(f"{'h':<7}{'side':<7}{'steps/s':>9}{'GFLOP/s':>9}{'of peak':>9}{'tfgen/zuko':>12}")
    train = tfgen.data.load_data("two_moons").arrays["train"].astype(np.float32)
    batches = training_batches(train, steps, BATCH)
    for h in (256, 1024):
        flops = maf_step_flops(2, [h, h])
        _, tf_rate = train_tfgen(batches, [h, h])
        _, torch_rate = train_zuko(batches, [h, h])
        for side, r in (("tfgen", tf_rate), ("zuko", torch_rate)):
            ratio = f"{tf_rate / torch_rate:12.2f}" if side == "tfgen" else ""
            print(f"{h:<7}{side:<7}{r:9.1f}{r * flops / 1e9:9.1f}{r * flops / rate:9.1%}{ratio}",
                  flush=True)


def digits(steps):
    print(f"(c) MAF 5 x [256, 256] on digits (64-D, logit space), {steps} steps, batch {BATCH}")
    print(f"{'side':<7}{'test bits/dim':>14}{'steps/s':>9}")
    source = tfgen.data.digits(flatten=True)
    # Same dequantization noise on both sides: drawn here, once per batch.
    raw = source.arrays["train"].reshape(-1, 64).astype(np.float32)
    batches = training_batches(raw, steps, BATCH)
    noise = np.random.default_rng(1).uniform(size=batches.shape).astype(np.float32)
    batches = source.dequantizer.to_model(batches, noise).numpy()
    test = np.concatenate([b.numpy() for b in source.dataset("test", 1024)])
    model, tf_rate = train_tfgen(batches, [256, 256])
    flow, torch_rate = train_zuko(batches, [256, 256])
    for side, log_prob, rate in (("tfgen", model.log_prob(test).numpy(), tf_rate),
                                 ("zuko", zuko_log_prob(flow, test), torch_rate)):
        bpd = source.dequantizer.bits_per_dim(tf.constant(-log_prob), tf.constant(test))
        print(f"{side:<7}{float(np.mean(bpd)):14.4f}{rate:9.1f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps of (a)")
    parser.add_argument("--digits-steps", type=int, default=2000)
    parser.add_argument("--throughput-steps", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="300 steps everywhere")
    args = parser.parse_args()
    if args.quick:
        args.steps = args.throughput_steps = args.digits_steps = 300
    start = time.perf_counter()
    rates = matmul_rate()
    print(f"matmul [1024, 1024] float32: TF {rates['tf'] / 1e9:.1f} GFLOP/s, "
          f"torch {rates['torch'] / 1e9:.1f} GFLOP/s")
    toys(args.steps)
    throughput(args.throughput_steps, max(rates.values()))
    digits(args.digits_steps)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
