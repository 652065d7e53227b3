"""Checks of what users hand a model: samples, labels, counts.

Each check works on NumPy arrays and Python values (raising `TypeError` or
`ValueError` that name the argument and the received value) and on tensors.
Values known when the check runs (NumPy, eager tensors) are checked at once;
values of a graph (a traced `train_step`, an exported signature) get
`tf.debugging` assertions that fail at run time with the same message.
"""

import numbers

import numpy as np
import tensorflow as tf

__all__ = [
    "check_count",
    "check_label_dtype",
    "check_labels",
    "check_sample_spec",
    "check_samples",
]

_DEQUANTIZE_HINT = (
    "discrete data (e.g. digits' 0..16 levels) needs dequantization first: "
    "tfgen.data.load_data(name).dataset(...) yields model-space floats, or use "
    "tfgen.data.Dequantizer")


def check_sample_spec(dtype, shape, event_shape, name="x"):
    """Raises unless `dtype` is floating and `shape` is `[batch, *event_shape]`."""
    dtype, shape = tf.as_dtype(dtype), tf.TensorShape(shape)
    if not dtype.is_floating:
        raise TypeError(
            f"`{name}` must hold floats; received dtype {dtype.name}: {_DEQUANTIZE_HINT}.")
    rank = len(event_shape)
    if shape.rank is not None and (
            shape.rank <= rank or not shape[-rank:].is_compatible_with(event_shape)):
        raise ValueError(
            f"`{name}` must have shape [batch, {', '.join(map(str, event_shape))}]; "
            f"received shape {shape.as_list()}.")


def check_samples(x, event_shape, dtype, name="x"):
    """`x` `[batch, *event_shape]` of floats, as a `dtype` tensor."""
    if not tf.is_tensor(x):
        x = np.asarray(x)
    check_sample_spec(x.dtype, x.shape, event_shape, name)
    return tf.cast(x, dtype)


def check_label_dtype(dtype, num_classes, name="condition"):
    """Raises unless `dtype` is an integer dtype."""
    if not tf.as_dtype(dtype).is_integer:
        raise TypeError(
            f"`{name}` must be int class labels in [0, {num_classes}); received dtype "
            f"{tf.as_dtype(dtype).name}.")


def check_labels(labels, num_classes, name="condition"):
    """Int labels in `[0, num_classes)` as an int32 tensor."""
    if not tf.is_tensor(labels):
        labels = np.asarray(labels)
    check_label_dtype(labels.dtype, num_classes, name)
    message = f"`{name}` labels must be in [0, {num_classes})"
    value = tf.get_static_value(labels)
    if value is not None:
        value = np.asarray(value)
        bad = (value < 0) | (value >= num_classes)
        if np.any(bad):
            raise ValueError(f"{message}; received {value[bad][:5].tolist()}.")
        return tf.cast(labels, tf.int32)
    labels = tf.cast(labels, tf.int32)
    with tf.control_dependencies([
            tf.debugging.assert_non_negative(labels, message=message),
            tf.debugging.assert_less(labels, num_classes, message=message)]):
        return tf.identity(labels)


def check_count(n, name="n"):
    """A number of samples: a positive Python int or an int scalar tensor."""
    if tf.is_tensor(n):
        if not n.dtype.is_integer or n.shape.rank not in (None, 0):
            raise TypeError(
                f"`{name}` must be an int scalar; received a {n.dtype.name} tensor of shape "
                f"{n.shape.as_list() if n.shape.rank is not None else 'unknown'}.")
        value = tf.get_static_value(n)
        if value is None:
            with tf.control_dependencies([tf.debugging.assert_positive(
                    n, message=f"`{name}` must be >= 1")]):
                return tf.identity(tf.cast(n, tf.int32))
        n = value.item()
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"`{name}` must be an int; received {n!r}.")
    if n < 1:
        raise ValueError(f"`{name}` must be >= 1; received {n!r}.")
    return int(n)
