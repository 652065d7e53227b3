"""`tfgen train` killed mid-run resumes from its checkpoint to the weights
of an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import tfgen.flows  # noqa: F401  registers the classes the runs saved

# Long enough (several seconds) to be killed after its first checkpoint.
_TRAIN = ["train", "realnvp", "--data", "two_moons", "--steps", "4000",
          "--checkpoint-every", "500", "--batch-size", "64", "--seed", "3",
          "--set", "num_couplings=2", "--set", "hidden_units=[16]"]


def _command(out):
    return [sys.executable, "-m", "tfgen.cli", *_TRAIN, "--out", os.fspath(out)]


def _run(out):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(_command(out), capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    # A user's console: the progress bar and tfgen's lines, no TensorFlow
    # C++ log lines and no warnings.
    assert done.stderr == ""
    return done


def _kill_after_first_checkpoint(out):
    """Starts the run, kills it (SIGKILL) once a checkpoint is written;
    returns the checkpoint's step."""
    state = out.parent / (out.name + ".checkpoint") / "state.json"
    process = subprocess.Popen(_command(out), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not state.exists():
            assert process.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return json.loads(state.read_text())["step"]


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    killed = tmp_path / "killed"
    step = _kill_after_first_checkpoint(killed)
    assert 0 < step < 4000 and step % 500 == 0
    assert not killed.exists()  # nothing half-written

    resumed = _run(killed)
    assert f"resuming from the checkpoint of step {step}" in resumed.stdout
    _run(tmp_path / "whole")

    run = json.loads((killed / "run.json").read_text())
    assert run["resumed_from_step"] == step and run["steps"] == 4000
    assert json.loads((tmp_path / "whole" / "run.json").read_text())["resumed_from_step"] is None
    assert not (tmp_path / "killed.checkpoint").exists()

    a = keras.models.load_model(killed / "model.keras")
    b = keras.models.load_model(tmp_path / "whole" / "model.keras")
    assert a.optimizer.iterations.numpy() == b.optimizer.iterations.numpy() == 4000
    for x, y in zip(a.weights + a.optimizer.variables, b.weights + b.optimizer.variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path):
    from tfgen.callbacks import PeriodicCheckpoint
    from tfgen.training import train

    model = tfgen.flows.RealNVP([2], num_couplings=1, hidden_units=[4])
    model.compile(optimizer="adam")
    model.build_optimizers()
    checkpoint = PeriodicCheckpoint(tmp_path / "run.checkpoint", 1, state={"run": {"seed": 99}})
    checkpoint.set_model(model)
    checkpoint.save(1)
    with pytest.raises(ValueError, match="`--out`.*checkpoint of a different run"):
        train("realnvp", "two_moons", tmp_path / "run", steps=2, verbose=0)
    assert not (tmp_path / "run").exists()
