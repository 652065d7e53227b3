"""tfgen's VAE against the same VAE in PyTorch (bench/torch_vae.py), on
digits, side by side in one run.

tfgen's side is `tfgen train vae --data digits --set network=NET --steps N
--seed S` (`tfgen.training.train` with the registry's defaults: latent 32,
a categorical decoder over the 17 levels, KL warm-up over 300 steps, Adam
5e-4 with cosine decay to 0 over the budget, batch 64, validation every 100
steps, early stopping with patience 10 and the best weights restored; then
its evaluation of the test split), with the networks `--network` names,
ReLU between layers:

    conv (digits' default):
        encoder  8x8x1 -> conv 3x3 stride 2 -> 4x4x32 -> conv 3x3 stride 2
                 -> 2x2x64 -> flatten 256 -> 256 -> 256 -> 2 * 32
        decoder  32 -> 256 -> 256 -> 256 -> ReLU -> 2x2x64 -> x2 upsampling
                 -> conv 3x3 -> 4x4x64 -> x2 upsampling -> conv 3x3 -> 8x8x32
                 -> conv 3x3 -> 8x8x17 logits
    mlp:
        encoder  64 -> 256 -> 256 -> 2 * 32
        decoder  32 -> 256 -> 256 -> 64 * 17 logits

The torch side (bench/torch_vae.py) builds the same networks and takes
every one of those settings from tfgen (`tfgen.registry`,
`tfgen.training.fit_plan`); it trains on the very same batches in the same
order (tfgen's training stream for the seed, read back as levels),
validates on the same 180 digits and is scored on the same 360 test
digits. Both stop by the same early-stopping rule within the same step
budget. `--check` copies the weights of tfgen's networks into the torch
ones and compares their outputs instead of benchmarking.

Printed for each side, as mean +- standard error over the seeds (of the
initial weights, the batch order and the noise): the test IWAE(k) bound
(k = the VAE's `eval_samples`, 1000) and the 16-sample ELBO in bits/dim of
the discrete data (nats / (64 ln 2)), the steps run, the step whose weights
were restored, and training steps/s; then the tfgen/torch ratio of steps/s,
paired by seed.

Speed: steps/s over training alone, without the first execution of
`steps_per_execution` steps (tfgen traces its step there; torch skips as
many) and without validation; tfgen's rate is `tfgen train`'s own
`steps_per_second`, which counts its input pipeline, its callbacks and its
checkpoint every 1000 steps. Torch computes with as many threads as
TensorFlow's intra-op pool (all cores), with `OMP_WAIT_POLICY=PASSIVE` unless
the environment sets it: on this 2-core machine shared with other jobs,
torch's OpenMP pool at its default policy fell to 3-20 steps/s (~140 in a
quiet moment) whenever another process held a core, and to 70-100 with
passive waiting (the MLP networks, 400-step runs, one after another). Both
sides run in this process, one after the other, the order alternating from
seed to seed, so noise from other work on the machine falls on both:
compare the ratio, not the rates.

What differs between the sides: the random draws (initial weights, the
noise of z) come from each framework's own generators; torch's Adam adds
eps after the bias correction, so its eps is rescaled at every step to give
Keras' update (torch_keras.keras_adam_step_settings).

    python bench/vae_vs_torch.py [--network conv|mlp] [--seeds N] [--steps N] [--check]

Needs the `bench` extra (`pip install -e '.[bench]'`: torch).
"""

import argparse
import math
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import side_by_side  # noqa: E402  (sets torch's OpenMP policy before torch starts)
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

import tfgen  # noqa: E402
import torch_vae  # noqa: E402
from tfgen import registry, training  # noqa: E402
from tfgen.models.vae import VAE  # noqa: E402

