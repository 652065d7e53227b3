"""`evaluate(model, source)`: the one evaluation of any tfgen model.

What `tfgen eval` prints and `metrics.json` holds, for every family:

- the likelihood the model has (`model.likelihood`): exact ("nll",
  "bits_per_dim"; on toys also the KL gap, see `DataSource.metrics`), or
  bounds named as bounds ("elbo_nll", "elbo_bits_per_dim", ... from the
  model's `nll_bounds`); nothing for models without one;
- sample quality, each statistic next to its real-data floor (the same
  statistic between two real samples of the same sizes):
  - digits: FID, KID and IS in the features of tfgen's shipped digits
    classifier (`fid_digits`, `kid_digits`, `is_digits`) and the class
    histogram of the samples, against the train split vs the test split;
    for class-conditional models, how often the classifier names the
    sample's condition;
  - vector data: `energy_distance` and `mmd` of samples to test data,
    against a train sample vs the test data; on Gaussian-mixture toys
    (`eight_gaussians`) also the modes hit and the fraction of
    high-quality samples (`tfgen.metrics.mode_coverage`);
- the family's own figures (`model.evaluation_metrics`: a VQ-VAE's
  reconstruction and codebook use);
- `samples_per_second` of `model.sample`.

Models that keep weight averages (`ema_decay`) are evaluated with them.
"""

import functools
import time

import numpy as np

from tfgen import metrics as tfgen_metrics

__all__ = ["bound_metrics", "digits_sample_quality", "evaluate", "real_intensities",
           "samples_per_second", "vector_sample_quality"]

# Samples drawn for the 2D statistics (and at most this many test examples).
VECTOR_SAMPLES = 2000
# Samples timed for `samples_per_second`.
TIMED_SAMPLES = 1000


def evaluate(model, source, split="test", seed=0, sample_options=None):
    """Evaluates `model` on `source` (a `tfgen.data.DataSource`).

    Args:
      model: a `tfgen.models.GenerativeModel`.
      source: the data, in the model's event shape.
      split: the split scored and compared with ("test", or "all" for a
        user's file).
      seed: seeds the samples.
      sample_options: keyword options of `model.sample` for every draw (a
        diffusion model's `sampler`, `steps`, ...; see
        `model.sampling_options`).

    Returns:
      A dict of floats (and lists, for histograms), JSON-ready.
    """
    if list(source.event_shape) != list(model.event_shape):
        raise ValueError(
            f"The data {source.name!r} has examples of shape {source.event_shape}; the "
            f"model takes {list(model.event_shape)}.")
    out = {"likelihood": model.likelihood}
    draw = functools.partial(_draw, options=dict(sample_options or {}))
    if sample_options:
        out["sample_options"] = dict(sample_options)
    with model.averaged_weights():
        if model.likelihood == "exact":
            out.update(source.metrics(model, split))
        elif model.likelihood == "bound":
            out.update(bound_metrics(model, source, split))
        out.update(model.evaluation_metrics(source, split))
        if source.name == "digits":
            out.update(digits_sample_quality(model, source, split, seed, draw))
        elif source.image_shape is None and len(source.event_shape) == 1:
            out.update(vector_sample_quality(model, source, split, seed, draw))
        out["samples_per_second"] = samples_per_second(model, seed, draw=draw)
    return out


def bound_metrics(model, source, split="test", batch_size=512):
    """Mean `<name>_nll` (nats) and `<name>_bits_per_dim` over `split` of
    each bound in `model.nll_bounds`: upper bounds on the NLL, named so."""
    sums, count = {}, 0
    for batch in source.dataset(split, batch_size, shuffle=False, labels=model.conditional):
        x, *condition = batch if model.conditional else (batch,)
        for name, nll in model.nll_bounds(x, *condition).items():
            for key, value in ((f"{name}_nll", nll),
                               (f"{name}_bits_per_dim", model.bits_per_dim(nll, x))):
                sums[key] = sums.get(key, 0.0) + float(np.sum(value, dtype=np.float64))
        count += int(x.shape[0])
    return {**{key: total / count for key, total in sums.items()}, "num_examples": count}


