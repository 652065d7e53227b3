"""KL weight schedules: the weight each step trains with, and the loss it
enters."""

import keras
import pytest

from tfgen import data
from tfgen.models.vae import VAE, CyclicalKL, KLWarmup


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
