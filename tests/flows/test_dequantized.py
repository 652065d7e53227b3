"""Flows of discrete data (a `dequantizer`): metrics in the discrete data's
bits/dim, the same figure `tfgen eval` reports, and the dequantizer saved
with the model."""

import math

import keras
import numpy as np
import pytest

from tfgen import data, flows

from tests.helpers import perturb


@pytest.fixture(scope="module")
def digits():
    return data.digits(flatten=True)


def test_training_metrics_are_the_discrete_bits_per_dim(digits, tmp_path):
    model = perturb(flows.MAF([64], num_layers=1, hidden_units=[8],
                              dequantizer=digits.dequantizer), scale=0.02)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # the weights stay put
    (x,) = digits.dataset("test", 360).take(1)
    metrics = digits.metrics(model)  # what `tfgen eval` reports
    result = model.evaluate(x, batch_size=360, return_dict=True, verbose=0)
    history = model.fit(x.numpy(), batch_size=360, epochs=1, verbose=0).history
    for bits in (result["bits_per_dim"], history["bits_per_dim"][0]):
        assert bits == pytest.approx(metrics["bits_per_dim"], rel=1e-5)
    # ... which is not the model-space figure: the logit's log-det is in it.
    assert abs(result["nll"] / (64 * math.log(2)) - result["bits_per_dim"]) > 0.5
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.dequantizer.get_config() == {"levels": 17, "logit_alpha": 0.05}


def test_levels_round_trip_through_model_space():
    deq = data.Dequantizer(17, 0.05)
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 17, size=(200, 3))
    noise = rng.uniform(0.0, 1.0, size=(200, 3)).astype(np.float32)
    np.testing.assert_array_equal(deq.to_levels(deq.to_model(levels, noise)), levels)
    assert deq.to_levels(np.array([[-50.0, 50.0]], np.float32)).numpy().tolist() == [[0, 16]]


def test_float64_flow_of_discrete_data(float64, digits, tmp_path):
    model = flows.NICE([64], num_couplings=1, hidden_units=[4],
                       dequantizer=digits.dequantizer)
    model.compile(optimizer="adam")
    history = model.fit(digits.dataset("train", 64).take(2), verbose=0).history
    assert np.isfinite(history["bits_per_dim"][0])
    samples = model.sample(3, seed=0)
    assert samples.dtype == "float64"
    assert model.dequantizer.to_levels(samples).dtype == "int32"
    from tfgen.export import export

    export(model, tmp_path / "e")  # the pixel signatures trace in float64
