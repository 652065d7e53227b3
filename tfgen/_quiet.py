"""A console without TensorFlow's C++ log lines, for the command line.

TensorFlow's C++ libraries log to the process's stderr (file descriptor 2)
before, and regardless of, Python's logging: `I0000 00:00:... port.cc:153]
oneDNN custom operations are on`, CUDA probes on machines without GPUs, and
the like, some of them before `TF_CPP_MIN_LOG_LEVEL` is read. `quiet_console`
routes descriptor 2 through a filter that drops the info and warning lines
(and the CUDA probe's error on machines without GPUs) and passes everything
else (C++ errors, tracebacks, tfgen's own messages) on unchanged; Python
warnings and absl logging are silenced within.
"""

import contextlib
import os
import re
import sys
import threading
import warnings

__all__ = ["quiet_console"]

# C++ info and warning lines ("I0000 00:00:1796166470.999 25933 port.cc:153]
# ..."), their absl preamble, and the continuation line of the CPU-feature
# notice; errors (E) and fatal lines (F) pass, except the CUDA probes' (no
# driver; plugin factories registered twice).
_NOISE = re.compile(
    rb"^([IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    rb"|E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ cuda_\w+\.cc:\d+\] "
    rb"(failed call to cuInit|Unable to register cu\w+ factory)"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow)")


@contextlib.contextmanager
def quiet_console():
    """Within, C++ log lines written to stderr are dropped."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forward = threading.Thread(target=_forward, args=(read_end, saved), daemon=True)
    forward.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _quiet_absl()
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread ends
        forward.join(timeout=5)
        if not forward.is_alive():  # else a child still holds the pipe: keep `saved`
            os.close(saved)


def _forward(read_end, out):
    with os.fdopen(read_end, "rb") as lines:
        for line in lines:
            if not _NOISE.match(line):
                os.write(out, line)


def _quiet_absl():
    try:
        from absl import logging as absl_logging
    except ImportError:
        return
    absl_logging.set_verbosity(absl_logging.ERROR)
