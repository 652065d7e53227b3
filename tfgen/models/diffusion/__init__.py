"""The diffusion family: `DDPM` (sampled by DDPM or DDIM) and
`LatentDiffusion` (a DDPM over a trained VAE's latents); the noise
schedules and reverse-process samplers as plain objects (`schedules`,
`samplers`), importance sampling of training timesteps
(`LossAwareTimesteps`), and the variational bound (`likelihood`)."""

from tfgen.models.diffusion import likelihood
from tfgen.models.diffusion.ddpm import DDPM
from tfgen.models.diffusion.latent_diffusion import LatentDiffusion
from tfgen.models.diffusion.samplers import (DDIMSampler, DDPMSampler, run_sampler, sampler_noise,
                                             timesteps)
from tfgen.models.diffusion.schedules import DiffusionSchedule, beta_schedule
from tfgen.models.diffusion.timestep_sampling import LossAwareTimesteps

__all__ = ["DDIMSampler", "DDPM", "DDPMSampler", "DiffusionSchedule", "LatentDiffusion",
           "LossAwareTimesteps", "beta_schedule", "likelihood", "run_sampler", "sampler_noise",
           "timesteps"]
