"""tfgen's digits DDPM against diffusers' (`UNet2DModel` with
`DDPMScheduler` / `DDIMScheduler`, PyTorch on the CPU; bench/torch_ddpm.py),
side by side in one run.

tfgen's side is `tfgen train ddpm --data digits --seed S` (the registry's
defaults: the U-Net of channels (32, 64), one block per level, attention at
4x4; the linear schedule over T = 1000; epsilon prediction; EMA 0.999;
Adam under a cosine decay to 0), then 1000 samples by DDIM-50 and by
DDPM-1000 from its averaged weights, and by DDIM-50 again with the
denoiser in bfloat16 (`precision="bfloat16"`: oneDNN's bfloat16 kernels
on CPUs with AMX or AVX512-BF16). The diffusers side builds the same
U-Net, schedule, optimizer, EMA and budget, trains on the very same batches
in the same order (tfgen's training stream for the seed, at the levels in
[-1, 1] that tfgen's DDPM sees), and samples as many images with the same
samplers (x_0 clipped to [-1, 1], "leading" spacing). Both sides' samples
become levels the same way (round to the nearest of the 17) and are scored
by tfgen's digits classifier against the same test digits.

Printed for each side, as mean +- standard error over the seeds: FID-digits
of DDIM-50 and DDPM-1000, training steps/s (steady state) and sampling
images/s of each sampler, and the tfgen/diffusers ratios paired by seed
(tfgen's bfloat16 DDIM-50 against diffusers' float32 one);
then the U-Net's weights on both sides and tfgen's achieved fraction of
this machine's float32 matmul rate in training (the U-Net's forward and
backward FLOPs, counted by TensorFlow's profiler, times steps/s).

    python bench/ddpm_vs_diffusers.py [--seeds N] [--steps N] [--samples N] [--ddpm-samples N]
                                      [--ddpm-steps N]

Needs the `bench` extra (`pip install -e '.[bench]'`: torch, diffusers).
"""

import argparse
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import side_by_side  # noqa: E402  (sets torch's OpenMP policy before torch starts)
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

import keras  # noqa: E402
import tfgen  # noqa: E402
import tfgen.models.diffusion  # noqa: E402,F401  (registers DDPM for loading)
import torch_ddpm  # noqa: E402
from tfgen import registry, training  # noqa: E402
from tfgen.evaluation import real_intensities  # noqa: E402
from tfgen.metrics import digits_statistics  # noqa: E402

DATA = "digits"
SAMPLERS = (("ddim", 50), ("ddpm", None))
BFLOAT16 = (("fid_ddim_bf16", "FID DDIM-50 bfloat16", 2),
            ("ddim_bf16_images_per_second", "DDIM bfloat16 img/s", 1))
COLUMNS = (("fid_ddim", "FID DDIM-50", 2), ("fid_ddpm", "FID DDPM", 2),
           ("steps_per_second", "train steps/s", 2), ("ddim_images_per_second", "DDIM img/s", 1),
           ("ddpm_images_per_second", "DDPM img/s", 2))


def settings(source, steps=None, ddpm_steps=None):
    """Every setting of tfgen's digits DDPM, from the registry and the
    constructor's defaults."""
    steps, lr, _, _ = registry.training_settings("ddpm", steps, None, None, None, None)
    model = training.build_model("ddpm", source.event_shape, {
        **registry.default_config("ddpm", source.event_shape),
        "dequantizer": source.dequantizer.get_config()})
    adam = {"beta_1": 0.9, "beta_2": 0.999, **registry.adam_settings("ddpm")}
    return {"steps": steps, "lr": lr, "betas": (adam["beta_1"], adam["beta_2"]),
            "batch_size": registry.default_batch_size(True), "model": model,
            "ddpm_steps": ddpm_steps or model.num_timesteps}


def fid(images, reference):
    """FID-digits of images in [-1, 1] (NHWC), at their nearest level."""
    levels = np.clip(np.round((images + 1.0) * 8.0), 0, 16)
    return digits_statistics(levels / 16.0, reference)["fid"]


def run_tfgen(s, source, test, seed, counts):
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        metrics = training.train("ddpm", DATA, run, steps=s["steps"], seed=seed, verbose=0)
        model = keras.models.load_model(os.path.join(run, "model.keras"))
    out = {"steps_per_second": metrics["steps_per_second"]}
    for sampler, steps in SAMPLERS:
        steps, n = steps or s["ddpm_steps"], counts[sampler]
        # Compiles the sampler's piece of 50 steps for n samples (untimed).
        model.sample(n, seed=seed + 1, sampler=sampler, steps=min(steps, 50))
        start = time.perf_counter()
        samples = model.sample(n, seed=seed, sampler=sampler, steps=steps)
        out[f"{sampler}_images_per_second"] = n / (time.perf_counter() - start)
        levels = source.dequantizer.to_levels(samples).numpy()
        out[f"fid_{sampler}"] = fid(levels / 8.0 - 1.0, test)
    n = counts["ddim"]
    model.sample(n, seed=seed + 1, sampler="ddim", steps=50, precision="bfloat16")
    start = time.perf_counter()
    samples = model.sample(n, seed=seed, sampler="ddim", steps=50, precision="bfloat16")
    out["ddim_bf16_images_per_second"] = n / (time.perf_counter() - start)
    levels = source.dequantizer.to_levels(samples).numpy()
    out["fid_ddim_bf16"] = fid(levels / 8.0 - 1.0, test)
    return out


