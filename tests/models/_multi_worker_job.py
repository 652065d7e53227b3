"""The training job of tests/models/test_multi_worker.py, shared by the test
(one process) and its workers.

As a worker (`TF_CONFIG` names the cluster and this worker's index):

    python -m tests.models._multi_worker_job WEIGHTS.npz OUT.json

trains under `MultiWorkerMirroredStrategy` from the weights in WEIGHTS.npz
and writes what `train` returns to OUT.json.
"""

import json
import sys

import keras
import numpy as np
import tensorflow as tf

from tfgen import flows
from tfgen.models.distributed import shard_by_data

STEPS = 5
GLOBAL_BATCH = 16  # 8 per worker


def make_model():
    return flows.RealNVP(event_shape=[2], num_couplings=2, hidden_units=[8])


def data():
    """`STEPS` global batches of an anisotropic, shifted Gaussian."""
    x = np.random.default_rng(0).normal(size=(STEPS * GLOBAL_BATCH, 2))
    return (x * [2.0, 0.5] + [1.0, 0.0]).astype(np.float32)


class StepLosses(keras.callbacks.Callback):
    """The NLL of each step (Keras logs the epoch's running mean)."""

    def on_train_begin(self, logs=None):
        self.losses, self._total = [], 0.0

    def on_train_batch_end(self, batch, logs=None):
        total = float(logs["nll"]) * (batch + 1)
        self.losses.append(total - self._total)
        self._total = total


def train(strategy, weights):
    """Trains `STEPS` steps from `weights` under `strategy`; returns the
    per-step losses, the epoch's NLL and the final weights."""
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = make_model()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.Adam(0.01))
    dataset = shard_by_data(tf.data.Dataset.from_tensor_slices(data()).batch(GLOBAL_BATCH))
    steps = StepLosses()
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0, callbacks=[steps])
    return {"losses": steps.losses, "epoch_nll": history.history["nll"][0],
            "weights": [w.tolist() for w in model.get_weights()]}


def main(weights_path, out_path):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with np.load(weights_path) as saved:
        weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]  # np.savez order
    result = train(strategy, weights)
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
