"""tfgen's DDPM walk against diffusers' on the same trained weights.

Samples one trained tfgen DDPM run (digits) twice per seed: by tfgen's own
sampler (`model.sample(..., sampler="ddpm")`: XLA-compiled pieces, stateless
noise) and by diffusers' `DDPMScheduler` (fixed-small variance, x_0
clipped to [-1, 1], the same linear betas) stepping PyTorch's noise with
tfgen's averaged denoiser as the model. If the two FID-digits agree within
their seeds' spread, a gap between tfgen's and diffusers' DDPM-1000 in
bench/ddpm_vs_diffusers.py lies in the trained networks, not in the walk.

First, both walks run on the same noise (`--check` samples): diffusers'
scheduler is handed tfgen's x_T and step noise in place of PyTorch's, and
the largest difference between the two walks' levels is printed (0: the
walks are the same function of their noise).

    python bench/ddpm_walks.py RUN_DIR [--seeds N] [--samples N] [--steps N] [--check N]

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
from diffusers.schedulers import scheduling_ddpm  # noqa: E402

import keras  # noqa: E402
import tfgen  # noqa: E402
import tfgen.models.diffusion  # noqa: E402,F401  (registers DDPM for loading)
import torch_ddpm  # noqa: E402
from tfgen.models.base import stateless_seed  # noqa: E402
from tfgen.models.diffusion.ddpm import _step_noise  # noqa: E402
from tfgen.models.diffusion.samplers import sampler_noise  # noqa: E402
from ddpm_vs_diffusers import fid  # noqa: E402
from tfgen.evaluation import real_intensities  # noqa: E402


def tfgen_walk(model, source, n, steps, seed):
    samples = model.sample(n, seed=seed, sampler="ddpm", steps=steps)
    return source.dequantizer.to_levels(samples).numpy() / 8.0 - 1.0


def diffusers_walk(model, n, steps, seed, x=None):
    """diffusers' DDPMScheduler loop with tfgen's averaged denoiser, from
    `x` (NCHW; default PyTorch's noise of `seed`)."""
    scheduler = torch_ddpm.schedulers(model.num_timesteps, model.beta_start,
                                      model.beta_end)["ddpm"]
    scheduler.set_timesteps(steps)
    denoise = tf.function(lambda x, t: model.denoiser(x, t), jit_compile=True)
    generator = torch.Generator().manual_seed(seed)
    h, w, c = model.event_shape
    if x is None:
        x = torch.randn(n, c, h, w, generator=generator)
    with model.averaged_weights():
        for t in scheduler.timesteps:
            x_nhwc = tf.constant(np.transpose(x.numpy(), (0, 2, 3, 1)))
            output = denoise(x_nhwc, tf.fill([n], tf.constant(int(t), tf.int32))).numpy()
            output = torch.from_numpy(np.transpose(output, (0, 3, 1, 2)).copy())
            x = scheduler.step(output, t, x, generator=generator).prev_sample
    return np.transpose(x.numpy(), (0, 2, 3, 1))


def same_noise_difference(model, n, steps, seed):
    """The largest |level difference| of tfgen's walk and diffusers' fed
    tfgen's noise (its `randn_tensor` replaced for the walk)."""
    shape = tf.constant([n, *model.event_shape])
    stream = stateless_seed(seed)
    nchw = lambda z: torch.from_numpy(np.transpose(z.numpy(), (0, 3, 1, 2)).copy())  # noqa: E731
    noises = iter([nchw(z) for z in _step_noise(stream, tf.constant(0), tf.constant(steps),
                                                 shape)])
    draw = scheduling_ddpm.randn_tensor
    scheduling_ddpm.randn_tensor = lambda *args, **kwargs: next(noises)
    try:
        theirs = diffusers_walk(model, n, steps, seed, x=nchw(sampler_noise(stream, -1, shape)))
    finally:
        scheduling_ddpm.randn_tensor = draw
    ours = model.dequantizer.to_signed_levels(
        model.sample(n, seed=seed, sampler="ddpm", steps=steps)).numpy()
    return float(np.abs(np.clip(np.round((theirs + 1.0) * 8.0), 0, 16) / 8.0 - 1.0 - ours).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--steps", type=int, help="the walk's steps (default all T)")
    parser.add_argument("--check", type=int, default=64,
                        help="samples of the same-noise check (0: none)")
    args = parser.parse_args()
    side_by_side.use_tf_threads()
    model = keras.models.load_model(os.path.join(args.run_dir, "model.keras"))
    source = tfgen.data.load_data("digits")
    test = real_intensities(source, "test")
    steps = args.steps or model.num_timesteps
    if args.check:
        print(f"same noise, {args.check} samples, DDPM-{steps}: largest |level difference| "
              f"{same_noise_difference(model, args.check, steps, 0):.3g} (levels 2 / 16 apart)",
              flush=True)
    results = {"tfgen": [], "diffusers": []}
    for seed in range(args.seeds):
        for side, walk in (("tfgen", lambda: tfgen_walk(model, source, args.samples, steps, seed)),
                           ("diffusers", lambda: diffusers_walk(model, args.samples, steps, seed))):
            start = time.perf_counter()
            results[side].append(fid(walk(), test))
            print(f"seed {seed} {side:9s} walk: FID-digits {results[side][-1]:.2f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    for side, values in results.items():
        print(f"{side} walk, DDPM-{steps}, {args.samples} samples, {args.seeds} seeds: "
              f"FID-digits {side_by_side.mean_stderr(values, 2)}")


if __name__ == "__main__":
    main()
