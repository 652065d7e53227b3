"""KL weight schedules: the weight each step trains with, and the loss it
enters."""

import keras
import pytest
import tensorflow as tf

from tfgen import data
from tfgen.models.vae import VAE, CyclicalKL, KLWarmup, TwoPhaseSchedule


class _RecordWeight(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.weights = getattr(self, "weights", []) + [float(self.model.kl_weight.numpy())]


def _vae(beta=1.0, **kwargs):
    source = data.load_data("two_moons")
    model = VAE([2], latent_dim=2, hidden_units=[8], beta=beta, **kwargs)
    model.compile(optimizer="adam")
    return model, source.dataset("train", 64, repeat=True)


def test_warmup_sets_the_weight_of_each_step_and_beta_at_the_end():
    model, batches = _vae(beta=0.5)
    record = _RecordWeight()
    model.fit(batches, steps_per_epoch=6, epochs=1, verbose=0,
              callbacks=[KLWarmup(4), record])  # the schedule runs first
    assert record.weights == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5, 0.5])
    assert float(model.kl_weight.numpy()) == 0.5


def test_cyclical_schedule_restarts_every_period():
    schedule = CyclicalKL(period=10, ratio=0.5)
    assert [schedule.fraction(t) for t in (0, 2, 5, 9, 10, 12)] == pytest.approx(
        [0.0, 0.4, 1.0, 1.0, 0.0, 0.4])


def test_the_loss_is_the_reconstruction_term_at_kl_weight_zero():
    model, batches = _vae()
    model.kl_weight.assign(0.0)
    logs = model.fit(batches, steps_per_epoch=1, epochs=1, verbose=0).history
    assert logs["loss"][0] == pytest.approx(-logs["reconstruction"][0], rel=1e-6)
    assert logs["kl"][0] > 0


def test_the_model_asks_tfgen_train_for_its_warmup():
    (callback,) = VAE([2], kl_warmup=30).training_callbacks()
    assert isinstance(callback, KLWarmup) and callback.steps == 30
    assert VAE([2]).training_callbacks() == []
    with pytest.raises(ValueError, match="kl_warmup"):
        VAE([2], kl_warmup=-1)
    with pytest.raises(ValueError, match="ratio"):
        CyclicalKL(10, ratio=0.0)
    assert float(VAE([2], beta=0.25).kl_weight.numpy()) == 0.25  # beta until a schedule runs


class _RecordBoth(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.weights = getattr(self, "weights", []) + [
            (round(float(self.model.reconstruction_weight.numpy()), 6),
             round(float(self.model.kl_weight.numpy()), 6))]


def _conditional_digits_vae():
    source = data.load_data("digits")
    model = VAE([8, 8, 1], latent_dim=2, hidden_units=[8], num_classes=10, beta=2.0,
                dequantizer=source.dequantizer, kl_schedule="two_phase")
    model.compile(optimizer="adam")
    return model, source.dataset("train", 32, labels=True, repeat=True)


@pytest.mark.parametrize("min_variance,switch", [(1e-12, 2), (2.0, None)])
def test_two_phase_schedule_switches_once_the_samples_vary(min_variance, switch):
    model, batches = _conditional_digits_vae()
    schedule, record = TwoPhaseSchedule(min_variance=min_variance, check_every=2), _RecordBoth()
    model.fit(batches, steps_per_epoch=4, epochs=1, verbose=0, callbacks=[schedule, record])
    first, second = (0.99, 0.02), (0.5, 1.0)  # (reconstruction, KL) with beta 2
    expected = [first, first, second, second] if switch else [first] * 4
    assert record.weights == expected and schedule.switched_at == switch
    assert [step for step, _ in schedule.variances] == [2]  # one check in 4 steps
    # Variances of intensities in [0, 1] are at most 1/4: 2.0 is never reached.
    assert 0 <= schedule.variances[0][1] <= 0.25
    # The phase stays in the saved weights: a later fit goes on in it.
    model.fit(batches, steps_per_epoch=1, epochs=1, verbose=0,
              callbacks=[TwoPhaseSchedule(min_variance=min_variance, check_every=2), record])
    assert record.weights[-1] == (second if switch else first)


def test_a_resumed_run_in_phase_two_stays_there():
    model, batches = _conditional_digits_vae()
    model.reconstruction_weight.assign(0.5)
    record = _RecordBoth()
    model.fit(batches, steps_per_epoch=3, epochs=1, verbose=0,
              callbacks=[TwoPhaseSchedule(min_variance=2.0, check_every=1), record])
    assert record.weights == [(0.5, 1.0)] * 3


def test_sample_variance_is_zero_when_the_decoder_ignores_z():
    model, _ = _conditional_digits_vae()
    first = model.decoder.dense_layers[0].kernel
    first.assign(tf.concat([tf.zeros_like(first[:2]), first[2:]], axis=0))  # z's rows
    assert float(model.sample_variance(16)) == 0.0
    (callback,) = model.training_callbacks()
    assert isinstance(callback, TwoPhaseSchedule)
    with pytest.raises(ValueError, match="kl_schedule"):
        VAE([2], kl_schedule="two_phase", kl_warmup=10)
