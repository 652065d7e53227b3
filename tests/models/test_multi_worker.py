"""fit under MultiWorkerMirroredStrategy: two worker processes on localhost
train as one process does on the same global batches (Keras 3 alone fails
there, tensorflow/tensorflow#72388; see tfgen.models.distributed)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgen.models.distributed import in_multi_worker_mode, multi_worker_logs

from tests.helpers import perturb
from tests.models import _multi_worker_job as job

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


def _free_ports(n):
    """`n` distinct ports free now (bound together, then released)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start_workers(tmp_path, n=2):
    workers = [f"localhost:{port}" for port in _free_ports(n)]
    processes = []
    for index in range(n):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
                   TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                         "task": {"type": "worker", "index": index}}))
        with open(tmp_path / f"worker{index}.log", "w") as log:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", job.__name__, str(tmp_path / "weights.npz"),
                 str(tmp_path / f"worker{index}.json")],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    return processes


def _wait(processes, tmp_path, deadline):
    """The workers' results; fails (with their logs) on an error or timeout."""
    results = []
    for index, process in enumerate(processes):
        try:
            code = process.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            code = "timeout"
        if code != 0:
            logs = "\n".join(
                f"--- worker {i}:\n" + (tmp_path / f"worker{i}.log").read_text()[-3000:]
                for i in range(len(processes)))
            raise AssertionError(f"worker {index} exited with {code}\n{logs}")
        results.append(json.loads((tmp_path / f"worker{index}.json").read_text()))
    return results


def test_two_workers_train_as_one_process(tmp_path):
    deadline = time.monotonic() + TIMEOUT_S
    weights = perturb(job.make_model(), scale=0.3).get_weights()
    np.savez(tmp_path / "weights.npz", *weights)
    processes = _start_workers(tmp_path)
    try:
        # One process, on the same global batches, while the workers start;
        # on the CPU as they are (GPUs may round matmuls to TF32).
        expected = job.train(tf.distribute.OneDeviceStrategy("/cpu:0"), weights)
        results = _wait(processes, tmp_path, deadline)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    # The single-process reference: losses are means over global batches.
    with tf.device("/cpu:0"):
        model = job.make_model()
        model.set_weights(weights)
        first_loss = -np.mean(model.log_prob(job.data()[:job.GLOBAL_BATCH]))
    assert len(expected["losses"]) == job.STEPS
    np.testing.assert_allclose(expected["losses"][0], first_loss, rtol=1e-5)
    np.testing.assert_allclose(expected["epoch_nll"], np.mean(expected["losses"]), rtol=1e-5)
    assert any(not np.allclose(w, w0) for w, w0 in zip(expected["weights"], weights))

    for result in results:
        np.testing.assert_allclose(result["losses"], expected["losses"], rtol=1e-5)
        np.testing.assert_allclose(result["epoch_nll"], expected["epoch_nll"], rtol=1e-5)
        for w, w_expected in zip(result["weights"], expected["weights"]):
            np.testing.assert_allclose(w, w_expected, rtol=1e-5, atol=1e-6)


def test_logs_are_unchanged_outside_multi_worker_mode():
    logs = {"nll": tf.constant(1.0)}
    assert not in_multi_worker_mode()
    assert multi_worker_logs(logs) is logs
