"""What the tfgen-against-PyTorch benches share: seeds run in one process
with the sides' order alternating, the comparison of outputs with copied
weights, and the table of means and standard errors with the paired ratio
of steps/s.

Torch computes with as many threads as TensorFlow's intra-op pool (all
cores), with `OMP_WAIT_POLICY=PASSIVE` unless the environment sets it
(import this module before torch starts): see bench/vae_vs_torch.py.
"""

import math
import os
import time

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch starts

SIDES = ("tfgen", "torch")

__all__ = ["SIDES", "compare", "digits_floor", "mean_stderr", "print_table", "run_seeds",
           "use_tf_threads"]


def use_tf_threads():
    """Gives torch TensorFlow's intra-op thread count; returns it."""
    import tensorflow as tf
    import torch

    threads = tf.config.threading.get_intra_op_parallelism_threads() or len(
        os.sched_getaffinity(0))  # 0: TensorFlow's default, every core
    torch.set_num_threads(threads)
    return threads


def compare(label, pairs, tolerance):
    """Prints the largest |tfgen - torch| of each `(name, tfgen, torch)`
    array pair; exits with status 1 above `tolerance`."""
    worst = 0.0
    for name, ours, theirs in pairs:
        difference = float(np.abs(ours - theirs).max())
        worst = max(worst, difference)
        print(f"{label}: {name} {list(ours.shape)}: largest |tfgen - torch| {difference:.1e} "
              f"(largest |tfgen| {np.abs(ours).max():.2f})")
    if worst > tolerance:
        raise SystemExit(f"the torch networks differ from tfgen's by more than {tolerance:g}")


def digits_floor(source):
    """The test FID-digits floor: the train digits against the test digits."""
    from tfgen.evaluation import real_intensities
    from tfgen.metrics import digits_statistics

    return digits_statistics(*(real_intensities(source, split)
                               for split in ("train", "test")))["fid"]


def run_seeds(seeds, runners, describe):
    """`{side: {seed: result}}` of `runners[side](seed)` for every seed, the
    sides' order alternating from seed to seed (noise from other work on
    the machine then falls on both); prints `describe(result)` per run."""
    results = {side: {} for side in SIDES}
    for seed in seeds:
        for side in SIDES if seed % 2 == 0 else SIDES[::-1]:
            began = time.perf_counter()
            results[side][seed] = runners[side](seed)
            print(f"seed {seed} {side:<6} {describe(results[side][seed])}; "
                  f"{time.perf_counter() - began:.0f} s", flush=True)
    return results


def mean_stderr(values, digits):
    values = np.asarray(values, np.float64)
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1) / math.sqrt(len(values)):.{digits}f}"


def print_table(results, seeds, columns, threads):
    """Mean ± standard error of each `(key, title, decimals)` column per
    side, then the tfgen/torch ratio of `steps_per_second` paired by seed."""
    print(f"mean ± standard error over {len(seeds)} seeds {list(seeds)}; {threads} threads "
          "per side")
    print(f"{'side':<7}" + "".join(f"{title:>22}" for _, title, _ in columns))
    for side in SIDES:
        print(f"{side:<7}" + "".join(
            f"{mean_stderr([results[side][seed][key] for seed in seeds], digits):>22}"
            for key, _, digits in columns))
    ratios = [results["tfgen"][seed]["steps_per_second"]
              / results["torch"][seed]["steps_per_second"] for seed in seeds]
    print(f"steps/s tfgen/torch, paired by seed: {mean_stderr(ratios, 2)} "
          f"(per seed: {', '.join(f'{r:.2f}' for r in ratios)})")
    print("Timings are side-by-side ratios: both sides ran in one process, alternating, on a "
          "machine shared with other jobs; the absolute rates are not the machine's.")
