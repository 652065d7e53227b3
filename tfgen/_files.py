"""Writing outputs whole or not at all, with the permissions the umask gives.

`tempfile` makes private (0700 / 0600) staging files; what tfgen moves into
place gets the mode a plain `mkdir` or `open` would have given it.
"""

import contextlib
import os
import shutil
import tempfile

__all__ = ["staged_dir", "write_atomically"]


def _umask():
    """The process's umask, read without changing it where Linux tells it
    (setting it, the only portable way, affects files other threads create)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o077)  # meanwhile, files come out private, never open
    os.umask(umask)
    return umask


@contextlib.contextmanager
def staged_dir(path, replace=False):
    """Yields a staging directory beside `path` that becomes `path` when the
    block succeeds and is removed when it fails or is interrupted.

    Args:
      path: the directory to create; it may exist only as an empty
        directory, unless `replace`.
      replace: an existing `path` is removed (once the block has succeeded).

    Raises:
      ValueError: `path` could not take the finished output (it was filled
        meanwhile, say); the staging directory is kept, and named.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)
    try:
        os.chmod(staging, 0o777 & ~_umask())
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        if os.path.isdir(path) and replace:
            shutil.rmtree(path)
        elif os.path.isdir(path):
            os.rmdir(path)  # empty when the caller checked; not if filled since
        os.replace(staging, path)
    except OSError as error:
        raise ValueError(
            f"{path!r} could not take the output ({error.strerror}); it is kept in "
            f"{staging!r}.") from None


def write_atomically(path, write):
    """Calls `write(temporary_path)` (same folder and suffix as `path`),
    then moves the file to `path`: a failure leaves no partial file."""
    folder, name = os.path.split(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.partial-",
                                         suffix=os.path.splitext(name)[1], dir=folder)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise
