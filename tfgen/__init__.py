"""tfgen: deep generative models for TensorFlow.

Subpackages: `bijectors` (pure TFP bijectors), `flows` (Keras flow models),
`data` (toys, digits, files, TFDS), `testing` (public checks), `export`
(SavedModels), `registry` (model names), `cli` (the `tfgen` command).
"""

from tfgen import bijectors, data, export, flows, registry, testing

__version__ = "0.1.0"

__all__ = ["bijectors", "data", "export", "flows", "registry", "testing", "__version__"]
