"""Test set-up: two logical CPU devices (for MirroredStrategy tests), set
before TensorFlow initializes its devices."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def float64():
    """Models built inside the test are float64 (Keras 3 and TFP's tf_keras)."""
    import tf_keras

    # Keras caches its global dtype policy at the first layer: set both.
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    tf_keras.backend.set_floatx("float64")  # TFP's MADE is a tf_keras layer
    yield
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")
    tf_keras.backend.set_floatx("float32")


@pytest.fixture
def mixed_bfloat16():
    """Models built inside the test compute in bfloat16 with float32 variables."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def mirrored():
    """One MirroredStrategy over the two logical CPUs for every test:
    separate MirroredStrategy objects in one process reuse collective
    instance keys, and a later model's all-reduce can then meet an earlier
    one's shapes."""
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])


@pytest.fixture(autouse=True)
def _seed_everything():
    """Each test starts from the same Python, NumPy, TF and Keras seeds, so
    weight initializations (and the tests' outcomes) are reproducible."""
    keras.utils.set_random_seed(0)


# Files whose tests run longest (a subprocess, CLI trainings) go first, so
# that the `pytest -n 2` workers of `make test` finish together.
_LONGEST_FIRST = ("test_readme.py", "test_export.py", "test_cli_errors.py", "test_cli.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name not in _LONGEST_FIRST)
