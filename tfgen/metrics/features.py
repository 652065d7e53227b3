"""Feature networks for the sample-quality metrics: tfgen's digits classifier
and InceptionV3.

Every feature callable here maps a batch of images, given as intensities in
[0, 1], to a `[batch, d]` tensor and carries two attributes the metrics in
`tfgen.metrics.sample_quality` read:

    feature_dim   d, so metric state exists before any (graph) update
    feature_name  what network, weights and resize produced the features

The digits classifier is a small conv net trained on the digits train split
only (`python -m tfgen.metrics.train_classifier`); its weights ship in this
package, so nothing is downloaded. InceptionV3 loads weights from a file the
caller names, and never downloads either.
"""

import functools
import os

import keras
import numpy as np
import tensorflow as tf

from tfgen.data.builtin import DIGITS_LEVELS

__all__ = [
    "DIGITS_WEIGHTS",
    "build_digits_classifier",
    "digits_classifier",
    "digits_features",
    "digits_intensities",
    "digits_probabilities",
    "inception_features",
]

DIGITS_WEIGHTS = os.path.join(os.path.dirname(__file__), "digits_classifier.weights.h5")
_DIGITS_FEATURE_DIM = 64
_DIGITS_CLASSES = 10
# InceptionV3 refuses inputs smaller than 75x75.
_INCEPTION_MIN_SIZE = 75


def build_digits_classifier():
    """The digits classifier's architecture, untrained (float32).

    8x8x1 -> conv 32 -> conv 32 -> max-pool (4x4) -> conv 64 -> conv 64
    -> max-pool (2x2) -> dense 64 ("features", ReLU) -> dropout -> softmax 10.
    All 3x3 convolutions are 'same' with ReLU; about 82k weights.
    """
    layers = keras.layers
    kw = dict(dtype="float32")  # independent of the global dtype policy
    return keras.Sequential([
        keras.Input([8, 8, 1], dtype="float32"),
        layers.Conv2D(32, 3, padding="same", activation="relu", **kw),
        layers.Conv2D(32, 3, padding="same", activation="relu", **kw),
        layers.MaxPooling2D(2, **kw),
        layers.Conv2D(64, 3, padding="same", activation="relu", **kw),
        layers.Conv2D(64, 3, padding="same", activation="relu", **kw),
        layers.MaxPooling2D(2, **kw),
        layers.Flatten(**kw),
        layers.Dense(_DIGITS_FEATURE_DIM, activation="relu", name="features", **kw),
        layers.Dropout(0.3, **kw),
        layers.Dense(_DIGITS_CLASSES, activation="softmax", name="probabilities", **kw),
    ], name="tfgen_digits_classifier")


def digits_intensities(levels):
    """Digit levels 0..16 as the float32 intensities in [0, 1] (levels / 16)
    that the digits classifier takes."""
    return np.asarray(levels, np.float32) / (DIGITS_LEVELS - 1)


@functools.cache
def digits_classifier():
    """tfgen's digits classifier, loaded once from the shipped weights.

    A Keras model from `[n, 8, 8, 1]` intensities in [0, 1] (digit levels
    0..16 divided by 16) to class probabilities `[n, 10]`. Trained on the
    1257 train digits only, with random shifts of up to one pixel, the
    epoch kept by validation accuracy (`python -m tfgen.metrics.train_classifier`,
    seed 0, 150 epochs). Measured accuracy: test split 98.9% (356 of 360),
    validation split 99.4% (179 of 180); tests/metrics recomputes the test
    accuracy from the data.

    Example:

    ```python
    source = tfgen.data.load_data("digits")
    probabilities = digits_classifier()(digits_intensities(source.arrays["test"]))
    ```
    """
    # Eagerly, also when first called while tracing a tf.function: there the
    # weights would be assigned in the traced graph only.
    with tf.init_scope():
        model = build_digits_classifier()
        model.load_weights(DIGITS_WEIGHTS)
    model.trainable = False
    return model


@functools.cache
def _digits_feature_model():
    classifier = digits_classifier()
    return keras.Model(classifier.inputs, classifier.get_layer("features").output)


