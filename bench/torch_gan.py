"""The PyTorch side of bench/gan_vs_torch.py: tfgen's digits DCGAN (and its
WGAN-GP) in plain PyTorch (no TensorFlow), trained by a loop that mirrors
tfgen's `GAN.train_step`.

The networks are tfgen's `DCGAN` on 8x8 digits with `channels` (c1, c2)
and `hidden_units` (h1, h2), as `tfgen.models.gan.GAN` builds them:

    G:  z -> Linear -> [h/4, w/4, c2] -> BN -> ReLU
          -> (x2 nearest upsampling -> conv 3x3 -> BN -> ReLU) for c2, c1
          -> conv 3x3 -> 1 channel -> tanh                 (intensities 2y - 1)
    D:  x -> (conv 3x3 stride 2 -> leaky ReLU 0.2) for c1, c2 -> flatten
          -> Linear h2 -> leaky -> Linear h1 -> leaky -> Linear 1   (a logit)

Keras' initializers (`torch_keras.keras_init`), Keras' batch normalization
(eps 1e-3, momentum 0.9 of the moving averages: torch's 0.1), flattening in
Keras' [h, w, c] order, so tfgen's weights carry over unchanged but for the
kernels' layouts (`bench/gan_vs_torch.py --check`).

`train` is Algorithm 1 as tfgen runs it: each step takes k discriminator
batches, D steps on each (`x[i::k]`) against as many samples of G (batch
statistics in G's normalization), then G steps once on as many noise draws
as one D batch; Adam with Keras' update (`torch_keras`) under a cosine
decay over each optimizer's own updates (k per step for D). The losses:
non-saturating (DCGAN) or Wasserstein with the gradient penalty at one
uniform interpolation weight per example (WGAN-GP).
"""

import copy
import math
import time

import torch
from torch import nn
from torch_keras import KERAS_EPS, conv, keras_adam_step_settings, keras_init, mlp

__all__ = ["Discriminator", "Generator", "LOSSES", "train"]

LOSSES = ("non_saturating", "wgan_gp")


def _batch_norm(channels):
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.1)  # Keras': 0.9 of the average


class Generator(nn.Module):
    """z `[n, latent_dim]` -> images in [-1, 1], `[n, h, w, 1]` (NHWC)."""

    def __init__(self, latent_dim, image_shape, channels):
        super().__init__()
        h, w, c = image_shape
        factor = 2 ** len(channels)
        self.grid = (h // factor, w // factor, channels[-1])
        self.head = keras_init(nn.Linear(latent_dim, math.prod(self.grid)))
        layers, width = [_batch_norm(channels[-1]), nn.ReLU()], channels[-1]
        for out in channels[::-1]:
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), conv(width, out),
                       _batch_norm(out), nn.ReLU()]
            width = out
        layers += [conv(width, c), nn.Tanh()]
        self.blocks = nn.Sequential(*layers)

    def forward(self, z):
        grid = self.head(z).unflatten(-1, self.grid).permute(0, 3, 1, 2)
        return self.blocks(grid).permute(0, 2, 3, 1)


class Discriminator(nn.Module):
    """Images `[n, h, w, 1]` (NHWC, in [-1, 1]) -> logits `[n]`."""

    def __init__(self, image_shape, channels, hidden_units):
        super().__init__()
        h, w, c = image_shape
        layers = []
        for out in channels:
            layers += [conv(c, out, stride=2), nn.LeakyReLU(0.2)]
            c = out
        self.blocks = nn.Sequential(*layers)
        grid_size = h * w // 4 ** len(channels) * c
        widths = list(hidden_units[::-1])
        self.head = nn.Sequential(mlp([grid_size, *widths], lambda: nn.LeakyReLU(0.2)),
                                  nn.LeakyReLU(0.2), keras_init(nn.Linear(widths[-1], 1)))

    def forward(self, x):
        h = self.blocks(x.permute(0, 3, 1, 2))
        return self.head(h.permute(0, 2, 3, 1).flatten(1))[:, 0]


def _losses(loss, discriminator, real, fake, generator_step=False):
    """Per-example D loss (real, fake), or G loss (fake) with
    `generator_step`."""
    if generator_step:
        score = discriminator(fake)
        return nn.functional.softplus(-score) if loss == "non_saturating" else -score
    real_score, fake_score = discriminator(real), discriminator(fake)
    if loss == "non_saturating":
        return nn.functional.softplus(-real_score) + nn.functional.softplus(fake_score)
    weight = torch.rand(len(real), 1, 1, 1)
    mixed = (weight * real + (1.0 - weight) * fake).requires_grad_(True)
    gradient, = torch.autograd.grad(discriminator(mixed).sum(), mixed, create_graph=True)
    penalty = (gradient.flatten(1).square().sum(-1) + 1e-12).sqrt().sub(1.0).square()
    return fake_score - real_score + 10.0 * penalty


def train(generator, discriminator, batches, *, loss, latent_dim, lr, betas, steps, k,
          measure=None, measure_every=None):
    """Trains on `batches` (`[>= steps, k * b, h, w, 1]` real images in
    [-1, 1], one per step) as tfgen's `GAN.train_step` does.

    `measure(generator)` (in eval mode) returns a validation figure to
    minimize, called every `measure_every` steps and at the end.

    Returns `{"steps_per_second", "records", "best_state"}`: the training
    rate without the first `k` D steps' step and without measurements, the
    `(step, figure)` measurements, and the generator state at the best one.
    """
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}; received {loss!r}.")
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas, eps=KERAS_EPS)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas, eps=KERAS_EPS)
    records, best, best_state, measuring, clock = [], math.inf, None, 0.0, None

    def record(step):
        nonlocal best, best_state, measuring
        start = time.perf_counter()
        generator.eval()
        with torch.no_grad():
            figure = measure(generator)
        generator.train()
        records.append((step, figure))
        if figure < best:
            best, best_state = figure, copy.deepcopy(generator.state_dict())
        measuring += time.perf_counter() - start

    for step in range(steps):
        x = batches[step]
        for i in range(k):
            real = x[i::k]
            with torch.no_grad():
                fake = generator(torch.randn(len(real), latent_dim))
            keras_adam_step_settings(d_opt, lr, step * k + i, steps * k, betas[1])
            d_opt.zero_grad()
            _losses(loss, discriminator, real, fake).mean().backward()
            d_opt.step()
        keras_adam_step_settings(g_opt, lr, step, steps, betas[1])
        g_opt.zero_grad()
        fake = generator(torch.randn(len(x[0::k]), latent_dim))
        _losses(loss, discriminator, None, fake, generator_step=True).mean().backward()
        g_opt.step()
        if clock is None:
            clock = time.perf_counter()
            measuring = 0.0
        if measure is not None and (step + 1) % measure_every == 0:
            record(step + 1)
    seconds = time.perf_counter() - clock - measuring
    if measure is not None and (not records or records[-1][0] != steps):
        record(steps)
    return {"steps_per_second": (steps - 1) / seconds if steps > 1 else None,
            "records": records, "best_state": best_state}
