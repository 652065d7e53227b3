"""The `tfgen` command line end to end, on tiny budgets."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from tfgen.cli import build_parser, main


def test_train_eval_sample_export(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "realnvp", "--data", "two_moons", "--steps", "30",
                 "--batch-size", "64", "--set", "hidden_units=[16]",
                 "--set", "num_couplings=2", "--out", str(out)]) == 0
    for name in ("model.keras", "saved_model", "metrics.json", "samples.png",
                 "density.png", "run.json"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 30 and metrics["steps_per_second"] > 0
    assert metrics["nll_minus_entropy"] == pytest.approx(metrics["nll"] - metrics["entropy"])
    assert metrics["kl_gap"] > -0.05  # KL >= 0 up to Monte Carlo error
    capsys.readouterr()

    user = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    np.save(tmp_path / "user.npy", user)
    assert main(["eval", str(out), "--data", str(tmp_path / "user.npy")]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["num_examples"] == 40

    assert main(["sample", str(out), "-n", "7", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (7, 2)
    assert main(["sample", str(out), "-n", "50", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    assert main(["export", str(out), "--out", str(tmp_path / "exported")]) == 0
    assert (tmp_path / "exported" / "saved_model.pb").exists()


def test_train_maf_on_digits_flattens_and_writes_a_sample_grid(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["train", "maf", "--data", "digits", "--steps", "3",
                 "--batch-size", "32", "--set", "hidden_units=[8]",
                 "--set", "num_layers=1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_examples"] == 360 and np.isfinite(metrics["bits_per_dim"])
    # 64 samples of 8x8 pixels on an 8x8 grid, each cell 9 pixels, scaled 3x.
    assert Image.open(out / "samples.png").size == (3 * 73, 3 * 73)
    # .npy samples are in the data's own units: digits' integer levels.
    assert main(["sample", str(out), "-n", "6", "--out", str(tmp_path / "s.npy")]) == 0
    pixels = np.load(tmp_path / "s.npy")
    assert pixels.shape == (6, 8, 8, 1) and pixels.dtype == np.int32
    assert pixels.min() >= 0 and pixels.max() <= 16
    assert main(["sample", str(out), "-n", "6", "--model-space",
                 "--out", str(tmp_path / "raw.npy")]) == 0
    raw = np.load(tmp_path / "raw.npy")
    assert raw.dtype == np.float32 and raw.shape == (6, 8, 8, 1)
    # Sample quality in the shipped classifier's features, next to the
    # floor of real digits; a 3-step MAF is far from it.
    assert metrics["fid_digits"] > 5 * metrics["fid_digits_floor"] > 0
    assert np.isfinite(metrics["kid_digits"]) and np.isfinite(metrics["is_digits"])
    assert len(metrics["class_histogram"]) == 10 and metrics["likelihood"] == "exact"
    assert main(["eval", str(out)]) == 0  # the run's own data, flattened as in training
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["bits_per_dim"] == \
        pytest.approx(metrics["bits_per_dim"])


def test_image_defaults_are_sized_to_the_data_and_overridable(tmp_path):
    out = tmp_path / "realnvp"
    assert main(["train", "realnvp", "--data", "digits", "--steps", "2",
                 "--set", "hidden_units=[4]", "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    # The registry's image settings, under the user's --set.
    assert run["config"]["num_couplings"] == 3 and run["config"]["hidden_units"] == [4]
    assert run["batch_size"] == 64


def test_class_conditional_glow_with_early_stopping(tmp_path, capsys):
    out = tmp_path / "glow"
    assert main(["train", "glow", "--data", "digits", "--conditional", "--steps", "6",
                 "--patience", "1", "--validation-every", "2", "--batch-size", "32",
                 "--set", "hidden_channels=4", "--set", "num_steps=1",
                 "--set", "num_levels=1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["bits_per_dim"]) and metrics["num_examples"] == 360
    assert 1 <= metrics["epochs_run"] <= 3 and np.isfinite(metrics["best_validation_nll"])
    # One row of 10 samples per class: a 10 x 10 grid of 8x8 digits.
    assert Image.open(out / "samples.png").size == (2 * 91, 2 * 91)
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "3", "--out", str(tmp_path / "rows.png")]) == 0
    assert Image.open(tmp_path / "rows.png").size == (2 * 28, 2 * 91)  # 3 columns, 10 rows
    assert capsys.readouterr().out.strip() == f"tfgen: wrote 30 samples to {tmp_path}/rows.png"
    assert main(["sample", str(out), "-n", "5", "--label", "4",
                 "--out", str(tmp_path / "four.npy")]) == 0
    assert np.load(tmp_path / "four.npy").shape == (5, 8, 8, 1)
    assert main(["sample", str(out), "-n", "5", "--label", "10",
                 "--out", str(tmp_path / "x.npy")]) == 2


@pytest.mark.parametrize("argv,match", [
    (["train", "flowzilla", "--data", "two_moons"], "Unknown `MODEL` 'flowzilla'"),
    (["train", "realnvp", "--data", "moons"], "Unknown data 'moons'"),
    (["train", "realnvp", "--data", "two_moons", "--set", "hidden_units=[0]"], "hidden_units"),
    (["train", "realnvp", "--data", "two_moons", "--set", "depth=3"], "depth"),
    (["train", "realnvp", "--data", "two_moons", "--steps", "0"], "--steps"),
    (["train", "glow", "--data", "two_moons"], "event_shape"),
    (["train", "realnvp", "--data", "two_moons", "--conditional"], "needs labeled data"),
    (["train", "realnvp", "--data", "digits", "--patience", "0"], "--patience"),
])
def test_bad_input_fails_cleanly_without_output(argv, match, tmp_path, capsys):
    out = tmp_path / "never"
    assert main(argv + ["--out", str(out)]) == 2
    assert match in capsys.readouterr().err
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_diverging_run_fails_with_one_line_and_no_directory(tmp_path, capsys):
    bad = np.random.default_rng(0).normal(size=(100, 2)) * 1e30  # overflows float32
    np.save(tmp_path / "huge.npy", bad)
    out = tmp_path / "run"
    assert main(["train", "realnvp", "--data", str(tmp_path / "huge.npy"), "--steps", "5",
                 "--set", "hidden_units=[4]", "--set", "num_couplings=1",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("tfgen train: error: the training loss (negative log-likelihood) is not "
                       "finite at step 1; lower the learning rate or check the data. The "
                       "learning rate was 0.001.")
    assert sorted(os.listdir(tmp_path)) == ["huge.npy"]


def test_models_and_data_say_what_can_be_trained_on_what(capsys):
    from tfgen import registry

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    for name in registry.MODELS:
        assert f"\n{name} " in "\n" + listing
    assert "realnvp    family=flow likelihood=exact" in listing
    assert "RealNVP(event_shape, num_couplings=8, hidden_units=" in listing
    assert main(["data"]) == 0
    listing = capsys.readouterr().out
    for name in ("two_moons", "digits", "tfds:mnist", "FILE.npy"):
        assert name in listing


def test_console_script_is_registered_with_all_commands():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "tfgen"]
    assert script.value == "tfgen.cli:main"
    help_text = build_parser().format_help()
    for command in ("train", "eval", "sample", "export"):
        assert command in help_text