def _as_digit_images(x):
    """`[n, 8, 8, 1]` or `[n, 64]` intensities as a float32 `[n, 8, 8, 1]` tensor."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank is not None and tuple(x.shape[1:]) not in ((8, 8, 1), (64,)):
        raise ValueError(
            f"`x` must be digits [n, 8, 8, 1] or [n, 64]; received shape {tuple(x.shape)}.")
    return tf.reshape(tf.cast(x, tf.float32), [-1, 8, 8, 1])


@keras.saving.register_keras_serializable(package="tfgen")
def digits_features(x):
    """Penultimate-layer features `[n, 64]` (float32) of the digits classifier.

    Args:
      x: digits `[n, 8, 8, 1]` or `[n, 64]` as intensities in [0, 1]
        (levels / 16); NumPy or tensors, also inside `tf.function`.

    Example:

    ```python
    fid = tfgen.metrics.FID(digits_features)
    ```
    """
    return _digits_feature_model()(_as_digit_images(x))


@keras.saving.register_keras_serializable(package="tfgen")
def digits_probabilities(x):
    """Class probabilities `[n, 10]` (float32) of the digits classifier, for
    `x` as in `digits_features`."""
    return digits_classifier()(_as_digit_images(x))


digits_features.feature_dim = _DIGITS_FEATURE_DIM
digits_features.feature_name = "tfgen digits classifier, penultimate layer (64)"
digits_probabilities.feature_dim = _DIGITS_CLASSES
digits_probabilities.feature_name = "tfgen digits classifier, softmax (10)"


@keras.saving.register_keras_serializable(package="tfgen", name="InceptionFeatures")
class _InceptionFeatures:
    """InceptionV3's 2048 average-pooled features; see `inception_features`."""

    feature_dim = 2048

    def __init__(self, weights_path, resize=299):
        if weights_path is None or not os.path.isfile(weights_path):
            raise ValueError(
                "`weights_path` must name an existing InceptionV3 weights file (no "
                f"download happens); received {weights_path!r}.")
        if isinstance(resize, bool) or not isinstance(resize, int) \
                or resize < _INCEPTION_MIN_SIZE:
            raise ValueError(
                f"`resize` must be an int >= {_INCEPTION_MIN_SIZE}; received {resize!r}.")
        self.weights_path = os.fspath(weights_path)
        self.resize = resize
        self.feature_name = (f"InceptionV3 (weights: {self.weights_path}), "
                             f"resize {resize} bilinear")
        self.model = keras.applications.InceptionV3(
            include_top=False, pooling="avg", weights=self.weights_path,
            input_shape=(resize, resize, 3))

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        if x.shape.rank != 4 or x.shape[-1] not in (1, 3):
            raise ValueError(
                "`x` must be images [n, height, width, 1 or 3] as intensities in [0, 1]; "
                f"received shape {tuple(x.shape)}.")
        x = tf.cast(x, tf.float32)
        if x.shape[-1] == 1:
            x = tf.tile(x, [1, 1, 1, 3])
        x = tf.image.resize(x, [self.resize, self.resize], method="bilinear")
        # preprocess_input maps [0, 255] to InceptionV3's [-1, 1].
        return self.model(keras.applications.inception_v3.preprocess_input(255.0 * x))

    def get_config(self):
        return {"weights_path": self.weights_path, "resize": self.resize}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def inception_features(weights_path, resize=299):
    """InceptionV3 pool features `[n, 2048]` from a local weights file.

    Builds `keras.applications.InceptionV3(include_top=False, pooling="avg",
    weights=weights_path)`; nothing is downloaded. The returned callable
    takes images `[n, h, w, 1 or 3]` as intensities in [0, 1]: grayscale is
    tiled to 3 channels, images are resized bilinearly to `resize` x
    `resize`, and scaled to [-1, 1] as `inception_v3.preprocess_input`
    expects. Its `feature_name` records the weights file and the resize.

    Args:
      weights_path: path to InceptionV3 no-top weights (e.g. Keras'
        `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`).
      resize: side of the square input, >= 75; 299 is the size of the
        published FID/KID/IS numbers.

    Raises:
      ValueError: `weights_path` is None or not a file; a bad `resize`.

    Example:

    ```python
    fid = tfgen.metrics.FID(inception_features("/data/inception_notop.h5"))
    ```

    References:
      Szegedy et al., "Rethinking the Inception Architecture for Computer
      Vision", CVPR 2016.
    """
    return _InceptionFeatures(weights_path, resize)
