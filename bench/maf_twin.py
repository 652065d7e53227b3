"""tfgen's MAF and zuko's from the same initial weights: how far float32
round-off alone moves the KL gap of bench/maf_vs_zuko.py (a).

tfgen's MAF is built with zuko's affine form (normalizing direction
z = x e^a + b, log-scale a soft-clamped to +-ln 1000) instead of its own
(x = z e^s + t, s = 3 tanh(raw / 3)), so that zuko's initial weights copied
into it give the same function. Both sides then train on the same batches
with the same Adam settings, tfgen through `Flow.fit`. Printed per toy:
the largest |log_prob| difference at the start, the training losses of
both sides at a few steps, and the final test KL gaps. Any gap between the
two sides at the end comes from the order of float32 operations only.

    python bench/maf_twin.py [--seed N] [--steps N]

Needs the `bench` extra (torch, zuko).
"""

import argparse
import math
import os

import numpy as np

os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import torch  # noqa: E402

import tfgen  # noqa: E402
import zuko_maf  # noqa: E402
from maf_vs_zuko import BATCH, TOYS, training_batches  # noqa: E402

tfb = tfp.bijectors
torch.set_num_threads(1)

REPORT_STEPS = (1, 10, 100, 1000, 3000)


class ZukoFormMAF(tfgen.flows.MAF):
    """tfgen's MAF whose MADE outputs `(b, a)` give zuko's normalizing map
    z = x e^a + b, a = raw / (1 + |raw| / ln 1000); in TFP's sampling
    direction: x = z e^-a - b e^-a."""

    def _made_bijector(self, made, condition):
        bound = math.log(1e3)

        def shift_and_log_scale(x):
            b, raw = tf.unstack(made(x, condition), num=2, axis=-1)
            a = raw / (1 + tf.abs(raw) / bound)
            return -b * tf.exp(-a), -a

        return tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=shift_and_log_scale))


def copy_weights(flow, model):
    """Zuko's MADE weights into `model`. tfgen's MADE `i` sees the features
    reversed `i` times where zuko's reverses its order instead; torch stores
    `[out, in]`, TFP `[in, out]`; outputs are `feature * 2 + param` on both."""
    d = model.event_size
    for i, (transform, made) in enumerate(zip(flow.transform.transforms, model.mades)):
        order = np.arange(d)[::-1] if i % 2 else np.arange(d)
        linears = [m for m in transform.hyper if isinstance(m, torch.nn.Linear)]
        variables = made.network.trainable_variables
        for j, linear in enumerate(linears):
            kernel = (linear.weight * linear.mask).detach().numpy().T
            bias = linear.bias.detach().numpy()
            if j == 0:
                kernel = kernel[order]
            if j == len(linears) - 1:
                outputs = (2 * order[:, None] + np.arange(2)).ravel()
                kernel, bias = kernel[:, outputs], bias[outputs]
            variables[2 * j].assign(kernel)
            variables[2 * j + 1].assign(bias)


def twin_run(name, seed, steps):
    source = tfgen.data.load_data(name)
    train, test = (source.arrays[s].astype(np.float32) for s in ("train", "test"))
    true_nll = -np.mean(source.toy.log_prob(test))
    batches = training_batches(train, steps, BATCH)

    flow = zuko_maf.new_flow(2, [64, 64], seed)
    model = ZukoFormMAF([2], num_layers=zuko_maf.NUM_LAYERS, hidden_units=[64, 64])
    copy_weights(flow, model)
    start_diff = np.abs(zuko_maf.log_prob(flow, test) - model.log_prob(test).numpy()).max()

    model.compile(optimizer=keras.optimizers.Adam(zuko_maf.LEARNING_RATE, *zuko_maf.BETAS,
                                                  epsilon=zuko_maf.EPS))
    history = model.fit(tf.data.Dataset.from_tensor_slices(batches), epochs=steps,
                        steps_per_epoch=1, verbose=0)
    tfgen_losses = history.history["nll"]
    optimizer = torch.optim.Adam(flow.parameters(), lr=zuko_maf.LEARNING_RATE,
                                 betas=zuko_maf.BETAS, eps=zuko_maf.EPS)
    zuko_losses = []
    for x in torch.from_numpy(batches):
        loss = -flow().log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        zuko_losses.append(loss.item())

    print(f"{name} seed {seed}: start max |log_prob difference| {start_diff:.1e}")
    for step in (s for s in REPORT_STEPS if s <= steps):
        z, t = zuko_losses[step - 1], tfgen_losses[step - 1]
        print(f"  step {step:5d} loss zuko {z:.6f} tfgen {t:.6f} difference {t - z:+.1e}")
    gaps = {"zuko": -np.mean(zuko_maf.log_prob(flow, test)) - true_nll,
            "tfgen": -np.mean(model.log_prob(test).numpy()) - true_nll}
    print(f"  final KL gap zuko {gaps['zuko']:.4f} tfgen {gaps['tfgen']:.4f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of zuko's initial weights")
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    for name in TOYS:
        twin_run(name, args.seed, args.steps)


if __name__ == "__main__":
    main()