def run_diffusers(s, source, test, seed, counts):
    model = s["model"]
    stream = source.dataset("train", s["batch_size"], seed=seed, repeat=True)
    batches = torch.from_numpy(np.stack([
        np.transpose(model._to_network(x).numpy(), (0, 3, 1, 2)) for x in stream.take(s["steps"])]))
    torch.manual_seed(seed)
    unet = torch_ddpm.unet(model.event_shape, model.channels, model.layers_per_block,
                           model.attention_resolutions, model.groups, model.denoiser.head_dim)
    schedulers = torch_ddpm.schedulers(model.num_timesteps, model.beta_start, model.beta_end)
    result = torch_ddpm.train(unet, batches, schedulers["ddpm"], lr=s["lr"], betas=s["betas"],
                              steps=s["steps"], ema_decay=model.ema_decay)
    out = {"steps_per_second": result["steps_per_second"]}
    for sampler, steps in SAMPLERS:
        images, rate = torch_ddpm.sample(result["average"], schedulers[sampler], counts[sampler],
                                         steps or s["ddpm_steps"], seed, model.event_shape)
        out[f"{sampler}_images_per_second"] = rate
        out[f"fid_{sampler}"] = fid(images, test)
    return out


def matmul_rate(size=2048, repeats=10, jit_compile=False):
    """This machine's float32 matmul FLOP/s in TensorFlow (by XLA with
    `jit_compile`)."""
    a = tf.random.normal([size, size])
    product = tf.function(lambda a: tf.matmul(a, a), jit_compile=jit_compile)
    product(a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        product(a).numpy()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


def training_flops(model, batch_size):
    """FLOPs of one training step's U-Net forward and backward at
    `batch_size`, by TensorFlow's profiler."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)
    from tensorflow.python.profiler.model_analyzer import profile
    from tensorflow.python.profiler.option_builder import ProfileOptionBuilder

    x = tf.TensorSpec([batch_size, *model.event_shape], tf.float32)
    t = tf.TensorSpec([batch_size], tf.int32)

    def step(x, t):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model.denoiser(x, t) ** 2)
        return tape.gradient(loss, model.denoiser.trainable_variables)

    graph = convert_variables_to_constants_v2(tf.function(step).get_concrete_function(x, t)).graph
    options = ProfileOptionBuilder(ProfileOptionBuilder.float_operation()).with_empty_output()
    return profile(graph, options=options.build()).total_float_ops


def weights(module):
    return sum(p.numel() for p in module.parameters())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="training steps (default the registry's)")
    parser.add_argument("--samples", type=int, default=1000, help="DDIM's images")
    parser.add_argument("--ddpm-samples", type=int, default=1000, help="DDPM's images")
    parser.add_argument("--ddpm-steps", type=int, help="DDPM's steps (default all T)")
    args = parser.parse_args()
    threads = side_by_side.use_tf_threads()
    source = tfgen.data.load_data(DATA)
    s = settings(source, args.steps, args.ddpm_steps)
    test = real_intensities(source, "test")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    counts = {"ddim": args.samples, "ddpm": args.ddpm_samples}
    start = time.perf_counter()
    results = side_by_side.run_seeds(
        seeds, {"tfgen": lambda seed: run_tfgen(s, source, test, seed, counts),
                "torch": lambda seed: run_diffusers(s, source, test, seed, counts)},
        lambda r: ", ".join(f"{title} {r[key]:.{d}f}" for key, title, d in COLUMNS))
    model = s["model"]
    unet = torch_ddpm.unet(model.event_shape, model.channels, model.layers_per_block,
                           model.attention_resolutions, model.groups, model.denoiser.head_dim)
    print(f"\nDDPM on digits: U-Net channels {model.channels}, {model.layers_per_block} block(s) "
          f"per level, attention at {model.attention_resolutions}; weights tfgen "
          f"{model.denoiser.count_params():,}, diffusers {weights(unet):,}; linear betas over "
          f"T = {model.num_timesteps}, EMA {model.ema_decay}; Adam {s['lr']:g} betas "
          f"{s['betas']} (cosine to 0), batch {s['batch_size']}, {s['steps']} steps; FID-digits "
          f"of {args.samples} DDIM-50 and {args.ddpm_samples} DDPM-{s['ddpm_steps']} samples "
          "against the test split")
    print(f"test FID floor (train vs test digits) {side_by_side.digits_floor(source):.2f}")
    side_by_side.print_table(results, seeds, COLUMNS, threads)
    for key, title, digits in BFLOAT16:
        values = [results["tfgen"][seed][key] for seed in seeds]
        print(f"tfgen {title}: {side_by_side.mean_stderr(values, digits)}")
    for key, theirs in (("ddim_images_per_second", "ddim_images_per_second"),
                        ("ddpm_images_per_second", "ddpm_images_per_second"),
                        ("ddim_bf16_images_per_second", "ddim_images_per_second")):
        ratios = [results["tfgen"][seed][key] / results["torch"][seed][theirs] for seed in seeds]
        print(f"{key} tfgen/diffusers, paired by seed: {side_by_side.mean_stderr(ratios, 2)}")
    rate = matmul_rate()
    flops = training_flops(model, s["batch_size"])
    achieved = np.mean([results["tfgen"][seed]["steps_per_second"] for seed in seeds]) * flops
    print(f"matmul rate {rate / 1e9:.1f} GFLOP/s; U-Net forward+backward {flops / 1e9:.2f} GFLOP "
          f"per step of {s['batch_size']}; tfgen's training achieves {achieved / 1e9:.1f} GFLOP/s "
          f"= {achieved / rate:.1%} of the matmul rate")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
