"""`ConditionedMLP`: the condition reaches every layer."""

import keras
import numpy as np
import tensorflow as tf

from tfgen.models import ConditionedMLP


def test_the_condition_reaches_layers_after_the_first():
    net = ConditionedMLP(3, 2, [8, 8], 4)
    # Cut the condition out of the first layer: the output still depends on it.
    first = net.dense_layers[0].kernel
    first.assign(tf.concat([first[:3], tf.zeros_like(first[3:])], axis=0))
    x = np.ones([5, 3], np.float32)
    a, b = net(x, np.zeros([5, 2], np.float32)), net(x, np.ones([5, 2], np.float32))
    assert not np.allclose(a, b)
    assert [layer.kernel.shape for layer in net.dense_layers] == [(5, 8), (10, 8), (10, 4)]


def test_unconditional_is_a_plain_mlp_and_round_trips_its_config():
    net = ConditionedMLP(3, 0, [4], 2)
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    w0, b0 = net.dense_layers[0].kernel.numpy(), net.dense_layers[0].bias.numpy()
    w1, b1 = net.dense_layers[1].kernel.numpy(), net.dense_layers[1].bias.numpy()
    np.testing.assert_allclose(net(x), np.maximum(x @ w0 + b0, 0) @ w1 + b1, rtol=1e-5)
    clone = ConditionedMLP.from_config(net.get_config())
    assert clone.get_config() == net.get_config()
    assert isinstance(clone, keras.layers.Layer) and len(clone.weights) == 4
