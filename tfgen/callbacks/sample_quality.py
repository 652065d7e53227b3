"""`SampleQuality`: sample-quality figures measured as training goes, with
the best weights kept.

For models without a likelihood to validate on (GANs), the figures that
show their failure modes, measured on the validation split every `every`
steps (never the test split the final evaluation reports):

- digits: FID and KID in the shipped digits classifier's features and the
  class histogram of the samples (a collapsed GAN's histogram piles onto a
  few classes), each next to its floor (`tfgen.evaluation`);
- vectors: the energy distance and MMD to the data and, on Gaussian-mixture
  toys (`eight_gaussians`), the modes hit and the fraction of high-quality
  samples (`tfgen.metrics.mode_coverage`).

With `keep_best` (e.g. "fid_digits"), the weights of the best measurement
(lowest value) are restored when training ends.
"""

import time

import keras
import numpy as np

__all__ = ["KEEP_BEST", "SampleQuality"]

# `--keep-best` choices -> the figure they watch, by kind of data.
KEEP_BEST = {"fid": "fid_digits", "kid": "kid_digits", "energy_distance": "energy_distance"}


class SampleQuality(keras.callbacks.Callback):
    """Measures sample quality every `every` steps (and at the end).

    Args:
      source: the `tfgen.data.DataSource` the model trains on (digits, or
        vector data).
      every: steps between measurements.
      keep_best: None, or a figure to minimize ("fid_digits",
        "kid_digits", "energy_distance", or a `KEEP_BEST` key): the weights
        at its best measurement are restored at the end of training.
      seed: the samples' seed (the same at every measurement).
      verbose: print one line per measurement.

    Attributes:
      records: `[{"step": s, figure: value, ...}]`, one per measurement.
      best_step: the step of the best measurement (with `keep_best`).
      seconds_during_training: time the measurements between training
        steps took (not the last one, after training).

    Example:

    ```python
    quality = SampleQuality(digits, every=500, keep_best="fid")
    gan.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=5000,
            callbacks=[quality])
    quality.records[-1]["fid_digits"]
    ```
    """

    def __init__(self, source, every, keep_best=None, seed=0, verbose=1):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be a positive int; received {every!r}.")
        digits = source.name == "digits"
        if not digits and (source.image_shape is not None or len(source.event_shape) != 1):
            raise ValueError(f"`source`: sample quality is measured on digits or vector data; "
                             f"received {source.name!r}.")
        keep_best = KEEP_BEST.get(keep_best, keep_best)
        allowed = ("fid_digits", "kid_digits") if digits else ("energy_distance",)
        if keep_best is not None and keep_best not in allowed:
            raise ValueError(f"`keep_best` must be one of {allowed} for {source.name!r}; "
                             f"received {keep_best!r}.")
        self.source, self.every, self.keep_best = source, every, keep_best
        self.seed, self.verbose = seed, verbose
        self.records, self.best_step, self.seconds_during_training = [], None, 0.0
        self._best, self._best_weights, self._last = np.inf, None, None

    def measure(self, step):
        """Measures at `step` now; returns the record."""
        from tfgen import evaluation

        model = self.model
        with model.averaged_weights():
            if self.source.name == "digits":
                figures = evaluation.digits_sample_quality(model, self.source, "validation",
                                                           self.seed)
                keys = ("fid_digits", "kid_digits", "class_histogram",
                        "class_accuracy_digits")
            else:
                figures = evaluation.vector_sample_quality(model, self.source, "validation",
                                                           self.seed)
                keys = ("energy_distance", "mmd", "modes_hit", "high_quality_fraction")
        record = {"step": step, **{k: figures[k] for k in keys if k in figures}}
        self.records.append(record)
        self._last = step
        if self.keep_best and record[self.keep_best] < self._best:
            self._best, self.best_step = record[self.keep_best], step
            self._best_weights = model.get_weights()
        if self.verbose:
            shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in record.items() if k != "class_histogram")
            print(f"\nsample quality (validation): {shown}", flush=True)
        return record

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step // self.every > (self._last or 0) // self.every:
            start = time.perf_counter()
            self.measure(step)
            self.seconds_during_training += time.perf_counter() - start

    def on_train_end(self, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step != self._last:
            self.measure(step)
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)
            if self.verbose:
                print(f"sample quality: restored the weights of step {self.best_step} "
                      f"({self.keep_best} {self._best:.4g})", flush=True)
