"""`export(model, path)`: a SavedModel with serving signatures.

The SavedModel needs nothing from tfgen (or TFP) to load: its signatures are
plain TensorFlow graphs. Each model family lists its endpoints in
`serving_endpoints()`: name -> (function returning a dict, input signature).
A model that keeps a moving average of its weights (`ema_decay`) exports
the averages.
Flows export `log_prob(x)` and `sample(n, seed)`, in model space; flows of
discrete data (with a dequantizer) add the data's integer levels: see
`tfgen.flows.Flow.serving_endpoints`.

    loaded = tf.saved_model.load(path)
    loaded.signatures["log_prob"](x=x)["log_prob"]
    loaded.signatures["sample"](n=tf.constant(16), seed=tf.constant(0))["samples"]
"""

import os

from keras.export import ExportArchive

from tfgen._files import staged_dir

__all__ = ["export"]


def export(model, path, overwrite=False):
    """Writes `model` as a SavedModel at `path`; returns `path`.

    The SavedModel is written next to `path` and moved into place only when
    complete, so a failure leaves nothing at `path`.

    Args:
      model: a tfgen model (it has `serving_endpoints()`).
      path: output directory.
      overwrite: replace an existing `path`.

    Raises:
      TypeError: `model` is not a tfgen model.
      ValueError: `path` exists and `overwrite` is False.
    """
    if not hasattr(model, "serving_endpoints") or not hasattr(model, "averaged_weights"):
        raise TypeError(
            f"`model` must be a tfgen model with serving_endpoints(); received "
            f"{type(model).__name__}.")
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"`path` {path!r} exists; pass overwrite=True to replace it.")
    # Models that keep weight averages serve them: the weights hold the
    # averages while the endpoints are traced and the variables written.
    with model.averaged_weights(), staged_dir(path, replace=overwrite) as staging:
        archive = ExportArchive()
        archive.track(model)
        for name, (fn, signature) in model.serving_endpoints().items():
            archive.add_endpoint(name, fn, input_signature=signature)
        archive.write_out(staging, verbose=False)
    return path
