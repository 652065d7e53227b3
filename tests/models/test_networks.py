"""The shared networks: `ConditionedMLP` (the condition reaches every
layer), the conv encoders and decoders, `Upsample2D`, and the U-Net's init."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.models import ConditionedMLP
from tfgen.models.networks import ConditionedConvDecoder


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


def test_upsample_repeats_each_value_and_its_gradient_compiles_under_xla():
    from tfgen.models.networks import Upsample2D

    x = tf.reshape(tf.range(4.0), [1, 2, 2, 1])
    np.testing.assert_array_equal(Upsample2D(2)(x)[0, :, :, 0],
                                  [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])

    @tf.function(jit_compile=True)
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(Upsample2D(3)(x) * tf.reshape(tf.range(36.0), [1, 6, 6, 1]))
        return tape.gradient(y, x)

    # d/dx_ij of sum_k w_k y_k: the sum of the weights of its 3x3 copies.
    expected = np.arange(36.0).reshape(2, 3, 2, 3).sum(axis=(1, 3))
    np.testing.assert_allclose(gradient(x)[0, :, :, 0], expected)


def test_conv_encoder_and_decoder_shapes_and_the_condition_in_later_blocks():
    from tfgen.models.networks import ConditionedConvDecoder, ConditionedConvEncoder

    encoder = ConditionedConvEncoder([8, 8, 1], 3, [4, 8], [16], 6)
    decoder = ConditionedConvDecoder(5, 3, [8, 8, 1], [4, 8], [16], 17)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    c0, c1 = np.zeros([2, 3], np.float32), np.eye(3, dtype=np.float32)[:2]
    assert encoder(x, c0).shape == (2, 6)
    assert decoder(np.zeros([2, 5], np.float32), c0).shape == (2, 8, 8, 17)
    # Cut the condition out of the MLP head: it still reaches the conv blocks.
    for net in (encoder, decoder):
        for layer in net.head.dense_layers:
            kernel = layer.kernel
            width = kernel.shape[0] - 3
            kernel.assign(tf.concat([kernel[:width], tf.zeros_like(kernel[width:])], axis=0))
    assert not np.allclose(encoder(x, c0), encoder(x, c1))
    z = np.ones([2, 5], np.float32)
    assert not np.allclose(decoder(z, c0), decoder(z, c1))
    clone = ConditionedConvDecoder.from_config(decoder.get_config())
    assert [w.shape for w in clone.weights] == [w.shape for w in decoder.weights]


def test_conv_networks_refuse_sizes_they_cannot_halve():
    from tfgen.models.networks import ConditionedConvEncoder

    with pytest.raises(ValueError, match="divisible by"):
        ConditionedConvEncoder([6, 6, 1], 0, [4, 8], [16], 6)


def test_conv_grid_encoder_and_decoder_shapes_the_condition_and_config():
    from tfgen.models.networks import ConditionedConvGridDecoder, ConditionedConvGridEncoder

    encoder = ConditionedConvGridEncoder([8, 8, 1], 3, [4, 8], 5)
    decoder = ConditionedConvGridDecoder(5, 3, [4, 8], 17)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    c0, c1 = np.zeros([2, 3], np.float32), np.eye(3, dtype=np.float32)[:2]
    grid = encoder(x, c0)
    assert grid.shape == (2, 2, 2, 5)
    assert decoder(grid, c0).shape == (2, 8, 8, 17)
    assert ConditionedConvGridEncoder([8, 8, 1], 0, [4], 5)(x).shape == (2, 4, 4, 5)
    # The condition reaches the last block of each (the first blocks' offsets cut).
    for net in (encoder, decoder):
        for layer in net.condition_layers[:-1]:
            layer.kernel.assign(tf.zeros_like(layer.kernel))
    assert not np.allclose(encoder(x, c0), encoder(x, c1))
    assert not np.allclose(decoder(grid, c0), decoder(grid, c1))
    for net in (encoder, decoder):
        clone = type(net).from_config(net.get_config())
        assert clone.get_config() == net.get_config()
        assert [w.shape for w in clone.weights] == [w.shape for w in net.weights]
    with pytest.raises(ValueError, match="channels"):
        ConditionedConvGridDecoder(5, 0, [], 17)


def test_a_batch_normalized_decoder_normalizes_with_batch_statistics_in_training():
    net = ConditionedConvDecoder(4, 0, [8, 8, 1], [4, 8], [], 1, normalization="batch")
    z = np.random.default_rng(0).normal(size=(256, 4)).astype(np.float32)
    grid = keras.ops.reshape(net.head(z), [256, *net.grid])
    normalized = np.asarray(net.head_norm(grid, training=True))
    np.testing.assert_allclose(normalized.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    variance = np.asarray(grid).var(axis=(0, 1, 2))  # (x - m) / sqrt(v + eps), eps 1e-3
    np.testing.assert_allclose(normalized.var(axis=(0, 1, 2)), variance / (variance + 1e-3),
                               rtol=1e-4)
    # The call moved the averages (from 0 and 1) a tenth of the way (momentum
    # 0.9); inference normalizes with them.
    norm = net.head_norm
    mean = np.asarray(grid).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(norm.moving_mean, 0.1 * mean, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(norm.moving_variance, 0.9 + 0.1 * variance, rtol=1e-4)
    expected = (np.asarray(grid) - 0.1 * mean) / np.sqrt(0.9 + 0.1 * variance + 1e-3)
    np.testing.assert_allclose(norm(grid, training=False), expected, rtol=1e-4, atol=1e-6)
    assert net(z, training=True).shape == (256, 8, 8, 1)
    with pytest.raises(ValueError, match="`normalization` must be one of"):
        ConditionedConvDecoder(4, 0, [8, 8, 1], [4, 8], [], 1, normalization="layer")


def _fan_in(layer):
    """The fan_in PyTorch's Linear / Conv2d would give this weight."""
    if isinstance(layer, keras.layers.MultiHeadAttention):
        # q, k, v: Linear(C, C); out: Linear(heads * key_dim = C, C).
        return layer.num_heads * layer.key_dim
    return int(np.prod(layer.kernel.shape[:-1]))


