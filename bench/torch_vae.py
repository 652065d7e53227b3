"""The PyTorch side of bench/vae_vs_torch.py: tfgen's digits VAE in plain
PyTorch (no TensorFlow), trained by a loop that mirrors `tfgen train`'s.

The model is tfgen's `VAE` on digits: an encoder from the levels / (L - 1)
to the mean and softplus(.) + 1e-4 scale of q(z | x), a standard normal
prior, a decoder to L logits per pixel (a categorical over the L levels),
ReLU hidden layers, Glorot-uniform kernels and zero biases (Keras' `Dense`
and `Conv2D` defaults; torch's `xavier_uniform_` takes a conv's fans as
Keras does, kh kw c_in and kh kw c_out). The KL is in closed form. The
networks, as tfgen's `network` option names them:

    "mlp":   encoder  x -> MLP -> 2 * latent_dim
             decoder  z -> MLP -> L logits per pixel
    "conv":  encoder  x -> (conv 3x3 stride 2 -> ReLU) per `channels`
                      -> flatten -> MLP -> 2 * latent_dim
             decoder  z -> MLP -> ReLU -> reshape [h / 2^n, w / 2^n, channels[-1]]
                      -> (x2 nearest upsampling -> conv 3x3 -> ReLU) per reversed
                      `channels` -> conv 3x3 -> L logits per pixel

(tfgen's `ConditionedMLP`, `ConditionedConvEncoder` and
`ConditionedConvDecoder` without a condition). The stride-2 convs pad as
Keras' "same" does on even sizes, one zero row and column at the bottom
and right, and the conv nets flatten and unflatten in Keras' [h, w, c]
order, so tfgen's weights carry over unchanged but for the kernels'
layouts (`bench/vae_vs_torch.py --check`).

`train` mirrors `tfgen.training.train`'s `fit`: Adam with Keras' update
(`torch_keras.keras_adam_step_settings`) under a cosine decay to 0 over the budget, a linear
KL warm-up whose weight changes once per `steps_per_execution` steps (Keras
calls callbacks between executions), the validation loss (the one-sample
negative ELBO at weight beta, with the same noise at every check) every
`validation_every` steps, and Keras' `EarlyStopping` rule: stop after
`patience` checks without a strictly lower loss, restore the best weights
at the end.
"""

import copy
import math
import time

import torch
from torch import nn
from torch_keras import KERAS_EPS, keras_adam_step_settings
from torch_keras import conv as _conv
from torch_keras import mlp as _mlp

__all__ = ["BETAS", "ConvDecoder", "ConvEncoder", "TorchVAE", "nll_bounds", "train"]

BETAS = (0.9, 0.999)  # Keras' Adam defaults


class ConvEncoder(nn.Module):
    """Values `[batch, h w c]` (flattened [h, w, c] images) to `[batch, output_size]`."""

    def __init__(self, image_shape, channels, hidden_units, output_size):
        super().__init__()
        self.image_shape = image_shape
        h, w, c = image_shape
        blocks = []
        for width in channels:
            blocks += [_conv(c, width, stride=2), nn.ReLU()]
            c = width
        self.blocks = nn.Sequential(*blocks)
        grid_size = h * w // 4 ** len(channels) * c
        self.head = _mlp([grid_size, *hidden_units, output_size])

    def forward(self, x):
        h = self.blocks(x.unflatten(-1, self.image_shape).permute(0, 3, 1, 2))
        return self.head(h.permute(0, 2, 3, 1).flatten(1))


class ConvDecoder(nn.Module):
    """Latents `[..., latent_dim]` to `[..., h w c, levels]` logits."""

    def __init__(self, latent_dim, image_shape, channels, hidden_units, levels):
        super().__init__()
        h, w, c = image_shape
        factor = 2 ** len(channels)
        self.grid, self.levels = (h // factor, w // factor, channels[-1]), levels
        self.head = nn.Sequential(_mlp([latent_dim, *hidden_units, math.prod(self.grid)]),
                                  nn.ReLU())
        blocks, in_width = [], channels[-1]
        for width in channels[::-1]:
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(in_width, width),
                       nn.ReLU()]
            in_width = width
        blocks.append(_conv(in_width, c * levels))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z):
        grid = self.head(z.flatten(0, -2)).unflatten(-1, self.grid).permute(0, 3, 1, 2)
        logits = self.blocks(grid).permute(0, 2, 3, 1)  # [n, h, w, c levels]
        return logits.reshape(*z.shape[:-1], -1, self.levels)


