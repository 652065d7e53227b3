"""The shipped digits classifier (against the data), the digits floor, and
InceptionV3 features from a local weights file."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.data import load_data
from tfgen.metrics import (
    FID, KID, InceptionScore, digits_classifier, digits_features, digits_floor,
    digits_probabilities, features, inception_features)


@pytest.fixture(scope="module")
def digits():
    """Train and test intensities in [0, 1], and the test labels."""
    source = load_data("digits")
    return (source.arrays["train"] / 16, source.arrays["test"] / 16, source.labels["test"])


def test_shipped_classifier_is_accurate_on_the_test_split(digits):
    _, test, labels = digits
    probabilities = digits_probabilities(test).numpy()
    assert probabilities.shape == (360, 10)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
    assert np.mean(probabilities.argmax(1) == labels) >= 0.97
    assert digits_classifier() is digits_classifier()


def test_first_load_inside_a_tf_function_loads_the_weights(digits):
    _, test, _ = digits
    features._digits_feature_model.cache_clear()
    features.digits_classifier.cache_clear()
    in_graph = tf.function(digits_probabilities)(tf.constant(test[:5], tf.float32))
    reference = features.build_digits_classifier()
    reference.load_weights(features.DIGITS_WEIGHTS)
    np.testing.assert_allclose(in_graph.numpy(), reference(test[:5]).numpy(), rtol=1e-5)


def test_digits_features_take_images_or_vectors(digits):
    _, test, _ = digits
    out = digits_features(test[:20]).numpy()
    assert out.shape == (20, digits_features.feature_dim) == (20, 64)
    np.testing.assert_array_equal(digits_features(test[:20].reshape(20, 64)).numpy(), out)
    with pytest.raises(ValueError, match=r"`x` must be digits \[n, 8, 8, 1\] or \[n, 64\]"):
        digits_features(np.zeros((2, 28, 28, 1)))


def test_fid_of_train_against_test_is_small_next_to_broken_digits(digits):
    train, test, _ = digits
    shuffled = np.random.default_rng(0).permuted(test.reshape(360, 64), axis=1)
    floor, broken = FID(digits_features), FID(digits_features)
    floor.update_state(train, test)
    broken.update_state(train, shuffled)
    assert 0 < floor.result().numpy() < 0.1 * broken.result().numpy()
    assert floor.feature_name == digits_features.feature_name


def test_digits_floor_reports_every_number():
    floor = digits_floor()
    assert 0 < floor["fid_digits"] < 10
    assert abs(floor["kid_digits"]) < 3 * floor["kid_digits_stderr"]
    # Accurate predictions, nearly balanced classes: close to 10.
    assert 9 < floor["is_digits_test"] <= 10 and 9 < floor["is_digits_train"] <= 10
    assert "digits classifier" in floor["feature_name"]


@pytest.mark.parametrize("make", [
    lambda: FID(digits_features), lambda: KID(digits_features, num_subsets=5),
    lambda: InceptionScore(digits_probabilities)])
def test_metrics_on_digits_round_trip_their_config(make, digits):
    metric = make()
    copy = type(metric).from_config(metric.get_config())
    assert copy.get_config() == metric.get_config()
    assert copy.feature_name == metric.feature_name
    train, test, _ = digits
    for m in (metric, copy):
        m.update_state(*((train[:50], test[:50]) if isinstance(m, (FID, KID)) else (test,)))
    assert copy.result().numpy() == pytest.approx(metric.result().numpy(), rel=1e-12)


def test_inception_features_load_a_local_weights_file(tmp_path):
    path = str(tmp_path / "inception.weights.h5")
    reference = keras.applications.InceptionV3(
        include_top=False, pooling="avg", weights=None, input_shape=(75, 75, 3))
    reference.save_weights(path)
    extract = inception_features(path, resize=75)
    assert extract.feature_name == f"InceptionV3 (weights: {path}), resize 75 bilinear"
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(extract))
    assert (copy.weights_path, copy.resize) == (path, 75)
    gray = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    out = extract(gray).numpy()
    assert out.shape == (2, 2048) and extract.feature_dim == 2048
    np.testing.assert_allclose(extract(np.tile(gray, [1, 1, 1, 3])).numpy(), out)
    resized = keras.ops.image.resize(np.tile(gray, [1, 1, 1, 3]), (75, 75),
                                     interpolation="bilinear")
    np.testing.assert_allclose(out, reference(2.0 * resized - 1.0).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("weights_path, resize, argument", [
    (None, 299, "`weights_path`"), ("/nonexistent/inception.h5", 299, "`weights_path`"),
    (__file__, 32, "`resize`")])
def test_inception_features_refuse_bad_arguments(weights_path, resize, argument):
    with pytest.raises(ValueError, match=argument):
        inception_features(weights_path, resize)
