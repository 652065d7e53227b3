"""The `tfgen` command line end to end, on tiny budgets."""

import json
import os

import numpy as np
import pytest

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


def test_train_digits_multiscale_writes_a_sample_grid(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["train", "realnvp", "--data", "digits", "--steps", "3",
                 "--batch-size", "32", "--set", "hidden_units=[4]",
                 "--set", "num_couplings=1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_examples"] == 360 and np.isfinite(metrics["bits_per_dim"])
    assert (out / "samples.png").stat().st_size > 0


@pytest.mark.parametrize("argv,match", [
    (["train", "flowzilla", "--data", "two_moons"], "Unknown `MODEL` 'flowzilla'"),
    (["train", "realnvp", "--data", "moons"], "Unknown data 'moons'"),
    (["train", "realnvp", "--data", "two_moons", "--set", "hidden_units=[0]"], "hidden_units"),
    (["train", "realnvp", "--data", "two_moons", "--set", "depth=3"], "depth"),
    (["train", "realnvp", "--data", "two_moons", "--steps", "0"], "--steps"),
    (["train", "planar", "--data", "digits"], "event_shape"),
])
def test_bad_input_fails_cleanly_without_output(argv, match, tmp_path, capsys):
    out = tmp_path / "never"
    assert main(argv + ["--out", str(out)]) == 2
    assert match in capsys.readouterr().err
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_failure_during_training_leaves_no_directory(tmp_path):
    bad = np.random.default_rng(0).normal(size=(100, 2)) * 1e30  # overflows float32
    np.save(tmp_path / "huge.npy", bad)
    out = tmp_path / "run"
    with pytest.raises(Exception):
        main(["train", "realnvp", "--data", str(tmp_path / "huge.npy"), "--steps", "5",
              "--set", "hidden_units=[4]", "--out", str(out)])
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["huge.npy"]


def test_console_script_is_registered_with_all_commands():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "tfgen"]
    assert script.value == "tfgen.cli:main"
    help_text = build_parser().format_help()
    for command in ("train", "eval", "sample", "export"):
        assert command in help_text
