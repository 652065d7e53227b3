"""The diffusion family: noise schedules and reverse-process samplers as
plain objects (`schedules`, `samplers`)."""

from tfgen.models.diffusion.samplers import (DDIMSampler, DDPMSampler, run_sampler, sampler_noise,
                                             timesteps)
from tfgen.models.diffusion.schedules import DiffusionSchedule, beta_schedule

__all__ = ["DDIMSampler", "DDPMSampler", "DiffusionSchedule", "beta_schedule", "run_sampler",
           "sampler_noise", "timesteps"]
