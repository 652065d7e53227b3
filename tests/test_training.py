"""How `tfgen.training` plans a budget, and the registry it draws on."""

import pytest

from tfgen import registry
from tfgen.training import fit_plan


@pytest.mark.parametrize("kwargs,expected", [
    # One epoch of the whole budget; executions of 50 steps; a checkpoint
    # every 1000 steps.
    (dict(steps=1000), dict(epochs=1, steps_per_epoch=1000, steps=1000, validation_every=None,
                            checkpoint_every=1000, steps_per_execution=50)),
    # Validation every 15 of 50 steps: 4 epochs, the last cut at 50; 5 divides both;
    # checkpoints at validation points.
    (dict(steps=50, patience=3, validation_every=15),
     dict(epochs=4, steps_per_epoch=15, steps=50, validation_every=15, checkpoint_every=45,
          steps_per_execution=5)),
    # The default validation interval: 20 per run.
    (dict(steps=3000, patience=3),
     dict(epochs=20, steps_per_epoch=150, steps=3000, validation_every=150,
          checkpoint_every=900, steps_per_execution=50)),
    # An interval beyond the budget validates once, at its end.
    (dict(steps=40, patience=3, validation_every=100),
     dict(epochs=1, steps_per_epoch=40, steps=40, validation_every=40, checkpoint_every=40,
          steps_per_execution=10)),
    # A prime budget only divides into single steps.
    (dict(steps=1009), dict(epochs=1, steps_per_epoch=1009, steps=1009, validation_every=None,
                            checkpoint_every=1000, steps_per_execution=1)),
    # At least four executions to measure the steady state on.
    (dict(steps=30), dict(epochs=1, steps_per_epoch=30, steps=30, validation_every=None,
                          checkpoint_every=30, steps_per_execution=6)),
    (dict(steps=2), dict(epochs=1, steps_per_epoch=2, steps=2, validation_every=None,
                         checkpoint_every=2, steps_per_execution=1)),
    # Checkpoints every 35 steps: executions divide 35 and 1000.
    (dict(steps=1000, checkpoint_every=35),
     dict(epochs=1, steps_per_epoch=1000, steps=1000, validation_every=None,
          checkpoint_every=35, steps_per_execution=5)),
    # Epochs of whole batches.
    (dict(epochs=3, batches_per_epoch=196),
     dict(epochs=3, steps_per_epoch=196, steps=588, validation_every=None,
          checkpoint_every=588, steps_per_execution=49)),
])
def test_fit_plan(kwargs, expected):
    arguments = dict(steps=None, epochs=None, patience=None, validation_every=None,
                     checkpoint_every=1000, batches_per_epoch=None)
    assert fit_plan(**{**arguments, **kwargs}) == expected


def test_every_registered_name_resolves_to_its_class():
    from tfgen.models import GenerativeModel

    for name, path in registry.MODELS.items():
        cls = registry.get_model_class(name)
        assert issubclass(cls, GenerativeModel) and cls.__name__ == path.rsplit(".", 1)[1]
    with pytest.raises(ValueError, match=r"Unknown `MODEL` 'flowzilla'; choose one of"):
        registry.get_model_class("flowzilla")
    assert registry.default_config("realnvp", [8, 8, 1]) == {"num_couplings": 3,
                                                             "hidden_units": [64, 64]}
    assert registry.default_config("realnvp", [2]) == {}


def test_vector_data_get_their_own_training_defaults():
    # A DDPM step on a 2D toy costs far less than on digits: more of them.
    assert registry.training_settings("ddpm", None, None, None, None, None) == \
        (3000, 2e-3, None, None)
    assert registry.training_settings("ddpm", None, None, None, None, None, images=False) == \
        (30000, 1e-3, None, None)
    assert registry.training_settings("ddpm", 5, None, None, None, None, images=False) == \
        (5, 1e-3, None, None)
    assert registry.training_settings("vae", None, None, None, None, None, images=False) == \
        registry.training_settings("vae", None, None, None, None, None)


def test_models_that_overfit_stop_early_by_default():
    # (steps, lr, patience, validation_every) from the given ones, else the model's.
    assert registry.training_settings("vae", None, None, None, None, None) == (4000, 5e-4, 10, 100)
    assert registry.training_settings("vae", 50, None, 1e-3, None, None) == (50, 1e-3, 10, 100)
    assert registry.training_settings("vae", None, 3, None, None, None) == (None, 5e-4, 10, None)
    assert registry.training_settings("vae", None, None, None, 2, 7) == (4000, 5e-4, 2, 7)
    assert registry.training_settings("realnvp", None, None, None, None, None) == \
        (None, 1e-3, None, None)
    assert registry.default_config("vae", [8, 8, 1]) == {"network": "conv", "latent_dim": 32,
                                                         "kl_warmup": 300}
