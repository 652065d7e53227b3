"""Times `model.sample(1000)` of a trained digits run (after one warm-up
call that traces the sampling graph) and scores those 1000 samples'
FID-digits and KID against the test split.

    python bench/sample_1000.py RUN_DIR [--seed 0]

Issue 18's PixelCNN figure: `tfgen train pixelcnn --data digits --out RUN_DIR`,
then this script on RUN_DIR.
"""

import argparse
import time

import numpy as np

from tfgen import data, metrics
from tfgen.cli import _load_run
from tfgen.evaluation import real_intensities

N = 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model, _ = _load_run(args.run_dir)
    source = data.load_data("digits")
    model.sample(10, seed=args.seed + 1)
    start = time.perf_counter()
    samples = np.asarray(model.sample(N, seed=args.seed))
    seconds = time.perf_counter() - start
    levels = source.dequantizer.to_levels(samples).numpy() / (source.dequantizer.levels - 1)
    stats = metrics.digits_statistics(levels.reshape(N, *source.image_shape),
                                      real_intensities(source, "test"))
    print(f"sample({N}): {seconds:.1f} s ({N / seconds:.1f} samples/s); FID-digits of these "
          f"{N} against the test split: {stats['fid']:.2f}, KID {stats['kid']:.2f}")


if __name__ == "__main__":
    main()
