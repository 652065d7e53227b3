"""The diffusers side of bench/ddpm_vs_diffusers.py: tfgen's digits DDPM as
diffusers builds it (PyTorch, no TensorFlow), trained by a loop that
mirrors tfgen's `DDPM.train_step`.

- The network: `UNet2DModel` with tfgen's U-Net settings (`unet`):
  `block_out_channels` = tfgen's `channels`, `layers_per_block`, attention
  blocks (`AttnDownBlock2D` / `AttnUpBlock2D`) at the levels whose size is
  in `attention_resolutions`, `norm_num_groups`, `attention_head_dim`;
  the same layout as `tfgen.models.networks.UNet` (its docstring).
- The schedule: `DDPMScheduler` with tfgen's betas (linear, 1e-4 to 0.02
  over T); sampling with `DDPMScheduler` (fixed-small variance) or
  `DDIMScheduler` (eta 0, `set_alpha_to_one`: the last step lands on x_0,
  as tfgen's walk does), x_0 clipped to [-1, 1], "leading" spacing.
- Training (`train`): the simple loss, t uniform and noise per example,
  Adam with Keras' update under a cosine decay to 0 (`torch_keras`), and
  the weights' average a <- d_t a + (1 - d_t) w after every step t from
  the initial weights, d_t = min(d, (1 + t) / (10 + t)) (tfgen's warmed-up
  EMA; diffusers' `EMAModel` warms up the same way one step later).
"""

import copy
import time

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from torch_keras import KERAS_EPS, keras_adam_step_settings

__all__ = ["sample", "schedulers", "train", "unet"]


def unet(image_shape, channels, layers_per_block, attention_resolutions, groups, head_dim):
    """The `UNet2DModel` of tfgen's U-Net settings, for NCHW images."""
    size, down = image_shape[0], []
    for level in range(len(channels)):
        down.append("AttnDownBlock2D" if size in attention_resolutions else "DownBlock2D")
        if level < len(channels) - 1:
            size //= 2
    up = [name.replace("Down", "Up") for name in reversed(down)]
    return UNet2DModel(sample_size=image_shape[0], in_channels=image_shape[-1],
                       out_channels=image_shape[-1], block_out_channels=tuple(channels),
                       layers_per_block=layers_per_block, down_block_types=tuple(down),
                       up_block_types=tuple(up), norm_num_groups=groups,
                       attention_head_dim=head_dim)


def schedulers(num_timesteps, beta_start, beta_end):
    """`{"ddpm": DDPMScheduler, "ddim": DDIMScheduler}` of the linear schedule."""
    common = dict(num_train_timesteps=num_timesteps, beta_start=beta_start, beta_end=beta_end,
                  beta_schedule="linear", prediction_type="epsilon", clip_sample=True,
                  clip_sample_range=1.0, timestep_spacing="leading")
    return {"ddpm": DDPMScheduler(variance_type="fixed_small", **common),
            "ddim": DDIMScheduler(set_alpha_to_one=True, **common)}


def train(model, batches, scheduler, *, lr, betas, steps, ema_decay):
    """Trains `model` on `batches` (`[>= steps, b, c, h, w]` images in
    [-1, 1], one per step). Returns `{"steps_per_second", "average"}`: the
    rate without the first step, and the averaged model."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=KERAS_EPS)
    average = copy.deepcopy(model).requires_grad_(False)
    total = scheduler.config.num_train_timesteps
    clock = None
    for step in range(steps):
        x = batches[step]
        t = torch.randint(0, total, (len(x),))
        noise = torch.randn_like(x)
        keras_adam_step_settings(optimizer, lr, step, steps, betas[1])
        optimizer.zero_grad()
        output = model(scheduler.add_noise(x, noise, t), t).sample
        ((output - noise) ** 2).mean().backward()
        optimizer.step()
        decay = min(ema_decay, (2 + step) / (11 + step))  # t = step + 1 updates made
        with torch.no_grad():
            for a, w in zip(average.parameters(), model.parameters()):
                a.mul_(decay).add_(w, alpha=1.0 - decay)
        if clock is None:
            clock = time.perf_counter()
    seconds = time.perf_counter() - clock
    return {"steps_per_second": (steps - 1) / seconds if steps > 1 else None,
            "average": average}


def sample(model, scheduler, n, steps, seed, image_shape):
    """`n` images (NHWC NumPy, in [-1, 1]) by `scheduler` over `steps`
    steps, and the images/s of the walk."""
    h, w, c = image_shape
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=generator)
    scheduler.set_timesteps(steps)
    start = time.perf_counter()
    with torch.no_grad():
        for t in scheduler.timesteps:
            output = model(x, t).sample
            x = scheduler.step(output, t, x, generator=generator).prev_sample
    seconds = time.perf_counter() - start
    return np.transpose(x.numpy(), (0, 2, 3, 1)), n / seconds
