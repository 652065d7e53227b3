"""`SampleGrid` and TensorBoard logs, read back from the event files;
`SampleQuality`'s measurements and kept weights."""

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tfgen import flows
from tfgen.callbacks import SampleGrid


def _images(log_dir):
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    return events.Tensors("samples")


def test_sample_grid_writes_the_same_noise_every_few_steps(tmp_path):
    model = flows.RealNVP([4, 4, 1], num_couplings=1, hidden_units=[4])
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    x = np.random.default_rng(0).uniform(size=(40, 4, 4, 1)).astype(np.float32)
    grid = SampleGrid(tmp_path, every=2, num_samples=9, seed=5)
    model.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[grid])  # 5 steps
    written = _images(tmp_path / "samples")
    assert [event.step for event in written] == [2, 4, 5]  # and at the end
    # One 3x3 grid of 4x4 pictures: a [height, width, channels] PNG.
    width, height = (int(v) for v in written[0].tensor_proto.string_val[:2])
    assert (width, height) == (12, 12)
    # The noise is fixed: the grid equals samples drawn with the seed now.
    expected = np.clip(np.asarray(model.sample(9, seed=5)), 0, 1)
    png = written[-1].tensor_proto.string_val[2]
    picture = keras.ops.convert_to_numpy(
        __import__("tensorflow").io.decode_png(png)).astype(np.float32) / 255.0
    tiles = picture[..., 0].reshape(3, 4, 3, 4).transpose(0, 2, 1, 3).reshape(9, 4, 4)
    np.testing.assert_allclose(tiles, expected[..., 0], atol=1 / 255 + 1e-6)


def test_2d_samples_are_drawn_as_a_scatter_picture(tmp_path):
    model = flows.RealNVP([2], num_couplings=1, hidden_units=[4])
    model.compile(optimizer="adam")
    model.fit(np.zeros([8, 2], np.float32) + 0.5, batch_size=8, epochs=1, verbose=0,
              callbacks=[SampleGrid(tmp_path, every=1, num_samples=500)])
    (written,) = _images(tmp_path / "samples")
    width, height = (int(v) for v in written.tensor_proto.string_val[:2])
    assert (width, height) == (128, 128)


def test_sample_quality_measures_every_few_steps_and_restores_the_best_weights():
    from tfgen import data, evaluation
    from tfgen.callbacks import SampleQuality
    from tfgen.models.gan import GAN

    source = data.load_data("eight_gaussians")
    gan = GAN([2], latent_dim=2, hidden_units=[16])
    gan.compile(generator_optimizer=keras.optimizers.Adam(1e-2),
                discriminator_optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=5)
    quality = SampleQuality(source, every=10, keep_best="energy_distance", seed=3, verbose=0)
    gan.fit(source.dataset("train", 64, repeat=True), steps_per_epoch=40, epochs=1,
            callbacks=[quality], verbose=0)
    assert [r["step"] for r in quality.records] == [10, 20, 30, 40]
    best = min(quality.records, key=lambda r: r["energy_distance"])
    assert quality.best_step == best["step"]
    # The restored weights measure what the best measurement did (same seed).
    again = evaluation.vector_sample_quality(gan, source, "validation", seed=3)
    assert again["energy_distance"] == pytest.approx(best["energy_distance"], rel=1e-9)
    assert {"modes_hit", "high_quality_fraction", "mmd"} <= set(best)


def test_sample_quality_refuses_a_figure_the_data_does_not_have():
    from tfgen import data
    from tfgen.callbacks import SampleQuality

    with pytest.raises(ValueError, match="`keep_best` must be one of"):
        SampleQuality(data.load_data("eight_gaussians"), every=10, keep_best="fid")
