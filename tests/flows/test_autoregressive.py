"""MAF / IAF and the Keras 3 adapter around TFP's (Keras 2) MADE."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import flows
from tfgen.flows.made_adapter import AutoregressiveNetworkLayer

from tests.helpers import perturb


@pytest.mark.parametrize("cls", [flows.MAF, flows.IAF])
def test_adapter_exposes_every_made_variable(cls):
    model = cls([3], num_layers=2, hidden_units=[8, 8])
    wrapped = [v for made in model.mades for v in made.network.trainable_variables]
    # 3 Dense layers per MADE: kernel + bias each.
    assert len(wrapped) == 2 * 3 * 2
    assert len(model.trainable_weights) == len(wrapped) > 0
    assert {id(v) for v in model.trainable_weights} == {id(v) for v in wrapped}


def test_made_starts_like_torch_linear_layers_and_autoregressive():
    """Kernels (masked) and biases uniform on +-1/sqrt(fan_in): bounded, with
    the uniform's variance 1 / (3 fan_in); outputs depend only on earlier
    inputs."""
    made = AutoregressiveNetworkLayer(event_size=4, params=2, hidden_units=[256, 256])
    variables = made.network.trainable_variables
    for kernel, bias, mask in zip(variables[0::2], variables[1::2], made.network._masks):
        kernel, bias, fan_in = kernel.numpy(), bias.numpy(), kernel.shape[0]
        assert np.all(kernel[~mask] == 0)
        for values in (kernel[mask], bias):
            assert np.all(np.abs(values) <= fan_in ** -0.5)
        if kernel[mask].size > 20000:  # relative standard error of the variance < 0.7%
            np.testing.assert_allclose(np.var(kernel[mask]), 1 / (3 * fan_in), rtol=0.05)
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 4)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = made(x)
    jacobian = np.abs(tape.batch_jacobian(out, x).numpy()).max(axis=(0, 2))  # [out d, in d]
    assert np.all(np.triu(jacobian) == 0) and np.all(jacobian[np.tril_indices(4, -1)] > 0)


@pytest.mark.parametrize("cls", [flows.MAF, flows.IAF])
def test_trains_with_xla(cls):
    x = (np.random.default_rng(0).normal(size=(512, 3)) * [1.0, 0.2, 2.0]).astype(np.float32)
    model = cls([3], num_layers=2, hidden_units=[16])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
    history = model.fit(x, batch_size=128, epochs=3, verbose=0)
    assert history.history["nll"][-1] < history.history["nll"][0] - 0.3


def test_iaf_and_maf_directions():
    """MAF's normalizing map is one pass (TFP's inverse of the MADE flow),
    IAF's is TFP's sequential forward: each model's sampler inverts it."""
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    for cls, wrapper in ((flows.MAF, "invert"), (flows.IAF, "masked_autoregressive_flow")):
        model = perturb(cls([3], num_layers=1, hidden_units=[8]), scale=0.3)
        (step,) = model.normalizing_bijector().bijectors
        assert step.name.startswith(wrapper)
        z = model.normalizing_bijector().forward(x)
        back = model.normalizing_bijector().inverse(tf.constant(z.numpy()))
        np.testing.assert_allclose(back, x, atol=1e-5)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="event_shape"):
        flows.MAF([4, 4, 1])
    with pytest.raises(ValueError, match="permutation"):
        flows.MAF([2], permutation="shuffle")
    with pytest.raises(ValueError, match="hidden_units"):
        flows.IAF([2], hidden_units=[])


def test_permutations_between_layers():
    def orders(model):
        return [b.permutation.numpy().tolist() for b in model.normalizing_bijector().bijectors
                if b.name.startswith("permute")]

    assert orders(flows.MAF([4], num_layers=3)) == [[3, 2, 1, 0]] * 2
    assert orders(flows.MAF([4], num_layers=3, permutation="none")) == []
    random = flows.MAF([4], num_layers=3, permutation="random", permutation_seed=5)
    first = orders(random)
    assert len(first) == 2 and all(sorted(o) == [0, 1, 2, 3] for o in first)
    # Fixed by the seed, so a rebuilt (reloaded) model has the same orders.
    assert orders(flows.MAF.from_config(random.get_config())) == first
