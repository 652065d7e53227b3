"""Conditional flows: the condition reaches the conditioners, each
conditional density is a normalized, exact flow, and fit / save / sample
take conditions."""

import keras
import numpy as np
import pytest

from tfgen import flows
from tfgen.testing import check_bijector

from tests.helpers import CONDITIONAL, conditions, perturb


def _data(model, n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *model.event_shape)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_conditional_flow_is_exact_and_uses_the_condition(name):
    model = perturb(CONDITIONAL[name]())
    x, c = _data(model, 8), conditions(model, 8)
    report = check_bijector(model.normalizing_bijector(model._condition(c)), x, jacobian=False)
    assert report.ok, report.failures
    np.testing.assert_allclose(model.log_prob(x, c),
                               model.conditional_distribution(c).log_prob(x), atol=1e-5)
    other = conditions(model, 8, seed=1)
    assert np.abs(model.log_prob(x, c) - model.log_prob(x, other)).max() > 1e-3
    # One condition for every sample, or one per sample.
    one = c[0]
    np.testing.assert_allclose(model.sample(4, one, seed=2),
                               model.sample(4, np.stack([one] * 4), seed=2), atol=1e-6)


@pytest.mark.parametrize("name", ["realnvp", "iaf"])
def test_each_conditional_density_integrates_to_one(name):
    model = perturb(CONDITIONAL[name](), scale=0.2)
    grid = np.linspace(-12, 12, 401)
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
    for label in range(3):
        labels = np.full(len(points), label, np.int32)
        log_p = model.log_prob(points, labels).numpy().astype(np.float64)
        assert abs(np.exp(log_p).sum() * (grid[1] - grid[0]) ** 2 - 1.0) < 0.01


# One per conditioner kind (MLP coupling, MADE, conv coupling): suite time.
@pytest.mark.parametrize("name", ["realnvp", "maf", "glow"])
def test_fit_learns_the_condition_and_save_load_is_identical(name, tmp_path):
    """Data whose mean is set by the condition: after fit, each example is
    more likely under its own condition than under a shuffled one."""
    model = CONDITIONAL[name]()
    c = conditions(model, 512)
    offset = (c.astype(np.float32) - 1.0 if model.num_classes else c[:, 0]) * 2.0
    x = 0.3 * _data(model, 512) + offset.reshape([-1] + [1] * len(model.event_shape))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, c, batch_size=64, epochs=4, verbose=0)
    # An unconditional model scores both alike: the gap would be 0.
    shuffled = np.random.default_rng(5).permutation(c)
    assert np.mean(model.log_prob(x, c)) > np.mean(model.log_prob(x, shuffled)) + 0.2

    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.log_prob(x[:16], c[:16]), model.log_prob(x[:16], c[:16]))
    np.testing.assert_array_equal(loaded.sample(3, c[:3], seed=1), model.sample(3, c[:3], seed=1))
    assert loaded.get_config() == model.get_config()


def test_conditions_are_required_exactly_for_conditional_flows():
    conditional, plain = CONDITIONAL["realnvp"](), flows.RealNVP([2], num_couplings=1,
                                                                  hidden_units=[4])
    x = np.zeros([2, 2], np.float32)
    with pytest.raises(ValueError, match="conditional: pass `condition`"):
        conditional.log_prob(x)
    with pytest.raises(ValueError, match="unconditional"):
        plain.log_prob(x, np.zeros([2], np.int32))
    with pytest.raises(ValueError, match=r"`condition` must have shape \[batch, 2\]"):
        CONDITIONAL["maf"]().log_prob(x, np.zeros([2, 3], np.float32))


@pytest.mark.parametrize("make", [
    lambda: flows.MAF([3], num_layers=2, hidden_units=[8], condition_shape=[2]),
    lambda: flows.IAF([3], num_layers=2, hidden_units=[8], num_classes=4),
    lambda: flows.Glow([8, 8, 1], num_levels=2, num_steps=2, hidden_channels=4,
                       condition_shape=[2]),
], ids=["maf", "iaf", "glow_8x8x1"])
def test_float64_exactness_with_conditions(make, float64):
    """The models' own bijectors, built in float64, against the numerical
    Jacobian; Glow on an 8x8x1 input after ActNorm initialization."""
    model = perturb(make(), scale=0.3)
    x = 1.5 * np.random.default_rng(1).normal(size=(4, *model.event_shape))
    model.initialize(x, conditions(model, 4, seed=9))
    c = conditions(model, 4)
    report = check_bijector(model.normalizing_bijector(model._condition(c)), x)
    assert report.ok, report.failures
    assert report.log_det_jacobian_error < 1e-8
    assert report.round_trip_error < 1e-10