def _draw(model, n, seed, options=None):
    """`n` samples, balanced over the classes for conditional models, with
    `model.sample`'s keyword `options`."""
    options = options or {}
    if model.conditional:
        labels = (np.arange(n) % model.num_classes).astype(np.int32)
        return np.asarray(model.sample(n, labels, seed=seed, **options))
    return np.asarray(model.sample(n, seed=seed, **options))


def real_intensities(source, split):
    """The real images of `split` as intensities in [0, 1], `[n, h, w, c]`."""
    raw = np.concatenate([np.asarray(x) for x in source.raw(split).batch(4096)])
    return raw.reshape([len(raw), *source.image_shape]) / (source.dequantizer.levels - 1)


def _intensities(source, samples):
    """Model-space samples as the data's levels, as intensities in [0, 1]."""
    levels = source.dequantizer.to_levels(samples).numpy()
    return levels.reshape([len(levels), *source.image_shape]) / (source.dequantizer.levels - 1)


def _accuracy(images, labels):
    predicted = np.argmax(tfgen_metrics.digits_probabilities(images), axis=-1)
    return float(np.mean(predicted == labels))


def digits_sample_quality(model, source, split="test", seed=0, draw=_draw):
    """`fid_digits`, `kid_digits` (and `kid_digits_stderr`), `is_digits` and
    `class_histogram` of as many samples as the train split has images,
    against `split`; each with `_floor`: the train split in their place.
    Class-conditional models (10 classes) add `class_accuracy_digits`: the
    fraction of samples the classifier assigns to their condition. `draw`:
    `(model, n, seed) -> samples` (sampling options bound)."""
    real_train = real_intensities(source, "train")
    reference = real_intensities(source, split)
    generated = _intensities(source, draw(model, len(real_train), seed))
    model_stats = tfgen_metrics.digits_statistics(generated, reference)
    floor = tfgen_metrics.digits_statistics(real_train, reference)
    out = {"num_generated": len(generated), "num_reference": len(reference),
           "kid_digits_stderr": model_stats["kid_stderr"]}
    if model.conditional and model.num_classes == 10:
        # Samples of class k (balanced, see `_draw`) that the classifier
        # calls k; the floor: its accuracy on the real train digits.
        out["class_accuracy_digits"] = _accuracy(generated, np.arange(len(generated)) % 10)
        out["class_accuracy_digits_floor"] = _accuracy(real_train, source.labels["train"])
    for name, key in (("fid", "fid_digits"), ("kid", "kid_digits"), ("is", "is_digits"),
                      ("class_histogram", "class_histogram")):
        out[key] = model_stats[name]
        out[f"{key}_floor"] = floor[name]
    return out


def vector_sample_quality(model, source, split="test", seed=0, draw=_draw):
    """`energy_distance` and `mmd` of `min(VECTOR_SAMPLES, n_split)` samples
    against as many `split` examples; `_floor`: train examples instead
    (`draw` as in `digits_sample_quality`)."""
    reference = np.concatenate([np.asarray(x) for x in source.dataset(split, 4096,
                                                                      shuffle=False)])
    n = min(VECTOR_SAMPLES, len(reference))
    reference = reference[:n]
    train = next(iter(source.dataset("train", n, shuffle=True, seed=seed)))
    train = np.asarray(train[0] if isinstance(train, tuple) else train)
    generated = draw(model, n, seed)
    modes = {}
    if getattr(source.toy, "centers", None) is not None:  # a Gaussian mixture
        modes = tfgen_metrics.mode_coverage(generated, source.toy.centers, source.toy.sigma)
    # One kernel for the model and its floor: the bandwidth of the test data.
    bandwidth = tfgen_metrics.median_bandwidth(reference)
    return {"energy_distance": tfgen_metrics.energy_distance(generated, reference),
            "energy_distance_floor": tfgen_metrics.energy_distance(train, reference),
            "mmd": tfgen_metrics.mmd(generated, reference, bandwidth=bandwidth),
            "mmd_floor": tfgen_metrics.mmd(train, reference, bandwidth=bandwidth),
            "num_generated": n, **modes}


def samples_per_second(model, seed=0, n=TIMED_SAMPLES, draw=_draw):
    """Samples per second of `model.sample(n)`, after one untimed call."""
    draw(model, n, seed)
    start = time.perf_counter()
    draw(model, n, seed + 1)
    return n / (time.perf_counter() - start)
