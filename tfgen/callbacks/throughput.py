"""`Throughput`: steady-state training steps per second, measured by `fit`."""

import time

import keras

__all__ = ["Throughput"]


class Throughput(keras.callbacks.Callback):
    """Measures training steps per second without tracing and validation.

    The clock starts when the first execution of the train function ends (it
    traced and compiled the step) and stops when training ends; validation
    passes inside `fit` are taken out. Everything else between steps, the
    input pipeline and the other callbacks, is counted: this is the rate a
    run trains at.

    Attributes:
      steps_per_second: the steady-state rate, or None when training ended
        within its first execution.
      seconds: wall time of the whole `fit`, tracing and validation included.
      excluded_seconds: time within the steady state that is not training
        either (set by the caller: sample-quality measurements), taken out
        of `steps_per_second`.

    Example:

    ```python
    throughput = Throughput()
    model.fit(data, epochs=3, callbacks=[throughput])
    throughput.steps_per_second
    ```
    """

    def __init__(self):
        super().__init__()
        self.excluded_seconds = 0.0
        self._steady = None  # (steps, seconds) of the steady state

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._clock = None  # (time, steps) after the first execution
        self._validating_since = None
        self._validation_seconds = 0.0
        self._steady = None
        self.seconds = None

    @property
    def steps_per_second(self):
        if self._steady is None:
            return None
        steps, seconds = self._steady
        return steps / (seconds - self.excluded_seconds)

    def _steps(self):
        return int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        if self._clock is None:
            self._clock = (time.perf_counter(), self._steps())
            self._validation_seconds = 0.0

    def on_test_begin(self, logs=None):
        self._validating_since = time.perf_counter()

    def on_test_end(self, logs=None):
        if self._clock is not None:
            self._validation_seconds += time.perf_counter() - self._validating_since

    def on_train_end(self, logs=None):
        now = time.perf_counter()
        self.seconds = now - self._start
        if self._clock is not None and self._steps() > self._clock[1]:
            self._steady = (self._steps() - self._clock[1],
                            now - self._clock[0] - self._validation_seconds)
