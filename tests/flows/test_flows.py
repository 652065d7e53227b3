"""Every flow model through the same checks: density, fit, save/load, sampling."""

import keras
import numpy as np
import pytest

from tfgen import flows
from tfgen.errors import NonFiniteLossError
from tfgen.testing import check_bijector

from tests.helpers import perturb

# name -> constructor; small sizes keep the tests fast.
FLOWS = {
    "planar": lambda: flows.Planar([2], num_layers=4),
    "radial": lambda: flows.Radial([2], num_layers=4),
    "nice": lambda: flows.NICE([2], num_couplings=4, hidden_units=[16]),
    "realnvp": lambda: flows.RealNVP([2], num_couplings=4, hidden_units=[16]),
    "realnvp_image": lambda: flows.RealNVP([4, 4, 2], num_couplings=2, hidden_units=[4]),
    "realnvp_spline": lambda: flows.RealNVP([2], num_couplings=2, hidden_units=[16],
                                            transform="spline", num_bins=6),
    "maf": lambda: flows.MAF([2], num_layers=3, hidden_units=[16]),
    "iaf": lambda: flows.IAF([2], num_layers=3, hidden_units=[16]),
    "glow": lambda: flows.Glow([4, 4, 1], num_levels=2, num_steps=1, hidden_channels=4),
    "maf_spline": lambda: flows.MAF([2], num_layers=1, hidden_units=[16], transform="spline",
                                    num_bins=5),
}


def _data(model, n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *model.event_shape)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_flow_is_exact_bijector_and_distribution(name):
    model = perturb(FLOWS[name]())
    x = _data(model, 8)
    report = check_bijector(model.normalizing_bijector(), x, jacobian=False)
    assert report.ok, report.failures
    # log_prob agrees with the TFP distribution built from `bijector`.
    np.testing.assert_allclose(model.log_prob(x), model.distribution.log_prob(x),
                               rtol=1e-5, atol=1e-5)
    assert model.log_prob(x).shape == [8]


@pytest.mark.parametrize("name", ["planar", "radial", "nice", "realnvp", "realnvp_spline",
                                  "maf", "iaf", "maf_spline"])
def test_2d_density_integrates_to_one(name):
    keras.utils.set_random_seed(0)
    model = perturb(FLOWS[name](), scale=0.2)
    # Perturbed flows can put ~1% of their mass beyond |x| = 8: integrate wide.
    grid = np.linspace(-16, 16, 641)
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
    mass = np.exp(model.log_prob(points).numpy().astype(np.float64)).sum() * (grid[1] - grid[0]) ** 2
    assert abs(mass - 1.0) < 0.01


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_fit_lowers_nll_and_save_load_is_identical(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = FLOWS[name]()
    x = 0.5 * _data(model, 256) + 0.3
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    # NLL by eager log_prob: tracing test_step too would double the time.
    before = -np.mean(model.log_prob(x))
    history = model.fit(x, batch_size=64, epochs=3, verbose=0)
    assert set(history.history) == {"nll", "bits_per_dim"}
    assert -np.mean(model.log_prob(x)) < before - 0.05
    np.testing.assert_allclose(
        history.history["bits_per_dim"][-1],
        history.history["nll"][-1] / (np.prod(model.event_shape) * np.log(2)), rtol=1e-5)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.log_prob(x), model.log_prob(x))
    np.testing.assert_array_equal(loaded.sample(5, seed=3), model.sample(5, seed=3))
    assert loaded.get_config() == model.get_config()


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_sample_is_deterministic_and_in_support(name):
    model = perturb(FLOWS[name](), scale=0.1)
    a, b, c = model.sample(6, seed=7), model.sample(6, seed=7), model.sample(6, seed=8)
    assert a.shape == [6, *model.event_shape]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.all(np.isfinite(model.log_prob(a)))


