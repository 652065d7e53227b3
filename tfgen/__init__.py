"""tfgen: deep generative models for TensorFlow.

Subpackages: `models` (`GenerativeModel`, the contract of every family),
`bijectors` (pure TFP bijectors), `flows` (Keras flow models), `data` (toys,
digits, files, TFDS), `metrics` (FID, KID, IS, energy distance, MMD and the
digits classifier), `evaluation` (one evaluation of any model), `latent`
(latent-space tools for VAEs: interpolations, attribute vectors), `testing`
(public checks), `export` (SavedModels), `registry` (model names),
`training` (a `tfgen train` run), `callbacks`, `errors`, `cli` (the `tfgen`
command).

Subpackages load on first use (`tfgen.flows`, `from tfgen import flows`), so
that `import tfgen` and the command line's argument parsing do not wait for
TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("bijectors", "callbacks", "data", "errors", "evaluation", "export", "flows",
                "latent", "metrics", "models", "registry", "testing", "training")

__all__ = [*_SUBPACKAGES, "__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"tfgen.{name}")
    raise AttributeError(f"module 'tfgen' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
