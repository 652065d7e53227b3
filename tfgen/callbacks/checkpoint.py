"""`PeriodicCheckpoint`: the whole training state every K steps, for resuming.

A checkpoint is one `.keras` file (weights, every optimizer with its slots
and step count, the weight averages of `ema_decay` models) and a
`state.json` next to it naming the step and the run it belongs to. Each is
replaced atomically, so a process killed at any moment leaves a whole
`.keras` file; `state.json` may then name the step before it, so resuming
reads the step from the restored optimizer.

tfgen's training data are a function of the step (`DataSource.dataset`'s
`start_batch`) and its dequantization noise is stateless, so the step is
the data position and the random state: `tfgen.training.train` resumes a
run from the checkpoint to the same weights an uninterrupted run reaches.
"""

import json
import os

import keras

from tfgen._files import write_atomically

__all__ = ["PeriodicCheckpoint", "read_checkpoint"]

MODEL_FILE, STATE_FILE = "checkpoint.keras", "state.json"


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `directory` every `every` training steps.

    The step is `model.optimizer.iterations`; with `steps_per_execution`
    set in `compile`, checkpoints land exactly every `every` steps when the
    execution size divides `every`.

    Args:
      directory: where `checkpoint.keras` and `state.json` go (created).
      every: steps between checkpoints.
      state: JSON-ready facts stored with each checkpoint (the run's
        settings, checked when resuming).

    Example:

    ```python
    model.fit(data, steps_per_epoch=1000, callbacks=[PeriodicCheckpoint("ckpt", 100)])
    step, state = read_checkpoint("ckpt")
    model.load_weights("ckpt/checkpoint.keras")  # weights, optimizers, EMA
    ```
    """

    def __init__(self, directory, every, state=None):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be a positive int; received {every!r}.")
        self.directory = os.fspath(directory)
        self.every = every
        self.state = dict(state or {})
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0 and step != self._last:
            self.save(step)

    def save(self, step):
        """Writes the checkpoint of `step` now."""
        os.makedirs(self.directory, exist_ok=True)
        write_atomically(os.path.join(self.directory, MODEL_FILE), self.model.save)
        state = {**self.state, "step": step}
        write_atomically(os.path.join(self.directory, STATE_FILE),
                         lambda path: _write_json(path, state))
        self._last = step


def read_checkpoint(directory):
    """`(step, state)` of the checkpoint in `directory`, or `(None, None)`."""
    path = os.path.join(directory, STATE_FILE)
    if not (os.path.isfile(path) and os.path.isfile(os.path.join(directory, MODEL_FILE))):
        return None, None
    with open(path) as f:
        state = json.load(f)
    return state["step"], state


def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