def test_sample_and_log_prob_agree_in_distribution():
    """The sampler draws from the density log_prob defines: the entropy
    -E_q[log q] estimated from the model's own samples equals the entropy
    integrated on a grid from log_prob alone."""
    keras.utils.set_random_seed(0)
    model = perturb(flows.RealNVP([2], num_couplings=4, hidden_units=[16]), scale=0.2)
    samples = model.sample(20000, seed=1)
    log_q_samples = model.log_prob(samples).numpy().astype(np.float64)
    entropy_from_samples = -np.mean(log_q_samples)
    standard_error = np.std(log_q_samples) / np.sqrt(len(log_q_samples))
    grid = np.linspace(-16, 16, 641)
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
    log_q = model.log_prob(points).numpy().astype(np.float64)
    entropy_from_grid = -np.sum(np.exp(log_q) * log_q) * (grid[1] - grid[0]) ** 2
    assert abs(entropy_from_samples - entropy_from_grid) < max(0.03, 4 * standard_error)


def test_multiscale_realnvp_structure():
    model = flows.RealNVP([8, 8, 1], num_couplings=3, hidden_units=[8])
    assert model.num_scales == 2
    # 2 levels x (3 checkerboard + 3 channel) + 4 final checkerboard couplings.
    assert len(model.couplings) == 16
    assert [c.event_shape for c in model.couplings[::3]][:4] == [
        [8, 8, 1], [4, 4, 4], [4, 4, 2], [2, 2, 8]]
    # Identity at initialization: zero-initialized conditioner outputs.
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(model.normalizing_bijector().forward(x), x, atol=1e-6)


@pytest.mark.parametrize("make,match", [
    (lambda: flows.RealNVP([2], hidden_units=[0]), "hidden_units"),
    (lambda: flows.RealNVP([2], num_couplings=0), "num_couplings"),
    (lambda: flows.RealNVP([2, 3]), "event_shape"),
    (lambda: flows.RealNVP([2], log_scale_bound=-1.0), "log_scale_bound"),
    (lambda: flows.RealNVP([8, 8, 1], num_scales=4), "num_scales"),
    (lambda: flows.Planar([4, 4, 1]), "event_shape"),
    (lambda: flows.Radial([2], num_layers=-2), "num_layers"),
    (lambda: flows.Glow([2]), "event_shape"),
    (lambda: flows.Glow([6, 6, 1], num_levels=2), "num_levels"),
    (lambda: flows.Glow([8, 8, 1], hidden_channels=0), "hidden_channels"),
    (lambda: flows.Planar([2], num_classes=3), "no conditional form"),
    (lambda: flows.MAF([2], num_classes=3, condition_shape=[2]), "not both"),
])
def test_invalid_hyperparameters_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_input_shape_names_x():
    model = flows.RealNVP([2], num_couplings=2, hidden_units=[4])
    with pytest.raises(ValueError, match=r"`x` must have shape \[batch, 2\].*\[4, 3\]"):
        model.log_prob(np.zeros([4, 3], np.float32))


def test_non_finite_loss_stops_training_naming_the_step():
    model = flows.RealNVP([2], num_couplings=2, hidden_units=[4])
    model.compile(optimizer="adam")
    x = np.zeros([16, 2], np.float32)
    x[11, 1] = 1e30  # finite data whose log-density overflows: in the second batch
    with pytest.raises(NonFiniteLossError, match="loss .* is not finite at step 2") as caught:
        model.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert caught.value.step == 2
    # The failing step applied no update: a NaN gradient would show in the weights.
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_non_finite_loss_stops_training_under_xla():
    """XLA drops the step's assertion: the loss is checked after each execution."""
    model = flows.RealNVP([2], num_couplings=2, hidden_units=[4])
    model.compile(optimizer="adam", jit_compile=True)
    x = np.zeros([32, 2], np.float32)
    x[11, 1] = 1e30
    with pytest.raises(NonFiniteLossError, match="not finite by step 2 .under XLA"):
        model.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False)


def test_fit_traces_the_train_step_once(monkeypatch):
    """`Flow.fit` builds the optimizer first, so tf.function does not trace
    `train_step` a second time after creating the optimizer's variables."""
    traces = []
    train_step = flows.Flow.train_step

    def counting_train_step(self, data):
        traces.append(data)  # Python side effect: runs once per trace.
        return train_step(self, data)

    monkeypatch.setattr(flows.Flow, "train_step", counting_train_step)
    model = flows.NICE([2], num_couplings=2, hidden_units=[4])
    model.compile(optimizer="adam")
    model.fit(_data(model, 32), batch_size=8, epochs=2, verbose=0)
    assert len(traces) == 1
