"""Keras callbacks for tfgen's training runs."""

from tfgen.callbacks.checkpoint import PeriodicCheckpoint, read_checkpoint
from tfgen.callbacks.sample_grid import SampleGrid
from tfgen.callbacks.sample_quality import KEEP_BEST, SampleQuality
from tfgen.callbacks.step_budget import StopAtStep
from tfgen.callbacks.throughput import Throughput

__all__ = ["KEEP_BEST", "PeriodicCheckpoint", "SampleGrid", "SampleQuality", "StopAtStep",
           "Throughput", "read_checkpoint"]
