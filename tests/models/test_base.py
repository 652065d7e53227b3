"""The contract of `tfgen.models.GenerativeModel`: named optimizers saved
with their state, the global-batch mean, the weight averages (EMA)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import export, flows, registry
from tfgen.models import GenerativeModel


@keras.saving.register_keras_serializable(package="tfgen_tests")
class TwoOptimizerGaussian(GenerativeModel):
    """N(loc, diag(exp(log_scale))^2) with one optimizer per parameter: the
    smallest model with several named optimizers."""

    family = "test"
    likelihood = "exact"
    optimizer_names = ("loc_optimizer", "scale_optimizer")
    loss_metric = "nll"

    def __init__(self, event_shape=(2,), **kwargs):
        super().__init__(event_shape, **kwargs)
        self.loc = self.add_weight(shape=self.event_shape, initializer="zeros", name="loc")
        self.log_scale = self.add_weight(shape=self.event_shape, initializer="zeros",
                                         name="log_scale")
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.built = True

    @property
    def metrics(self):
        return [self.nll_tracker]

    def optimizer_variables(self, name):
        return [self.loc] if name == "loc_optimizer" else [self.log_scale]

    def nll(self, x):
        z = (x - self.loc) * tf.exp(-self.log_scale)
        return tf.reduce_sum(0.5 * z**2 + self.log_scale + 0.5 * np.log(2 * np.pi), axis=-1)

    def train_step(self, data):
        with tf.GradientTape(persistent=True) as tape:
            nll = self.nll(data)
            loss = self.global_mean(nll)
        self.minimize(tape, loss, [self.loc], "loc_optimizer")
        self.minimize(tape, loss, [self.log_scale], "scale_optimizer")
        self.update_ema()
        self.nll_tracker.update_state(nll)
        return {"nll": self.nll_tracker.result()}

    def draw(self, n, condition, seed):
        noise = tf.random.stateless_normal([n, *self.event_shape], seed=seed)
        return self.loc + tf.exp(self.log_scale) * noise

    def serving_endpoints(self):
        return {"sample": (lambda n, seed: {"samples": self.sample(n, seed=seed)},
                           [tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)])}


def _data(n=64, seed=0):
    return (np.random.default_rng(seed).normal(size=(n, 2)) * 2.0 + 1.0).astype(np.float32)


def _two_optimizer_model(**kwargs):
    model = TwoOptimizerGaussian(**kwargs)
    model.compile(loc_optimizer=keras.optimizers.Adam(0.05),
                  scale_optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    return model


def _optimizer_state(optimizer):
    return [v.numpy() for v in optimizer.variables]


def test_compile_names_the_missing_optimizer():
    with pytest.raises(ValueError, match="scale_optimizer"):
        TwoOptimizerGaussian().compile(loc_optimizer="adam")
    with pytest.raises(ValueError, match="`optimizer`"):
        TwoOptimizerGaussian().compile(optimizer="adam", loc_optimizer="adam",
                                       scale_optimizer="adam")


def test_every_optimizer_is_built_before_the_first_step_and_trains_its_variables():
    model = _two_optimizer_model()
    loc_before, scale_before = model.loc.numpy(), model.log_scale.numpy()
    model.fit(_data(), batch_size=16, epochs=1, verbose=0)
    assert model.loc_optimizer.iterations.numpy() == 4
    assert model.scale_optimizer.iterations.numpy() == 4
    # Adam holds m and v of loc; SGD with momentum one slot of log_scale.
    assert [v.shape for v in model.loc_optimizer.variables[2:]] == [(2,), (2,)]
    assert [v.shape for v in model.scale_optimizer.variables[2:]] == [(2,)]
    assert not np.allclose(model.loc.numpy(), loc_before)
    assert not np.allclose(model.log_scale.numpy(), scale_before)
    assert model.optimizer is model.loc_optimizer


@pytest.mark.parametrize("make", [
    _two_optimizer_model,
    lambda: _compiled(flows.RealNVP([2], num_couplings=2, hidden_units=[8])),
], ids=["two_optimizers", "realnvp"])
def test_keras_file_restores_every_optimizer_with_its_state(make, tmp_path):
    model = make()
    model.fit(_data(), batch_size=16, epochs=2, verbose=0)  # k = 8 steps
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert list(loaded.named_optimizers()) == list(model.named_optimizers())
    for name, optimizer in model.named_optimizers().items():
        restored = loaded.named_optimizers()[name]
        assert type(restored) is type(optimizer)
        assert restored.iterations.numpy() == 8
        saved, state = _optimizer_state(optimizer), _optimizer_state(restored)
        assert len(state) == len(saved) and len(saved) > 2  # iterations, lr, slots
        for a, b in zip(saved, state):
            np.testing.assert_array_equal(a, b)
    # Training goes on from the restored state exactly as the original would.
    model.fit(_data(seed=1), batch_size=64, epochs=1, verbose=0, shuffle=False)
    loaded.fit(_data(seed=1), batch_size=64, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def _compiled(model, optimizer=None):
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2))
    return model


class _RecordWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.history = [[w.numpy() for w in self.model.trainable_weights]]

    def on_train_batch_end(self, batch, logs=None):
        self.history.append([w.numpy() for w in self.model.trainable_weights])


@pytest.mark.parametrize("make", [
    lambda **kw: _two_optimizer_model(**kw),
    lambda **kw: _compiled(flows.RealNVP([2], num_couplings=2, hidden_units=[8], **kw)),
], ids=["two_optimizers", "realnvp"])
@pytest.mark.parametrize("warmup", [False, True])
def test_ema_weights_follow_the_formula(make, warmup):
    decay = 0.7
    model = make(ema_decay=decay, ema_warmup=warmup)
    record = _RecordWeights()
    model.fit(_data(), batch_size=16, epochs=1, verbose=0, callbacks=[record], shuffle=False)
    # a_0 = w_0 (weights when training starts), a_t = d_t a_{t-1} + (1 - d_t) w_t,
    # d_t = d, or min(d, (1 + t) / (10 + t)) warmed up (0.18, 0.25, ... < 0.7).
    expected = [w.astype(np.float64) for w in record.history[0]]
    for t, weights in enumerate(record.history[1:], start=1):
        d = min(decay, (1 + t) / (10 + t)) if warmup else decay
        expected = [d * a + (1 - d) * w for a, w in zip(expected, weights)]
    assert len(record.history) == 5
    for average, value in zip(model.ema_weights, expected):
        np.testing.assert_allclose(average.numpy(), value, rtol=1e-5, atol=1e-6)
    raw = [w.numpy() for w in model.trainable_weights]
    assert not all(np.allclose(a.numpy(), w) for a, w in zip(model.ema_weights, raw))


def test_sample_evaluate_and_export_use_the_averages(tmp_path):
    model = _two_optimizer_model(ema_decay=0.5)
    model.fit(_data(), batch_size=16, epochs=2, verbose=0)
    raw = [w.numpy() for w in model.trainable_weights]
    averages = [a.numpy() for a in model.ema_weights]

    reference = TwoOptimizerGaussian()
    for w, value in zip(reference.trainable_weights, averages):
        w.assign(value)
    expected = reference.sample(5, seed=3).numpy()
    np.testing.assert_array_equal(model.sample(5, seed=3).numpy(), expected)
    # The raw weights are back after sampling.
    for w, value in zip(model.trainable_weights, raw):
        np.testing.assert_array_equal(w.numpy(), value)

    export.export(model, tmp_path / "export")
    loaded = tf.saved_model.load(os.fspath(tmp_path / "export"))
    served = loaded.signatures["sample"](n=tf.constant(5), seed=tf.constant(3))["samples"]
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-6)
    for w, value in zip(model.trainable_weights, raw):
        np.testing.assert_array_equal(w.numpy(), value)


def test_ema_weights_are_saved_and_restored(tmp_path):
    model = _compiled(flows.MAF([2], num_layers=2, hidden_units=[8], ema_decay=0.9))
    model.fit(_data(), batch_size=16, epochs=1, verbose=0)
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.ema_decay == 0.9
    for a, b in zip(model.ema_weights, loaded.ema_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = _data(8)
    np.testing.assert_array_equal(loaded.sample(4, seed=1), model.sample(4, seed=1))
    np.testing.assert_array_equal(
        loaded.evaluate(x, verbose=0, return_dict=True)["nll"],
        model.evaluate(x, verbose=0, return_dict=True)["nll"])


def test_bad_ema_decay_names_the_argument():
    with pytest.raises(ValueError, match="ema_decay.*1.5"):
        flows.RealNVP([2], num_couplings=1, hidden_units=[4], ema_decay=1.5)


def test_global_mean_divides_by_the_whole_batch_when_replicas_differ(mirrored):
    # Replica 0 holds [1], replica 1 holds [2, 3]: the global mean is 2.
    values = mirrored.experimental_distribute_values_from_function(
        lambda context: tf.range(1.0, 2.0 + context.replica_id_in_sync_group)
        + tf.cast(context.replica_id_in_sync_group, tf.float32))
    per_replica = mirrored.run(GenerativeModel.global_mean, args=(values,))
    total = mirrored.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
    assert float(total) == pytest.approx(2.0)
    assert float(GenerativeModel.global_mean(tf.constant([1.0, 2.0, 3.0, 6.0]))) == 3.0


def test_an_uneven_global_batch_gives_the_single_device_update(mirrored):
    """Batches of 63: replicas get 32 and 31; the steps are still the
    one-device steps on the means over all 63, from the first batch on (a
    repeating dataset, epochs of one step, as `tfgen train` runs)."""
    x = _data(126)
    results = []
    for strategy in (tf.distribute.get_strategy(), mirrored):
        with strategy.scope():
            model = _compiled(flows.RealNVP([2], num_couplings=2, hidden_units=[8],
                                            ema_decay=0.5), keras.optimizers.SGD(0.1))
            model.set_weights([w + 0.1 for w in _reference_weights()])
        data = tf.data.Dataset.from_tensor_slices(x).batch(63).repeat()
        nll = model.fit(data, epochs=2, steps_per_epoch=1, verbose=0).history["nll"]
        results.append((nll, [w.numpy() for w in model.weights + model.ema_weights]))
    (nll_single, single), (nll_mirrored, mirrored_weights) = results
    np.testing.assert_allclose(nll_mirrored, nll_single, rtol=1e-6)
    for a, b in zip(single, mirrored_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(single[-1], _reference_weights()[-1] + 0.1)


def _reference_weights():
    keras.utils.set_random_seed(1)
    return flows.RealNVP([2], num_couplings=2, hidden_units=[8]).get_weights()


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_every_registered_model_declares_the_contract(name):
    cls = registry.get_model_class(name)
    assert issubclass(cls, GenerativeModel)
    assert cls.likelihood in ("exact", "bound", None)
    assert cls.family is not None and cls.optimizer_names
