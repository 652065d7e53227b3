"""TFDS image datasets (`mnist`, `fashion_mnist`, `cifar10`) with tfgen's
dequantization.

`tfds.load` needs the data already prepared in `data_dir` (nothing is
downloaded here: `download=False`). Tests use `tfds.testing.mock_data`.
"""

from tfgen.data.preprocessing import Dequantizer
from tfgen.data.sources import DataSource

__all__ = ["TFDS_DATASETS", "TfdsSource"]

# name -> image shape; all are 8-bit images (256 levels) in 10 classes.
TFDS_DATASETS = {
    "mnist": [28, 28, 1],
    "fashion_mnist": [28, 28, 1],
    "cifar10": [32, 32, 3],
}
# Validation is the last 10% of TFDS's train split.
_TFDS_SPLITS = {"train": "train[:90%]", "validation": "train[90%:]",
                "test": "test", "all": "train+test"}


class TfdsSource(DataSource):
    """A TFDS image dataset, dequantized from 256 levels.

    Args:
      name: one of `TFDS_DATASETS`.
      logit_alpha: as in `Dequantizer`.
      data_dir: TFDS data directory (default: TFDS's).
    """

    def __init__(self, name, logit_alpha=0.05, data_dir=None):
        if name not in TFDS_DATASETS:
            raise ValueError(
                f"Unknown TFDS `name` {name!r}; choose one of {sorted(TFDS_DATASETS)}.")
        super().__init__(name, TFDS_DATASETS[name],
                         dequantizer=Dequantizer(256, logit_alpha), num_classes=10)
        self.data_dir = data_dir

    def raw(self, split, labels=False):
        import tensorflow as tf
        import tensorflow_datasets as tfds

        try:
            data = tfds.load(self.name, split=_TFDS_SPLITS[split],
                             data_dir=self.data_dir, download=False)
        except AssertionError:  # TFDS asserts that the data is prepared
            builder = tfds.builder(self.name, data_dir=self.data_dir)
            if builder.is_prepared():
                raise
            raise ValueError(
                f"`tfds:{self.name}` is not prepared in {builder.data_dir!r}, and nothing is "
                f"downloaded here: prepare it where the internet is reachable "
                f"(`tfds build {self.name}`) and copy the folder, or pass `data_dir`.") from None
        if labels:
            return data.map(lambda e: (e["image"], tf.cast(e["label"], tf.int32)))
        return data.map(lambda example: example["image"])
