"""The diffusion family: `DDPM` (sampled by DDPM or DDIM), its noise
schedules and reverse-process samplers as plain objects (`schedules`,
`samplers`), and its variational bound (`likelihood`)."""

from tfgen.models.diffusion import likelihood
from tfgen.models.diffusion.ddpm import DDPM
from tfgen.models.diffusion.samplers import (DDIMSampler, DDPMSampler, run_sampler, sampler_noise,
                                             timesteps)
from tfgen.models.diffusion.schedules import DiffusionSchedule, beta_schedule

__all__ = ["DDIMSampler", "DDPM", "DDPMSampler", "DiffusionSchedule", "beta_schedule",
           "likelihood", "run_sampler", "sampler_noise", "timesteps"]