MODEL, DATA = "vae", "digits"
NETWORKS = ("conv", "mlp")  # tfgen's `VAE(network=...)`; conv is digits' default
# The table's columns: key, title, decimals.
COLUMNS = (("iwae", "test IWAE bits/dim", 4), ("elbo", "test ELBO bits/dim", 4),
           ("steps", "steps run", 0), ("best_step", "best step", 0),
           ("steps_per_second", "steps/s", 1))


def tfgen_vae(source, network):
    """The VAE `tfgen train vae --data digits --set network=NET` builds."""
    return VAE(source.event_shape, dequantizer=source.dequantizer,
               **{**registry.default_config(MODEL, source.event_shape), "network": network})


def tfgen_settings(source, network, steps=None):
    """What `tfgen train vae --data digits --set network=NET [--steps N]` runs: the
    model's sizes (from a VAE built as it builds one) and the training plan."""
    steps, lr, patience, validation_every = registry.training_settings(
        MODEL, steps, None, None, None, None)
    plan = training.fit_plan(steps, None, patience, validation_every,
                             training.DEFAULT_CHECKPOINT_EVERY, None)
    vae = tfgen_vae(source, network)
    return {"image_shape": source.image_shape, "network": vae.network,
            "channels": vae.channels, "levels": vae.decoder_distribution.levels,
            "latent_dim": vae.latent_dim, "hidden_units": vae.hidden_units, "beta": vae.beta,
            "kl_warmup": vae.kl_warmup, "eval_samples": vae.eval_samples, "lr": lr,
            "steps": steps, "patience": patience,
            "validation_every": plan["validation_every"],
            "steps_per_execution": plan["steps_per_execution"],
            "batch_size": registry.default_batch_size(source.image_shape is not None)}


def bits_per_dim(nll, event_size):
    return float(np.mean(nll)) / (event_size * math.log(2.0))


def run_tfgen(settings, seed):
    """One `tfgen train` run into a temporary directory; its test bounds in
    bits/dim, steps and rate."""
    with tempfile.TemporaryDirectory() as tmp:
        metrics = training.train(MODEL, DATA, os.path.join(tmp, "run"), steps=settings["steps"],
                                 seed=seed, config={"network": settings["network"]},
                                 verbose=0)
    best_step = min(metrics["best_validation_epoch"] * settings["validation_every"],
                    metrics["steps"])
    return {"iwae": metrics[f"iwae_{settings['eval_samples']}_bits_per_dim"],
            "elbo": metrics["elbo_bits_per_dim"], "steps": metrics["steps"],
            "best_step": best_step, "steps_per_second": metrics["steps_per_second"]}


def levels(source, split):
    """The integer levels of `split`, `[n, event_size]`."""
    return torch.from_numpy(source.arrays[split].reshape(len(source.arrays[split]), -1)
                            .astype(np.int64))


def torch_model(settings):
    """The torch VAE of `settings`, freshly initialized."""
    return torch_vae.TorchVAE(settings["image_shape"], settings["levels"],
                              settings["latent_dim"], settings["hidden_units"],
                              settings["network"], settings["channels"])


def run_torch(settings, source, seed):
    """The torch VAE trained on tfgen's training stream for `seed`; the same
    measurements as `run_tfgen`."""
    stream = source.dataset("train", settings["batch_size"], seed=seed, repeat=True)
    batches = torch.from_numpy(np.stack([
        source.dequantizer.to_levels(x).numpy().reshape(len(x), -1)
        for x in stream.take(settings["steps"])]).astype(np.int64))
    event_size = batches.shape[-1]
    torch.manual_seed(seed)
    model = torch_model(settings)
    result = torch_vae.train(
        model, batches, levels(source, "validation"), lr=settings["lr"],
        steps=settings["steps"], kl_warmup=settings["kl_warmup"], beta=settings["beta"],
        steps_per_execution=settings["steps_per_execution"],
        validation_every=settings["validation_every"], patience=settings["patience"],
        seed=seed)
    bounds = torch_vae.nll_bounds(model, levels(source, "test"), settings["eval_samples"], seed)
    return {"iwae": bits_per_dim(bounds["iwae"], event_size),
            "elbo": bits_per_dim(bounds["elbo"], event_size), **result}


