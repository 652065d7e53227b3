"""Sampling images/s of tfgen's digits DDPM against diffusers' by batch size.

Both sides sample with the same U-Net (the registry's digits DDPM: channels
(32, 64), one block per level, attention at 4x4; diffusers' `UNet2DModel`
of the same layout, bench/torch_ddpm.py) and the same walk (DDIM-50, and
DDPM over `--ddpm-steps` steps), at each batch size in `--batches`: tfgen
by `model.sample(n, ...)` (one XLA-compiled graph per piece of 50 steps,
compiled by an untimed call first), diffusers by its scheduler's Python
loop of one network call per step. Speed does not depend on the weights,
so both networks keep their initial ones. The sides alternate within
every repeat; printed per batch size: images/s of each side (mean +-
standard error over the repeats) and their ratio paired by repeat.

Where the batch is small, a walk costs its number of steps times the
per-step overhead (Python, op dispatch) and the one-graph walk gains most;
where it is large, both sides are bound by the U-Net's convolutions (see
`--flops`: each side's achieved FLOP rate against this machine's float32
matmul rate, the larger of TensorFlow's and XLA's on 2048 x 2048).

    python bench/ddpm_sampling_speed.py [--batches 1,16,64,256,1000] [--ddpm-batches 1,16,64,256]
                                        [--repeats N] [--ddpm-steps N] [--flops]

Needs the `bench` extra (torch, diffusers).
"""

import argparse
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import side_by_side  # noqa: E402  (sets torch's OpenMP policy before torch starts)
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

import tfgen  # noqa: E402
import torch_ddpm  # noqa: E402
from ddpm_vs_diffusers import matmul_rate, settings  # noqa: E402


def tfgen_rate(model, n, sampler, steps, seed):
    start = time.perf_counter()
    model.sample(n, seed=seed, sampler=sampler, steps=steps).numpy()
    return n / (time.perf_counter() - start)


def diffusers_rate(unet, scheduler, n, steps, seed, event_shape):
    return torch_ddpm.sample(unet, scheduler, n, steps, seed, event_shape)[1]


def forward_flops(model):
    """FLOPs of one U-Net forward of one image, by TensorFlow's profiler."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)
    from tensorflow.python.profiler.model_analyzer import profile
    from tensorflow.python.profiler.option_builder import ProfileOptionBuilder

    forward = tf.function(lambda x, t: model.denoiser(x, t)).get_concrete_function(
        tf.TensorSpec([1, *model.event_shape], tf.float32), tf.TensorSpec([1], tf.int32))
    graph = convert_variables_to_constants_v2(forward).graph
    options = ProfileOptionBuilder(ProfileOptionBuilder.float_operation()).with_empty_output()
    return profile(graph, options=options.build()).total_float_ops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,16,64,256,1000", help="DDIM's batch sizes")
    parser.add_argument("--ddpm-batches", default="1,16,64,256", help="DDPM's batch sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ddpm-steps", type=int, default=1000,
                        help="the DDPM walk's steps (0: DDIM only)")
    parser.add_argument("--flops", action="store_true",
                        help="also print the achieved FLOP rates against the matmul rate")
    args = parser.parse_args()
    threads = side_by_side.use_tf_threads()
    source = tfgen.data.load_data("digits")
    model = settings(source)["model"]
    torch.manual_seed(0)
    unet = torch_ddpm.unet(model.event_shape, model.channels, model.layers_per_block,
                           model.attention_resolutions, model.groups,
                           model.denoiser.head_dim).eval()
    schedulers = torch_ddpm.schedulers(model.num_timesteps, model.beta_start, model.beta_end)
    walks = [("ddim", 50, args.batches)] + (
        [("ddpm", args.ddpm_steps, args.ddpm_batches)] if args.ddpm_steps else [])
    flops = forward_flops(model) if args.flops else None
    # The larger of TensorFlow's two float32 matmul rates (its own kernel, XLA's).
    rate = max(matmul_rate(), matmul_rate(jit_compile=True)) if args.flops else None
    print(f"{threads} threads per side; {args.repeats} repeats; U-Net weights tfgen "
          f"{model.denoiser.count_params():,}, diffusers "
          f"{sum(p.numel() for p in unet.parameters()):,}")
    for sampler, steps, batches in walks:
        for n in (int(b) for b in batches.split(",")):
            tfgen_rate(model, n, sampler, min(steps, 50), seed=100)  # compiles the piece
            rates = {"tfgen": [], "diffusers": []}
            for repeat in range(args.repeats):
                sides = (("tfgen", lambda: tfgen_rate(model, n, sampler, steps, repeat)),
                         ("diffusers", lambda: diffusers_rate(
                             unet, schedulers[sampler], n, steps, repeat, model.event_shape)))
                for side, run in sides if repeat % 2 == 0 else sides[::-1]:
                    rates[side].append(run())
            ratios = np.array(rates["tfgen"]) / np.array(rates["diffusers"])
            line = (f"{sampler.upper()}-{steps} batch {n:5d}: images/s tfgen "
                    f"{side_by_side.mean_stderr(rates['tfgen'], 1)}, diffusers "
                    f"{side_by_side.mean_stderr(rates['diffusers'], 1)}; tfgen/diffusers "
                    f"{side_by_side.mean_stderr(ratios, 2)}")
            if flops:
                achieved = {side: np.mean(r) * steps * flops for side, r in rates.items()}
                line += "; " + ", ".join(f"{side} {a / 1e9:.0f} GFLOP/s ({a / rate:.0%})"
                                         for side, a in achieved.items())
            print(line, flush=True)
    if flops:
        print(f"U-Net forward {flops / 1e6:.1f} MFLOP per image; matmul rate "
              f"{rate / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