class TorchVAE(nn.Module):
    """q(z | x) = N(mu(x), diag sigma(x)^2), p(z) = N(0, I),
    p(x | z) = a categorical over `levels` values per pixel.

    Data are integer levels `[batch, event_size]`, the [h, w, c] images of
    `image_shape` flattened; `network` is "mlp" or "conv" (`channels`: the
    conv blocks'), as in tfgen's `VAE`.
    """

    def __init__(self, image_shape, levels, latent_dim, hidden_units, network, channels):
        super().__init__()
        self.event_size, self.levels, self.latent_dim = math.prod(image_shape), levels, latent_dim
        if network == "conv":
            self.encoder = ConvEncoder(image_shape, channels, hidden_units, 2 * latent_dim)
            self.decoder = ConvDecoder(latent_dim, image_shape, channels, hidden_units[::-1],
                                       levels)
        else:
            self.encoder = _mlp([self.event_size, *hidden_units, 2 * latent_dim])
            self.decoder = nn.Sequential(
                _mlp([latent_dim, *hidden_units[::-1], self.event_size * levels]),
                nn.Unflatten(-1, (self.event_size, levels)))

    def posterior(self, x):
        """The mean and scale of q(z | x), `[batch, latent_dim]` each."""
        mean, raw_scale = self.encoder(x.float() / (self.levels - 1)).chunk(2, dim=-1)
        return mean, nn.functional.softplus(raw_scale) + 1e-4

    def log_likelihood(self, z, x):
        """log p(x | z) `[..., batch]` for latents `z` `[..., batch, latent_dim]`."""
        log_probs = self.decoder(z).log_softmax(-1)  # [..., batch, event_size, levels]
        index = x.expand(*z.shape[:-1], self.event_size).unsqueeze(-1)
        return log_probs.gather(-1, index).squeeze(-1).sum(-1)

    @staticmethod
    def kl(mean, scale):
        """KL(q(z | x) || N(0, I)) `[batch]`, closed form."""
        return 0.5 * (mean ** 2 + scale ** 2 - 1.0).sum(-1) - scale.log().sum(-1)

    def elbo_terms(self, x, generator, num_samples=1):
        """Per-example E_q log p(x | z) (over `num_samples` samples of z)
        and KL, `[batch]` each."""
        mean, scale = self.posterior(x)
        eps = torch.randn(num_samples, *mean.shape, generator=generator)
        z = mean + scale * eps
        return self.log_likelihood(z, x).mean(0), self.kl(mean, scale)

    def log_weights(self, x, num_samples, generator):
        """log p(x | z) + log p(z) - log q(z | x) `[num_samples, batch]`, z ~ q."""
        mean, scale = self.posterior(x)
        eps = torch.randn(num_samples, *mean.shape, generator=generator)
        z = mean + scale * eps
        log_prior = -0.5 * (z ** 2).sum(-1)
        log_posterior = -0.5 * (eps ** 2).sum(-1) - scale.log().sum(-1)
        # The normal densities' log(2 pi) terms cancel.
        return self.log_likelihood(z, x) + log_prior - log_posterior


def nll_bounds(model, x, iwae_samples, seed, elbo_samples=16, chunk=100):
    """`{"elbo": -ELBO, "iwae": -IWAE_k}` per example (nats, NumPy), as
    tfgen's `VAE.nll_bounds`: the ELBO over `elbo_samples` samples of z, the
    IWAE bound over `iwae_samples`, drawn `chunk` at a time."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        reconstruction, kl = model.elbo_terms(x, generator, elbo_samples)
        log_weights = torch.cat([model.log_weights(x, min(chunk, iwae_samples - i), generator)
                                 for i in range(0, iwae_samples, chunk)])
        iwae = log_weights.logsumexp(0) - math.log(iwae_samples)
    return {"elbo": (kl - reconstruction).numpy(), "iwae": (-iwae).numpy()}


def train(model, batches, validation, *, lr, steps, kl_warmup, beta, steps_per_execution,
          validation_every, patience, seed):
    """Trains `model` on `batches` (levels `[>= steps, batch, event_size]`,
    one per step) as `tfgen train` does; see the module docstring.

    Returns `{"steps", "best_step", "steps_per_second"}`: the steps run,
    the step whose weights were restored, and the training rate without
    the first `steps_per_execution` steps (tfgen's first execution, which
    traces the step) and without validation.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=BETAS, eps=KERAS_EPS)
    train_noise = torch.Generator().manual_seed(seed)
    best, best_state, best_step, wait = math.inf, None, 0, 0
    validation_seconds, clock = 0.0, None
    step = 0
    while step < steps:
        # Set between executions, from the steps taken (tfgen's KLWarmup).
        kl_weight = beta * min(1.0, step / kl_warmup) if kl_warmup else beta
        for _ in range(steps_per_execution):
            x = batches[step]
            keras_adam_step_settings(optimizer, lr, step, steps, BETAS[1])
            reconstruction, kl = model.elbo_terms(x, train_noise)
            loss = (kl_weight * kl - reconstruction).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        if clock is None:
            clock = (time.perf_counter(), step)
        if step % validation_every and step < steps:
            continue
        start = time.perf_counter()
        with torch.no_grad():
            reconstruction, kl = model.elbo_terms(
                validation, torch.Generator().manual_seed(seed + 1))
            validation_loss = float((beta * kl - reconstruction).mean())
        validation_seconds += time.perf_counter() - start
        if validation_loss < best:
            best, best_state, best_step, wait = (validation_loss,
                                                 copy.deepcopy(model.state_dict()), step, 0)
        else:
            wait += 1
        if wait >= patience:
            break
    seconds = time.perf_counter() - clock[0] - validation_seconds
    model.load_state_dict(best_state)
    return {"steps": step, "best_step": best_step,
            "steps_per_second": (step - clock[1]) / seconds if step > clock[1] else None}