def test_unet_weights_start_as_pytorch_layers_do():
    from tfgen.models.networks import UNet

    net = UNet([8, 8, 1], 3, channels=[16, 32], attention_resolutions=[4], groups=8)
    standardized, seen = [], set()
    for layer in net._flatten_layers():
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense,
                                  keras.layers.MultiHeadAttention)):
            continue
        for weight in layer.weights:
            if id(weight) in seen:
                continue
            seen.add(id(weight))
            bound = _fan_in(layer) ** -0.5
            values = weight.numpy().ravel() / bound
            assert np.abs(values).max() <= 1.0, weight.path
            standardized.append(values)
    values = np.concatenate(standardized)
    # U(-1, 1): mean 0, variance 1/3; ~60k values, so 5 standard errors
    # are about 0.012 for the mean and 0.005 for the variance.
    assert values.size > 20_000
    assert abs(values.mean()) < 0.012
    assert abs(values.var() - 1 / 3) < 0.005


@pytest.mark.parametrize("channels", [8, 16])
def test_unet_group_norm_is_keras_group_normalization(channels):
    from tfgen.models.networks.unet import GroupNorm

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(3, 4, 4, channels)) * 3 + 1).astype(np.float32)
    ours, keras_norm = (layer(8, epsilon=1e-5) for layer in (
        GroupNorm, keras.layers.GroupNormalization))
    for layer in (ours, keras_norm):
        layer.build(x.shape)
        layer.set_weights([rng.normal(size=channels), rng.normal(size=channels)] if layer is ours
                          else ours.get_weights())
    np.testing.assert_allclose(ours(x), keras_norm(x), rtol=1e-4, atol=1e-5)
