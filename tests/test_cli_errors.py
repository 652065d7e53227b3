"""What the command line does with bad input and interrupts: one line that
names the user's argument, a non-zero exit, nothing half-written, and no
TensorFlow import before the arguments are checked."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tfgen.cli import main

TINY = ["--set", "hidden_units=[4]", "--set", "num_couplings=1"]


@pytest.fixture
def files(tmp_path):
    """Bad inputs a user can hand the CLI, in `tmp_path`."""
    (tmp_path / "broken.yaml").write_text("hidden_units: [4, 4\n")
    (tmp_path / "list.yaml").write_text("- 4\n- 4\n")
    (tmp_path / "text.npy").write_text("not numpy\n")
    (tmp_path / "afile").write_text("")
    x = np.zeros((9, 2))
    np.savez(tmp_path / "extra.npz", train=x, validation=x, test=x, labels=np.zeros(9))
    np.savez(tmp_path / "renamed.npz", train=x, val=x, test=x)
    return tmp_path


@pytest.mark.parametrize("argv,message", [
    (["--config", "{d}/missing.yaml"], "`--config` '{d}/missing.yaml': No such file or directory."),
    (["--config", "{d}/broken.yaml"], "`--config` '{d}/broken.yaml' is not valid YAML (while "
                                      "parsing a flow sequence"),
    (["--config", "{d}/list.yaml"], "`--config` '{d}/list.yaml' must hold a mapping of "
                                    "constructor arguments; received list."),
    (["--set", "hidden_units=[4, 4"], "`--set` 'hidden_units=[4, 4': the value is not valid YAML"),
    (["--out", "{d}/afile"], "`--out` '{d}/afile' exists and is a file, not a directory."),
    (["--out", "{d}/afile/run"], "`--out` '{d}/afile/run': '{d}/afile' is not a writable "
                                 "directory."),
    (["--data", "{d}/text.npy"], "'{d}/text.npy' is not a NumPy .npy file (numpy.save): "),
    (["--data", "{d}/extra.npz"], "'{d}/extra.npz' must hold exactly the arrays ['train', "
                                  "'validation', 'test'] or a single array; received "
                                  "['labels', 'test', 'train', 'validation']."),
    (["--data", "{d}/renamed.npz"], "received ['test', 'train', 'val']."),
    (["--validation-every", "10"], "`--validation-every` 10 sets how often early stopping "
                                   "validates: pass `--patience` too."),
    (["--validation-every", "10", "--patience", "2", "--epochs", "1"],
     "`--validation-every` 10 applies to `--steps` runs"),
    (["--steps", "0"], "`--steps` must be an int >= 1; received 0."),
    (["--lr", "-1"], "`--lr` must be finite and > 0; received -1.0."),
])
def test_bad_train_input_is_one_line_naming_the_argument(files, argv, message, capsys):
    before = sorted(os.listdir(files))
    # A repeated option takes its last value: the case's.
    argv = ["train", "realnvp", "--data", "two_moons", "--out", "{d}/run", *argv, *TINY]
    assert main([a.format(d=files) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tfgen train: error: ")
    assert message.format(d=files) in err[0]
    assert sorted(os.listdir(files)) == before


def test_unprepared_tfds_data_names_the_dataset(tmp_path):
    from tfgen import data

    source = data.load_data("tfds:mnist", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"`tfds:mnist` is not prepared in .*nothing is "
                                         r"downloaded here.*tfds build mnist"):
        source.dataset("train", 4)


def test_sample_and_export_refuse_bad_outputs(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "planar", "--data", "two_moons", "--steps", "4",
                 "--set", "num_layers=1", "--out", str(run)]) == 0
    capsys.readouterr()
    before = sorted(os.listdir(tmp_path))
    for argv, message in [
        (["sample", str(run), "-n", "3", "--out", str(tmp_path / "no" / "s.npy")],
         f"tfgen sample: error: `--out` '{tmp_path}/no/s.npy': the folder "
         f"'{tmp_path}/no' does not exist."),
        (["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.txt")],
         "tfgen sample: error: `--out` must end in .npy or .png"),
        (["export", str(run), "--out", str(run)],
         f"tfgen export: error: `--out` '{run}' exists; pass --overwrite to replace it."),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(message), err
        assert sorted(os.listdir(tmp_path)) == before
    assert main(["export", str(run), "--out", str(tmp_path / "e")]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "e"), "--overwrite"]) == 0
    assert (tmp_path / "e" / "saved_model.pb").exists()


def test_arguments_are_checked_before_tensorflow_loads(tmp_path):
    """`tfgen --help` and usage errors answer without importing TensorFlow."""
    code = f"""
import sys
from tfgen.cli import main
codes = []
for argv in (["--help"], ["train"], ["train", "realnvp", "--data", "two_moons", "--steps",
             "0", "--out", {str(tmp_path / 'o')!r}], ["frobnicate"],
             ["train", "flowzilla", "--data", "two_moons", "--out", {str(tmp_path / 'o')!r}]):
    try:
        codes.append(main(argv))
    except SystemExit as exit:
        codes.append(exit.code)
print(codes, sorted(m for m in ("tensorflow", "keras", "tensorflow_probability")
                    if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[0, 2, 2, 2, 2] []"


def test_interrupt_exits_130_with_one_line_and_nothing_written(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tfgen.cli import main; sys.exit(main())",
         "train", "maf", "--data", "two_moons", "--steps", "100000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # Shells start background jobs with SIGINT ignored: restore Python's handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert process.stdout.read(1)  # the progress bar: training has started
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.decode().strip().splitlines()[-1] == (
        "tfgen train: interrupted; nothing was written.")
    assert "Traceback" not in err.decode()
    assert os.listdir(tmp_path) == []


def test_steps_budget_is_exact_with_early_stopping(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "realnvp", "--data", "two_moons", "--steps", "50", "--patience", "9",
                 "--validation-every", "15", "--batch-size", "32", *TINY,
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # Validations after steps 15, 30, 45 and 50: the last epoch is cut short.
    assert metrics["steps"] == 50 and metrics["epochs_run"] == 4
    assert metrics["steps_per_execution"] == 5  # divides 15 and 50
    run = json.loads((out / "run.json").read_text())
    assert run["validation_every"] == 15


def test_run_directories_and_samples_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "run"
        assert main(["train", "planar", "--data", "two_moons", "--steps", "4",
                     "--set", "num_layers=1", "--out", str(out)]) == 0
        assert main(["sample", str(out), "-n", "4", "--out", str(tmp_path / "s.npy")]) == 0
    finally:
        os.umask(old)
    assert oct(out.stat().st_mode & 0o777) == oct(0o750)
    assert oct((tmp_path / "s.npy").stat().st_mode & 0o777) == oct(0o640)
