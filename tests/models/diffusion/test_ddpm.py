"""DDPM on the family contract: the bound against the exact likelihood of a
linear-Gaussian model, the discretized decoder, the one-device update under
MirroredStrategy, guidance, samples, `.keras` with the EMA, exports, mixed
precision, bad input, and `tfgen train`."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import data, export
from tfgen.cli import main
from tfgen.errors import NonFiniteLossError
from tfgen.models.diffusion import DDPM, DiffusionSchedule, likelihood

from tests.helpers import assert_same_state, served_without_tfgen

tfd = tfp.distributions


@pytest.fixture(scope="module")
def moons():
    return data.load_data("two_moons").arrays["train"][:256].astype(np.float32)


@pytest.fixture(scope="module")
def digits():
    return data.load_data("digits")


def _small(**kwargs):
    return DDPM([2], hidden_units=[16, 16], num_timesteps=50, **kwargs)


def _compile(model, lr=1e-3, **kwargs):
    model.compile(optimizer=keras.optimizers.Adam(lr), **kwargs)
    return model


def test_normal_kl_and_gaussian_log_likelihood_match_tfp():
    m1, v1, m2, v2 = 0.3, 0.5, -0.2, 1.7
    expected = tfd.kl_divergence(tfd.Normal(m1, v1 ** 0.5), tfd.Normal(m2, v2 ** 0.5))
    np.testing.assert_allclose(likelihood.normal_kl(m1, v1, m2, v2), expected, rtol=1e-6)
    np.testing.assert_allclose(likelihood.gaussian_log_likelihood(0.4, m2, v2),
                               tfd.Normal(m2, v2 ** 0.5).log_prob(0.4), rtol=1e-6)


@pytest.mark.parametrize("mean, std", [(0.1, 0.05), (0.9, 0.3), (-1.4, 0.02), (3.0, 0.5)])
def test_discretized_decoder_is_the_bin_mass_and_sums_to_one(mean, std):
    levels = 17
    x = tf.constant(np.linspace(-1, 1, levels), tf.float64)
    log_p = likelihood.discretized_gaussian_log_likelihood(x, mean, std, levels).numpy()
    np.testing.assert_allclose(np.sum(np.exp(log_p)), 1.0, rtol=1e-9)
    normal = tfd.Normal(tf.constant(mean, tf.float64), std)
    edges = np.concatenate([[-np.inf], (x[:-1] + x[1:]) / 2, [np.inf]])
    mass = normal.cdf(edges[1:]) - normal.cdf(edges[:-1])
    np.testing.assert_allclose(np.exp(log_p), mass, atol=1e-12)
    assert np.all(np.isfinite(log_p))  # far bins stay finite


def _linear_gaussian_model(schedule, m, s, variance):
    """The optimal x0 predictor of data N(m, s^2) (per dimension), and the
    exact marginal of x under the reverse chain it defines: every step is
    linear-Gaussian, so p(x) is N(mean, var), propagated from N(0, 1)."""
    abar = np.cumprod(1 - schedule.betas.numpy().astype(np.float64))
    a, sig2 = np.sqrt(abar), 1 - abar

    def gain(t):  # E[x | z_t] = m + k_t (z_t - a_t m)
        return a[t] * s ** 2 / (a[t] ** 2 * s ** 2 + sig2[t])

    def predict_x0(z, t):
        k = tf.gather(tf.constant([gain(t) for t in range(len(a))], tf.float64), t)[:, None]
        at = tf.gather(tf.constant(a), t)[:, None]
        return m + k * (z - at * m)

    mean, var = 0.0, 1.0
    for t in range(len(a) - 1, 0, -1):
        beta = 1 - abar[t] / abar[t - 1]
        c0 = np.sqrt(abar[t - 1]) * beta / sig2[t]
        c1 = np.sqrt(1 - beta) * sig2[t - 1] / sig2[t]
        step_var = sig2[t - 1] / sig2[t] * beta if variance == "fixed_small" else beta
        k = gain(t)
        mean = (c0 * k + c1) * mean + c0 * m * (1 - k * a[t])
        var = (c0 * k + c1) ** 2 * var + step_var
    decoder_var = sig2[0] / sig2[1] * (1 - abar[1] / abar[0])
    k = gain(0)
    return predict_x0, m + k * (mean - a[0] * m), k ** 2 * var + decoder_var


def _expected_bound(schedule, m, s, variance, dims):
    """E over x ~ N(m, s^2) and z of the bound, term by term in closed
    form: with the optimal predictor, E (x - x0_hat(z_t))^2 is the
    posterior variance P_t = s^2 sig_t^2 / (a_t^2 s^2 + sig_t^2)."""
    abar = np.cumprod(1 - schedule.betas.numpy().astype(np.float64))
    a2, sig2 = abar, 1 - abar
    post = s ** 2 * sig2 / (a2 * s ** 2 + sig2)
    total = 0.5 * (-np.log(sig2[-1]) + sig2[-1] + a2[-1] * (s ** 2 + m ** 2) - 1)  # prior
    for t in range(1, len(abar)):
        beta = 1 - abar[t] / abar[t - 1]
        c0 = np.sqrt(abar[t - 1]) * beta / sig2[t]
        true_var = sig2[t - 1] / sig2[t] * beta
        model_var = true_var if variance == "fixed_small" else beta
        total += 0.5 * (np.log(model_var / true_var) + (true_var + c0 ** 2 * post[t]) / model_var
                        - 1)
    decoder_var = sig2[0] / sig2[1] * (1 - abar[1] / abar[0])
    total += 0.5 * (np.log(2 * np.pi * decoder_var) + post[0] / decoder_var)
    return dims * total


@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
def test_bound_is_its_closed_form_and_above_the_exact_nll(variance):
    """Data N(0.5, 0.8^2) in 2D and the predictor that is optimal for it:
    the bound's mean is its closed form, and, the reverse chain being
    linear-Gaussian with p(x) known exactly, above that NLL (Monte Carlo
    error allowed)."""
    schedule = DiffusionSchedule("linear", num_timesteps=200, beta_end=0.1)
    predict_x0, mean, var = _linear_gaussian_model(schedule, 0.5, 0.8, variance)
    x = tf.constant(np.random.default_rng(0).normal(0.5, 0.8, size=(4000, 2)))
    bound = likelihood.variational_bound(schedule, predict_x0, x, tf.constant([1, 2]),
                                         variance).numpy()
    stderr = bound.std() / np.sqrt(len(bound))
    assert abs(bound.mean() - _expected_bound(schedule, 0.5, 0.8, variance, 2)) < 3 * stderr
    exact = -np.sum(tfd.Normal(mean, var ** 0.5).log_prob(x).numpy(), axis=-1)
    gap = bound - exact
    assert gap.mean() > -3 * gap.std() / np.sqrt(len(gap))


def test_training_lowers_the_loss_and_the_bound_reports_bits(moons):
    model = _compile(_small())
    history = model.fit(moons, batch_size=64, epochs=8, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    bound = model.nll_bounds(moons[:32])["vlb"]
    assert bound.shape == (32,) and np.all(np.isfinite(bound))
    np.testing.assert_allclose(model.bits_per_dim(bound, moons[:32]), bound / (2 * np.log(2)),
                               rtol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(), dict(num_classes=3, prediction_type="v")])
def test_mirrored_training_makes_the_one_device_update(moons, mirrored, kwargs):
    labels = np.arange(64, dtype=np.int32) % 3
    y = labels if kwargs.get("num_classes") else None
    one = _compile(_small(**kwargs))
    with mirrored.scope():
        two = _compile(_small(**kwargs))
    two.set_weights(one.get_weights())
    for model in (one, two):
        model.fit(moons[:64], y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(one.weights, two.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def test_samples_are_seeded_and_progress_runs_the_same_walk(moons):
    model = _compile(_small(sampler="ddim", sampling_steps=10, eta=0.5))
    model.fit(moons, batch_size=64, epochs=1, verbose=0)
    samples = model.sample(5, seed=4)
    np.testing.assert_array_equal(samples, model.sample(5, seed=4))
    assert not np.allclose(samples, model.sample(5, seed=5))
    np.testing.assert_allclose(model.sample(5, seed=4, progress=True), samples, atol=1e-5)
    ddpm = model.sample(5, seed=4, sampler="ddpm")
    assert ddpm.shape == (5, 2) and not np.allclose(ddpm, samples)


def test_guidance_mixes_the_conditional_and_free_outputs(moons):
    model = _compile(_small(num_classes=3))
    z, t = tf.constant(moons[:4]), tf.constant([3, 10, 20, 49])
    c = tf.one_hot([0, 1, 2, 0], 3)
    cond = model.network_output(z, t, c)
    free = model.network_output(z, t, tf.zeros_like(c))
    np.testing.assert_allclose(model.network_output(z, t, c, guidance_scale=3.0),
                               free + 3.0 * (cond - free), rtol=1e-5, atol=1e-6)
    a = model.sample(4, [0, 1, 2, 0], seed=1, guidance_scale=2.0)
    assert not np.allclose(a, model.sample(4, [0, 1, 2, 0], seed=1))


def test_label_dropout_zeroes_labels_in_training_only(moons):
    model = _small(num_classes=3, label_dropout=0.5)
    seen = []
    output = model.network_output

    def record(z, t, condition=None, guidance_scale=1.0, training=False):
        seen.append((training, condition.numpy().sum(axis=-1)))
        return output(z, t, condition, guidance_scale, training)

    model.network_output = record
    c = tf.one_hot(np.arange(400) % 3, 3)
    x = tf.constant(np.tile(moons[:100], [4, 1]))
    model.example_losses(x, c, tf.constant([0, 1]), training=True)
    model.example_losses(x, c, tf.constant([0, 1]), training=False)
    (_, kept_in_training), (_, kept_in_test) = seen
    assert 0.4 < kept_in_training.mean() < 0.6
    assert kept_in_test.min() == 1.0


def test_digits_are_modeled_at_their_levels(digits):
    model = DDPM([8, 8, 1], channels=[8, 16], groups=8, num_timesteps=20,
                 dequantizer=digits.dequantizer, sampler="ddim", sampling_steps=5)
    x = next(iter(digits.dataset("train", 8)))
    levels = digits.dequantizer.to_levels(x).numpy()
    np.testing.assert_allclose(model._to_network(x), 2 * levels / 16 - 1, rtol=1e-6)
    back = digits.dequantizer.to_levels(model._to_model_space(model._to_network(x))).numpy()
    np.testing.assert_array_equal(back, levels)
    assert model.sample(1, seed=0).shape == (1, 8, 8, 1)  # (its first walk: one sample)
    samples = digits.dequantizer.to_levels(model.sample(3, seed=0)).numpy()
    assert samples.shape == (3, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 16
    bound = model.nll_bounds(x)["vlb"].numpy()
    # The bound is of the levels themselves: bits/dim is nats / (D ln 2),
    # no dequantization Jacobian added.
    assert np.all(np.isfinite(bound)) and np.all(bound > 0)
    np.testing.assert_allclose(model.bits_per_dim(bound, x), bound / (64 * np.log(2)), rtol=1e-6)


def test_keras_round_trip_keeps_the_average_and_the_optimizer(moons, tmp_path):
    model = _compile(_small(ema_decay=0.9, prediction_type="sample"))
    model.fit(moons, batch_size=64, epochs=1, verbose=0)
    path = os.fspath(tmp_path / "ddpm.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, DDPM) and loaded.prediction_type == "sample"
    np.testing.assert_array_equal(loaded.sample(6, seed=2), model.sample(6, seed=2))
    assert_same_state(model, loaded)


SERVE = """
out = sig["sample"](n=tf.constant(4), condition=tf.constant([0, 1, 2, 0]), steps=tf.constant(7),
                    seed=tf.constant(5), guidance_scale=tf.constant(2.0))
