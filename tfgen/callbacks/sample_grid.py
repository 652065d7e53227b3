"""`SampleGrid`: TensorBoard pictures of samples from fixed noise as training goes."""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["SampleGrid"]


class SampleGrid(keras.callbacks.Callback):
    """Every `every` steps, writes a grid of `num_samples` samples drawn with
    one fixed seed (the same noise each time, so the pictures show the model
    changing) as a TensorBoard image summary in `log_dir`.

    Images (`[h, w, c]` events) are tiled into one picture, in `[0, 1]`
    through `to_pixels` (default: the model's dequantizer, else a clip);
    2D samples are drawn as a scatter image.

    Args:
      log_dir: the TensorBoard log directory (e.g. the one given to
        `keras.callbacks.TensorBoard`; the grid goes into `log_dir/samples`).
      every: steps between grids (also one at the end of training).
      num_samples: samples per grid.
      seed: the fixed seed.
      image_shape: the picture shape of one example, for models of
        flattened images.
      to_pixels: callable from model-space samples to intensities in [0, 1].
      condition: conditional models: the `num_samples` conditions (default
        for class-conditional models: labels 0, 1, ... cycling).

    Example:

    ```python
    model.fit(x, epochs=5, callbacks=[keras.callbacks.TensorBoard("logs"),
                                      SampleGrid("logs", every=100)])
    ```
    """

    def __init__(self, log_dir, every=500, num_samples=64, seed=0, image_shape=None,
                 to_pixels=None, condition=None):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be a positive int; received {every!r}.")
        self.log_dir, self.every, self.num_samples, self.seed = log_dir, every, num_samples, seed
        self.image_shape, self.to_pixels, self.condition = image_shape, to_pixels, condition
        self._writer = None
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0 and step != self._last:
            self.write(step)

    def on_train_begin(self, logs=None):
        model = self.model
        if getattr(model, "conditional", False) and not model.num_classes and (
                self.condition is None):
            raise ValueError(
                f"`condition`: {type(model).__name__} is vector-conditional; pass the "
                f"{self.num_samples} conditions of the grid.")

    def on_train_end(self, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step != self._last:
            self.write(step)
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write(self, step):
        """Writes the grid of `step` now."""
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(f"{self.log_dir}/samples")
        samples = np.asarray(self.model.sample(self.num_samples, **self._condition(),
                                               seed=self.seed))
        with self._writer.as_default():
            tf.summary.image("samples", self._picture(samples)[None], step=step)
        self._writer.flush()
        self._last = step

    def _condition(self):
        if not getattr(self.model, "conditional", False):
            return {}
        if self.condition is not None:
            return {"condition": self.condition}
        return {"condition": np.arange(self.num_samples, dtype=np.int32)
                % self.model.num_classes}

    def _picture(self, samples):
        shape = self.image_shape or list(self.model.event_shape)
        if len(shape) != 3:
            return _scatter_image(samples)
        if self.to_pixels is not None:
            pixels = np.asarray(self.to_pixels(samples))
        elif getattr(self.model, "dequantizer", None) is not None:
            pixels = self.model.dequantizer.from_model(samples).numpy()
        else:
            pixels = np.clip(samples, 0.0, 1.0)
        return _tile(pixels.reshape([len(pixels), *shape]))


def _tile(images):
    """`[n, h, w, c]` -> one `[rows*h, cols*w, c]` picture (square-ish)."""
    n, h, w, c = images.shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    padded = np.zeros([rows * cols, h, w, c], np.float32)
    padded[:n] = images
    grid = padded.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * h, cols * w, c)


def _scatter_image(samples, size=128, bounds=4.0):
    """2D samples as a `[size, size, 1]` histogram picture over
    `[-bounds, bounds]^2` (first two coordinates)."""
    counts, _, _ = np.histogram2d(samples[:, 1], samples[:, 0], bins=size,
                                  range=[[-bounds, bounds], [-bounds, bounds]])
    return (counts[::-1] / max(counts.max(), 1.0))[..., None].astype(np.float32)
