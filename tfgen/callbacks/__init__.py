"""Keras callbacks for tfgen's training runs."""

from tfgen.callbacks.step_budget import StopAtStep
from tfgen.callbacks.throughput import Throughput

__all__ = ["StopAtStep", "Throughput"]
