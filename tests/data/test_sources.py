"""Digits, dequantization bits/dim, user files, TFDS loaders, bad input."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfgen import data


def test_digits_split_and_ranges():
    train, validation, test = data.digits_split()
    assert (len(train), len(validation), len(test)) == (1257, 180, 360)
    assert train.shape[1:] == (8, 8, 1) and train.min() == 0 and train.max() == 16
    from sklearn.datasets import load_digits
    images = load_digits().images
    order = np.random.default_rng(0).permutation(1797)
    np.testing.assert_array_equal(test[..., 0], images[order[:360]])


class _UniformOnUnitCube:
    """The density 1 on [0, 1)^D, seen in the source's model space."""

    def __init__(self, dequantizer, event_ndims):
        self.dequantizer, self.event_ndims = dequantizer, event_ndims

    def log_prob(self, z):
        # log p_z(z) = log p_y(y) + log|dy/dz| = 0 + ildj of y -> z at z.
        ildj = self.dequantizer.bijector.inverse_log_det_jacobian(z, event_ndims=self.event_ndims)
        return tf.zeros(tf.shape(z)[:1]) + ildj  # Identity gives a scalar 0


@pytest.mark.parametrize("logit_alpha", [None, 0.05])
def test_uniform_model_scores_log2_17_bits_per_dim(logit_alpha):
    source = data.digits(logit_alpha=logit_alpha)
    metrics = source.metrics(_UniformOnUnitCube(source.dequantizer, 3))
    assert metrics["num_examples"] == 360
    assert metrics["bits_per_dim"] == pytest.approx(math.log2(17), abs=1e-5)


def test_dequantized_values_stay_in_their_bins():
    source = data.digits(logit_alpha=0.05)
    z = np.concatenate([b.numpy() for b in source.dataset("test", 100)])
    y = source.to_pixels(z)  # back in [0, 1)
    x = data.digits_split()[2].astype(np.float64)
    noise = y * 17 - x  # the dequantization noise, in [0, 1) up to round-off
    assert noise.min() > -1e-3 and noise.max() < 1 + 1e-3
    assert 0.4 < noise.mean() < 0.6
    # Evaluation noise is fixed: two passes agree exactly.
    z2 = np.concatenate([b.numpy() for b in source.dataset("test", 100)])
    np.testing.assert_array_equal(z, z2)


def test_file_sources(tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 3))
    np.save(tmp_path / "x.npy", x)
    source = data.load_data(str(tmp_path / "x.npy"))
    assert source.event_shape == [3]
    rows = np.concatenate([b.numpy() for b in source.dataset("all", 16)])
    np.testing.assert_allclose(np.sort(rows, 0), np.sort(x, 0).astype(np.float32))
    np.savez(tmp_path / "s.npz", train=x[:30], validation=x[30:40], test=x[40:])
    split = data.load_data(str(tmp_path / "s.npz"))
    assert sum(len(b) for b in split.dataset("test", 4)) == 10


def test_non_finite_data_is_refused_naming_the_row(tmp_path):
    x = np.zeros((20, 2))
    x[7, 1] = np.inf
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(ValueError, match="non-finite.*row 7"):
        data.load_data(str(tmp_path / "bad.npy"))


@pytest.mark.parametrize("name,match", [("moons", "Unknown data 'moons'"),
                                        ("/no/such.npy", "is not a file"),
                                        ("tfds:imagenet", "imagenet")])
def test_unknown_data_names(name, match):
    with pytest.raises(ValueError, match=match):
        data.load_data(name)


@pytest.mark.parametrize("name,shape", sorted(data.TFDS_DATASETS.items()))
def test_tfds_loaders_with_mock_data(name, shape):
    with tfds.testing.mock_data(num_examples=12):
        source = data.load_data(f"tfds:{name}")
        batch = next(iter(source.dataset("train", 4)))
        assert batch.shape == [4, *shape] and batch.dtype == tf.float32
        assert np.all(np.isfinite(batch))
        model = _UniformOnUnitCube(source.dequantizer, 3)
        metrics = source.metrics(model, "test", batch_size=5)
    assert metrics["num_examples"] == 12
    assert metrics["bits_per_dim"] == pytest.approx(8.0, abs=1e-4)


def _counting_source(n=50, classes=3):
    """Example i is the number i, labeled i % classes."""
    x = np.arange(n, dtype=np.float32)[:, None]
    splits = {"train": x, "validation": x[:4], "test": x[:4]}
    labels = {split: (array[:, 0] % classes).astype(np.int32) for split, array in splits.items()}
    return data.ArraySource("count", splits, labels=labels, num_classes=classes)


def test_training_batches_cover_each_pass_once_in_fresh_orders():
    source = _counting_source()
    epoch = source.dataset("train", 16, labels=True)
    assert int(epoch.cardinality()) == 4
    passes = []
    for _ in range(2):
        batches = list(epoch)
        assert [len(x) for x, _ in batches] == [16, 16, 16, 2]  # the last one partial
        x = np.concatenate([x.numpy()[:, 0] for x, _ in batches])
        y = np.concatenate([y.numpy() for _, y in batches])
        np.testing.assert_array_equal(np.sort(x), np.arange(50))
        np.testing.assert_array_equal(y, x % 3)  # labels travel with their examples
        passes.append(x)
    assert not np.array_equal(*passes)  # a new order at every iteration

    # Repeated passes: full batches of a static shape, no example twice in a pass.
    stream = source.dataset("train", 16, seed=1, repeat=True)
    assert stream.element_spec.shape == [16, 1]
    values = np.stack([b.numpy()[:, 0] for b in stream.take(9)]).reshape(3, 48)
    assert all(len(set(p)) == 48 for p in values) and len({tuple(p) for p in values}) == 3
    again = np.stack([b.numpy()[:, 0] for b in source.dataset("train", 16, seed=1,
                                                                repeat=True).take(9)])
    np.testing.assert_array_equal(again.reshape(3, 48), values)  # deterministic in the seed
    other = np.stack([b.numpy()[:, 0] for b in source.dataset("train", 16, seed=2,
                                                                repeat=True).take(3)])
    assert not np.array_equal(other.reshape(48), values[0])


def test_digits_training_batches_are_dequantized_in_their_bins():
    source = data.digits(logit_alpha=0.05)
    (x,) = source.dataset("train", 1257, shuffle=False).take(1)
    noise = source.to_pixels(x) * 17 - data.digits_split()[0]
    assert noise.min() > -1e-3 and noise.max() < 1 + 1e-3 and 0.45 < noise.mean() < 0.55
