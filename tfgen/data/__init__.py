"""Data: 2D toys with exact densities, digits, user files, TFDS images."""

from tfgen.data.builtin import digits, digits_split, toy_source
from tfgen.data.catalog import DATA_NAMES, load_data
from tfgen.data.files import file_source
from tfgen.data.preprocessing import Dequantizer
from tfgen.data.sources import ArraySource, DataSource
from tfgen.data.tfds_loaders import TFDS_DATASETS, TfdsSource
from tfgen.data.toys import TOYS, Toy, get_toy

__all__ = [
    "ArraySource",
    "DATA_NAMES",
    "DataSource",
    "Dequantizer",
    "TFDS_DATASETS",
    "TOYS",
    "TfdsSource",
    "Toy",
    "digits",
    "digits_split",
    "file_source",
    "get_toy",
    "load_data",
    "toy_source",
]
