"""tfgen's DCGAN and WGAN-GP against the same GANs in PyTorch
(bench/torch_gan.py), on digits, side by side in one run.

tfgen's side is `tfgen train dcgan|wgan_gp --data digits --seed S`
(`tfgen.training.train` with the registry's defaults: on digits both with
D's Dense 64 after convs of 64, 128; DCGAN 5000 steps at Adam 4e-4, betas
(0.5, 0.999), one D step per step, non-saturating loss; WGAN-GP 3000 steps
at Adam 4e-4, betas (0, 0.9), 5 critic steps per step, penalty 10; cosine
decay to 0; batch 64 per D step; FID-digits on the
validation split 10 times per run), then its test evaluation. The torch
side builds the same networks, takes every setting from tfgen
(`tfgen.registry`, the model's constructor defaults), trains on the very
same batches in the same order (tfgen's training stream for the seed, as
the intensities D sees), measures the same FID on the same validation
digits at the same steps, and is scored on the same test digits; its FIDs
go through tfgen's digits classifier, from samples turned into levels as
tfgen turns its own (floor(17 y)).

Printed for each side, as mean +- standard error over the seeds (of the
initial weights, the batch order and the noise): the test FID-digits of the
final weights, the best validation FID-digits during training and its
step, and training steps/s (steady state, without the measurements); then
the tfgen/torch ratio of steps/s, paired by seed. Both sides run in this
process, one after the other, the order alternating from seed to seed.
Torch computes with as many threads as TensorFlow (all cores), with
`OMP_WAIT_POLICY=PASSIVE` (bench/side_by_side.py). `--check` copies the
weights of tfgen's networks into the torch ones and compares their outputs
instead of benchmarking.

What differs between the sides: the random draws (initial weights, noise,
interpolation weights) come from each framework's own generators.

    python bench/gan_vs_torch.py [--model dcgan|wgan_gp] [--seeds N] [--steps N] [--check]

Needs the `bench` extra (`pip install -e '.[bench]'`: torch).
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

import tfgen  # noqa: E402
import torch_gan  # noqa: E402
from tfgen import registry, training  # noqa: E402
from tfgen.evaluation import real_intensities  # noqa: E402
from tfgen.metrics import digits_statistics  # noqa: E402

DATA = "digits"
MODELS = ("dcgan", "wgan_gp")
COLUMNS = (("test_fid", "final test FID", 2), ("best_fid", "best validation FID", 2),
           ("best_step", "at step", 0), ("steps_per_second", "steps/s", 1))


def tfgen_gan(name, source):
    """The GAN `tfgen train NAME --data digits` builds."""
    return training.build_model(name, source.event_shape, {
        **registry.default_config(name, source.event_shape),
        "dequantizer": source.dequantizer.get_config()})


def settings(name, source, steps=None):
    steps, lr, _, _ = registry.training_settings(name, steps, None, None, None, None)
    gan = tfgen_gan(name, source)
    plan = training.fit_plan(steps, None, None, None, training.DEFAULT_CHECKPOINT_EVERY, None)
    execution = plan["steps_per_execution"]
    adam = {"beta_1": 0.9, "beta_2": 0.999, **registry.adam_settings(name)}
    return {"name": name, "steps": steps, "lr": lr, "betas": (adam["beta_1"], adam["beta_2"]),
            "k": gan.discriminator_steps, "loss": gan.loss.name, "latent_dim": gan.latent_dim,
            "channels": gan.channels, "hidden_units": gan.hidden_units,
            "image_shape": source.image_shape,
            "batch_size": registry.default_batch_size(True),
            # As `tfgen train` measures: 10 times, on whole executions.
            "measure_every": -(-max(1, steps // 10) // execution) * execution}


def run_tfgen(s, seed):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = training.train(s["name"], DATA, os.path.join(tmp, "run"), steps=s["steps"],
                                 seed=seed, verbose=0)
    records = metrics["sample_quality_during_training"]
    best = min(records, key=lambda r: r["fid_digits"])
    return {"test_fid": metrics["fid_digits"], "best_fid": best["fid_digits"],
            "best_step": best["step"], "steps_per_second": metrics["steps_per_second"]}


def torch_fid(generator, s, real, n, seed):
    """FID-digits of `n` samples of the torch generator against `real`,
    from the same noise at every measurement (as tfgen's `SampleQuality`
    draws its samples: a minimum over measurements is then not a minimum
    over noise draws too)."""
    noise = torch.randn(n, s["latent_dim"], generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        t = generator(noise).numpy()
    y = np.clip(0.5 * (t + 1.0), 0.0, 1.0)
    levels = np.minimum(np.floor(17 * y), 16)  # tfgen's Dequantizer.to_levels
    return digits_statistics(levels / 16.0, real)["fid"]


def torch_models(s):
    return (torch_gan.Generator(s["latent_dim"], s["image_shape"], s["channels"]),
            torch_gan.Discriminator(s["image_shape"], s["channels"], s["hidden_units"]))


def run_torch(s, source, seed):
    gan = tfgen_gan(s["name"], source)  # only its map from the data to D's inputs
    stream = source.dataset("train", s["k"] * s["batch_size"], seed=seed, repeat=True)
    batches = torch.from_numpy(np.stack([gan._to_network(x).numpy()
                                         for x in stream.take(s["steps"])]))
    validation, test = (real_intensities(source, split) for split in ("validation", "test"))
    n = source.num_examples("train")  # as many samples as tfgen's evaluation draws
    torch.manual_seed(seed)
    generator, discriminator = torch_models(s)
    result = torch_gan.train(
        generator, discriminator, batches, loss=s["loss"], latent_dim=s["latent_dim"],
        lr=s["lr"], betas=s["betas"], steps=s["steps"], k=s["k"],
        measure=lambda g: torch_fid(g, s, validation, n, seed), measure_every=s["measure_every"])
    generator.eval()
    test_fid = torch_fid(generator, s, test, n, seed)
    step, best = min(result["records"], key=lambda r: r[1])
    return {"test_fid": test_fid, "best_fid": best, "best_step": step,
            "steps_per_second": result["steps_per_second"]}


def check(s, source, tolerance=1e-4):
    """tfgen's weights copied into the torch networks: G's images and D's
    logits compared (G in inference mode, moving averages set at random)."""
    rng = np.random.default_rng(0)
    gan = tfgen_gan(s["name"], source)
    generator, discriminator = torch_models(s)
    for net in (gan.generator, gan.discriminator):
        for w in net.weights:
            if len(w.shape) == 1:
                value = rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path else rng.normal(
                    0.0, 0.3, w.shape)
                w.assign(value)
    g = gan.generator  # its weights in the order the layers run, as torch lists them
    g_weights = [*g.head.weights, *g.head_norm.weights]
    for conv, norm in zip(g.convs, g.norms):
        g_weights += [*conv.weights, *norm.weights]
    g_weights += g.output_conv.weights
    pairs = ((g_weights, generator), (gan.discriminator.weights, discriminator))
    for keras_weights, torch_net in pairs:
        torch_weights = list(torch_net.state_dict().items())
        torch_weights = [(k, v) for k, v in torch_weights if "num_batches" not in k]
        for w, (key, v) in zip(keras_weights, torch_weights, strict=True):
            value = w.numpy()
            value = value.transpose(3, 2, 0, 1) if value.ndim == 4 else value.T
            assert tuple(v.shape) == value.shape, (w.path, key)
            v.copy_(torch.from_numpy(value.copy()))
    generator.eval()
    z = rng.normal(size=(64, s["latent_dim"])).astype(np.float32)
    x = gan._to_network(next(iter(source.dataset("test", 64, shuffle=False)))).numpy()
    with torch.no_grad():
        torch_images = generator(torch.from_numpy(z)).numpy()
        torch_logits = discriminator(torch.from_numpy(x)).numpy()
    keras_images = gan._fake(tf.constant(z), None).numpy()
    keras_logits = gan.discriminator(x).numpy()
    side_by_side.compare(s["name"], (("G images", keras_images, torch_images),
                                     ("D logits", keras_logits, torch_logits)), tolerance)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, default=MODELS[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None,
                        help="the step budget (default the model's in tfgen's registry)")
    parser.add_argument("--check", action="store_true",
                        help="compare the networks with the same weights instead; no training")
    args = parser.parse_args()
    threads = side_by_side.use_tf_threads()
    source = tfgen.data.load_data(DATA)
    s = settings(args.model, source, args.steps)
    if args.check:
        check(s, source)
        return
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    start = time.perf_counter()
    results = side_by_side.run_seeds(
        seeds, {"tfgen": lambda seed: run_tfgen(s, seed),
                "torch": lambda seed: run_torch(s, source, seed)},
        lambda r: (f"test FID {r['test_fid']:.2f}, best validation FID {r['best_fid']:.2f} "
                   f"(step {r['best_step']}), {r['steps_per_second']:.1f} steps/s"))
    print(f"\n{s['name']} on digits: {s['loss']} loss, {s['k']} D step(s) per step, latent "
          f"{s['latent_dim']}, channels {s['channels']}, D's Dense {s['hidden_units'][::-1]}; "
          f"Adam {s['lr']:g} betas {s['betas']} (cosine to 0), batch {s['batch_size']} per D "
          f"step, {s['steps']} steps; FID-digits of 1257 samples, validation every "
          f"{s['measure_every']} steps")
    print(f"test FID floor (train vs test digits) {side_by_side.digits_floor(source):.2f}")
    side_by_side.print_table(results, seeds, COLUMNS, threads)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
