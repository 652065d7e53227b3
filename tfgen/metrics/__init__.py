"""Sample quality and distances between distributions: FID, KID and the
Inception Score as Keras metrics, their feature networks (tfgen's shipped
digits classifier, InceptionV3 from a local file), and the energy distance,
MMD and Frechet distance in NumPy, and mode coverage on Gaussian-mixture
toys."""

from tfgen.metrics.digits_floor import digits_floor, digits_statistics
from tfgen.metrics.distances import (
    energy_distance, frechet_distance, median_bandwidth, mmd, polynomial_mmd)
from tfgen.metrics.features import (
    digits_classifier, digits_features, digits_intensities, digits_probabilities,
    inception_features)
from tfgen.metrics.modes import mode_coverage
from tfgen.metrics.sample_quality import FID, KID, InceptionScore

__all__ = [
    "FID",
    "InceptionScore",
    "KID",
    "digits_classifier",
    "digits_features",
    "digits_floor",
    "digits_statistics",
    "digits_intensities",
    "digits_probabilities",
    "energy_distance",
    "frechet_distance",
    "inception_features",
    "median_bandwidth",
    "mmd",
    "mode_coverage",
    "polynomial_mmd",
]