x_t = tf.reshape(tf.range(128, dtype=tf.float32) % 7 / 3.0 - 1.0, [2, 8, 8, 1])
x0 = sig["denoise"](x_t=x_t, t=tf.constant([3, 9]),
                    condition=tf.constant([1, 2]))
served = {"pixels": out["pixels"].numpy().tolist(), "x0": x0["x0"].numpy().tolist()}
"""


def test_export_serves_sample_and_denoise_without_tfgen(digits, tmp_path):
    model = DDPM([8, 8, 1], channels=[8, 16], groups=8, num_timesteps=20, num_classes=3,
                 dequantizer=digits.dequantizer, sampler="ddim")
    export.export(model, tmp_path / "export")
    served = served_without_tfgen(tmp_path / "export", SERVE)
    samples = model.sample(4, [0, 1, 2, 0], seed=5, steps=7, guidance_scale=2.0)
    np.testing.assert_array_equal(served["pixels"], digits.dequantizer.to_levels(samples))
    # (A constant x_t would leave group norms dividing round-off by ~0.)
    x_t = tf.reshape(tf.range(128, dtype=tf.float32) % 7 / 3.0 - 1.0, [2, 8, 8, 1])
    np.testing.assert_allclose(served["x0"], model.denoise(x_t, [3, 9], [1, 2]), rtol=1e-5,
                               atol=1e-5)


def test_unet_computes_in_bfloat16_and_the_loss_in_float32(digits, mixed_bfloat16):
    model = _compile(DDPM([8, 8, 1], channels=[8, 16], groups=8, num_timesteps=20,
                          dequantizer=digits.dequantizer))
    z = tf.zeros([2, 8, 8, 1])
    assert model.network_output(z, tf.constant([1, 2])).dtype == tf.bfloat16
    x = model._to_network(next(iter(digits.dataset("train", 4))))
    assert model.example_losses(x, None, tf.constant([0, 1]), True).dtype == tf.float32
    history = model.fit(digits.dataset("train", 16, repeat=True), steps_per_epoch=3,
                        verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert model.sample(2, seed=0, sampler="ddim", steps=3).dtype == tf.float32


def test_bfloat16_sampling_runs_a_twin_of_the_averaged_network(digits):
    model = _compile(DDPM([8, 8, 1], channels=[8, 16], groups=8, num_timesteps=20,
                          num_classes=10, dequantizer=digits.dequantizer, ema_decay=0.5,
                          sampler="ddim", sampling_steps=4))
    model.fit(digits.dataset("train", 16, labels=True, repeat=True), steps_per_epoch=2,
              verbose=0)  # the average differs from the weights
    labels = np.arange(32) % 10
    z = tf.reshape(tf.range(2 * 64, dtype=tf.float32) % 7 / 3.0 - 1.0, [2, 8, 8, 1])
    t, condition = tf.constant([3, 15]), tf.one_hot([0, 2], 10)
    raw = [w.numpy() for w in model.denoiser.weights]
    with model.averaged_weights():
        twin = model._denoiser_in("bfloat16")
        averages = [w.numpy() for w in model.denoiser.weights]
        want = model.network_output(z, t, condition).numpy()
        got = model.network_output(z, t, condition, denoiser=twin)
    assert not all(np.array_equal(a, r) for a, r in zip(averages, raw))
    for weight, average in zip(twin.weights, averages, strict=True):
        np.testing.assert_array_equal(weight.numpy(), average)
    assert got.dtype == tf.bfloat16 and model.denoiser.compute_dtype == "float32"
    # bfloat16 keeps 8 bits; through the U-Net's layers the output stays
    # within a few percent of its scale.
    np.testing.assert_allclose(tf.cast(got, tf.float32), want, atol=0.05 * np.abs(want).max())
    # The same walk, from the same noise: nearly all levels agree.
    a, b = (digits.dequantizer.to_levels(model.sample(32, labels, seed=1,
                                                      precision=p)).numpy()
            for p in ("float32", "bfloat16"))
    assert np.mean(np.abs(a - b) <= 1) > 0.95
    with pytest.raises(ValueError, match="`precision` must be one of"):
        model.sample(2, [0, 1], seed=0, precision="float16")


def test_a_non_finite_loss_stops_training(moons):
    model = _compile(_small())
    weight = model.denoiser.weights[0]
    weight.assign(np.full(weight.shape, np.nan, np.float32))
    with pytest.raises(NonFiniteLossError, match="loss"):
        model.fit(moons, batch_size=64, epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(network="resnet"), "`network` must be one of"),
    (dict(sampler="euler"), "`sampler` must be one of"),
    (dict(prediction_type="score"), "`prediction_type` must be one of"),
    (dict(beta_schedule="quadratic"), "`beta_schedule` must be one of"),
    (dict(variance="learned"), "`variance` must be one of"),
    (dict(spacing="even"), "`spacing` must be one of"),
    (dict(eta=1.5, sampler="ddim"), "`eta` must be in"),
    (dict(label_dropout=1.0), "`label_dropout` must be in"),
    (dict(network="unet"), "`event_shape` must be"),
    (dict(num_timesteps=0), "`num_timesteps`"),
    (dict(sampling_precision="float16"), "`sampling_precision` must be one of"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        DDPM([2], **kwargs)


def test_tfgen_train_ddpm_on_two_moons(tmp_path):
    out = tmp_path / "ddpm"
    assert main(["train", "ddpm", "--data", "two_moons", "--steps", "30",
                 "--set", "num_timesteps=20", "--set", "hidden_units=[16,16]",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["likelihood"] == "bound"
    assert np.isfinite(metrics["vlb_nll"]) and "energy_distance_floor" in metrics
    assert (out / "samples.png").exists() and (out / "saved_model").exists()
    npy = tmp_path / "ddim.npy"
    assert main(["sample", str(out), "-n", "5", "--sampler", "ddim", "--steps", "4",
                 "--eta", "1", "--out", str(npy)]) == 0
    model = keras.models.load_model(out / "model.keras")
    np.testing.assert_allclose(np.load(npy), model.sample(5, seed=0, sampler="ddim", steps=4,
                                                          eta=1.0), atol=1e-5)
    assert main(["sample", str(out), "-n", "5", "--guidance", "2", "--out", str(npy)]) == 2
    assert main(["sample", str(out), "-n", "5", "--steps", "0", "--out", str(npy)]) == 2


def test_sampling_flags_are_refused_by_models_without_them(tmp_path, capsys):
    out = tmp_path / "flow"
    assert main(["train", "realnvp", "--data", "two_moons", "--steps", "2",
                 "--set", "num_couplings=1", "--set", "hidden_units=[4]",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "3", "--steps", "10",
                 "--out", str(tmp_path / "s.npy")]) == 2
    assert "`--steps`: RealNVP models take no such sampling option" in capsys.readouterr().err
