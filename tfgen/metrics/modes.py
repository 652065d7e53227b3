"""Mode coverage of samples from a Gaussian mixture: the diagnostic of mode
collapse on 2D toys such as `eight_gaussians` (Metz et al. 2017;
Srivastava et al. 2017).

A sample is high quality when it lies within `num_std` standard deviations
of its nearest mode's centre; a mode is hit when at least `min_fraction` of
all samples are high-quality samples of it (1% by default: an eighth of
the samples would fall on each of eight equal modes).

Example:

```python
toy = tfgen.data.get_toy("eight_gaussians")
mode_coverage(model.sample(2000, seed=0), toy.centers, toy.sigma)
# {"modes_hit": 8, "num_modes": 8, "high_quality_fraction": 0.97, "mode_fractions": [...]}
```

References:
  Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017.
  Srivastava et al., "VEEGAN", NeurIPS 2017.
"""

import numpy as np

__all__ = ["mode_coverage"]


def mode_coverage(samples, centers, sigma, num_std=3.0, min_fraction=0.01):
    """Modes hit and the fraction of high-quality samples.

    Args:
      samples: `[n, d]` samples.
      centers: `[k, d]` the mixture's mode centres.
      sigma: the modes' (isotropic) standard deviation.
      num_std: high quality within this many standard deviations.
      min_fraction: a mode is hit when this fraction of the samples are
        high-quality samples of it.

    Returns:
      A dict: `modes_hit` (int), `num_modes`, `high_quality_fraction`, and
      `mode_fractions` (per mode, the fraction of all samples that are
      high-quality samples of it).
    """
    samples, centers = np.asarray(samples, np.float64), np.asarray(centers, np.float64)
    if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"`samples` [n, d] and `centers` [k, d] must share d; received "
                         f"shapes {samples.shape} and {centers.shape}.")
    if not sigma > 0:
        raise ValueError(f"`sigma` must be > 0; received {sigma!r}.")
    distances = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)  # [n, k]
    nearest = np.argmin(distances, axis=1)
    good = distances[np.arange(len(samples)), nearest] <= num_std * sigma
    fractions = np.bincount(nearest[good], minlength=len(centers)) / len(samples)
    return {"modes_hit": int(np.sum(fractions >= min_fraction)), "num_modes": len(centers),
            "high_quality_fraction": float(np.mean(good)),
            "mode_fractions": [float(f) for f in fractions]}