def check(source, settings, tolerance=1e-5):
    """The torch networks with tfgen's weights copied in (biases drawn at
    random first: both sides start them at 0) against tfgen's: the
    posterior's mean and scale on the test digits and the decoder's logits
    at as many z ~ N(0, I), their largest absolute differences. Exits with
    status 1 above `tolerance`."""
    rng = np.random.default_rng(0)
    vae, model = tfgen_vae(source, settings["network"]), torch_model(settings)
    for keras_net, torch_net in ((vae.encoder, model.encoder), (vae.decoder, model.decoder)):
        # Both list their layers' weights in the order the layers run.
        for variable, parameter in zip(keras_net.weights, torch_net.parameters(), strict=True):
            if len(variable.shape) == 1:
                variable.assign(rng.normal(0.0, 0.3, variable.shape))
            value = variable.numpy()  # Dense kernels [in, out], conv [kh, kw, in, out]
            value = value.transpose(3, 2, 0, 1) if value.ndim == 4 else value.T
            assert tuple(parameter.shape) == value.shape, variable.path
            with torch.no_grad():
                parameter.copy_(torch.from_numpy(value.copy()))
    x = levels(source, "test")
    z = rng.normal(size=(len(x), settings["latent_dim"])).astype(np.float32)
    with torch.no_grad():
        torch_posterior = np.concatenate([t.numpy() for t in model.posterior(x)], -1)
        torch_logits = model.decoder(torch.from_numpy(z)).numpy()
    tfgen_posterior = np.concatenate(
        [t.numpy() for t in vae.encode(source.dequantizer.to_model(source.arrays["test"]))], -1)
    tfgen_logits = tf.reshape(vae.decoder(z), torch_logits.shape).numpy()
    side_by_side.compare(settings["network"], (
        ("posterior mean and scale", tfgen_posterior, torch_posterior),
        ("decoder logits", tfgen_logits, torch_logits)), tolerance)


def print_table(settings, results, seeds, threads):
    s = settings
    networks = f"MLPs {s['hidden_units']}"
    if s["network"] == "conv":
        networks = f"conv nets: channels {s['channels']}, then " + networks
    print(f"\nVAE on digits: latent {s['latent_dim']}, {networks}, categorical over "
          f"{s['levels']} levels, KL warm-up {s['kl_warmup']} steps; Adam {s['lr']:g} "
          f"(cosine to 0), batch {s['batch_size']}, at most {s['steps']} steps, validation "
          f"every {s['validation_every']} steps, patience {s['patience']}, best weights "
          f"restored; IWAE k = {s['eval_samples']}, ELBO 16 samples")
    side_by_side.print_table(results, seeds, COLUMNS, threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=NETWORKS, default=NETWORKS[0],
                        help="both sides' networks (default conv, tfgen's for digits)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="how many seeds: FIRST .. FIRST+N-1 (default 3)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--steps", type=int, default=None,
                        help="the step budget (default tfgen's for the VAE, 4000)")
    parser.add_argument("--check", action="store_true",
                        help="compare the networks with the same weights instead; no training")
    args = parser.parse_args()
    threads = side_by_side.use_tf_threads()
    source = tfgen.data.load_data(DATA)
    settings = tfgen_settings(source, args.network, args.steps)
    if args.check:
        check(source, settings)
        return
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    start = time.perf_counter()
    results = side_by_side.run_seeds(
        seeds, {"tfgen": lambda seed: run_tfgen(settings, seed),
                "torch": lambda seed: run_torch(settings, source, seed)},
        lambda r: (f"IWAE {r['iwae']:.4f} ELBO {r['elbo']:.4f} bits/dim, {r['steps']} steps "
                   f"(best {r['best_step']}), {r['steps_per_second']:.1f} steps/s"))
    print_table(settings, results, seeds, threads)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
