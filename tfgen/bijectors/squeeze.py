"""Squeeze: trade space for channels, [h, w, c] -> [h/2, w/2, 4c]."""

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["Squeeze"]


class Squeeze(tfb.Bijector):
    """Moves each 2x2 spatial block into channels (`tf.nn.space_to_depth`).

    A permutation of the entries, so the log-determinant is 0. Works on any
    number of batch dimensions.

    Args:
      validate_args: Python `bool`.
      name: Python `str` name for ops.

    Example:

    ```python
    import tensorflow as tf, tfgen
    x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
    tfgen.bijectors.Squeeze().forward(x).shape  # [1, 2, 2, 4]
    ```

    References:
      Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
      ICLR 2017, section 3.6.
    """

    def __init__(self, validate_args=False, name="squeeze"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=3,
                is_constant_jacobian=True,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    @staticmethod
    def _apply_to_images(op, x):
        """Runs a [N, h, w, c] op on a tensor with any batch dimensions."""
        batch_shape = tf.shape(x)[:-3]
        images = tf.reshape(x, tf.concat([[-1], tf.shape(x)[-3:]], axis=0))
        out = op(images, 2)
        return tf.reshape(out, tf.concat([batch_shape, tf.shape(out)[1:]], 0))

    def _forward(self, x):
        return self._apply_to_images(tf.nn.space_to_depth, x)

    def _inverse(self, y):
        return self._apply_to_images(tf.nn.depth_to_space, y)

    def _forward_log_det_jacobian(self, x):
        return tf.constant(0.0, dtype=x.dtype)

    def _forward_event_shape(self, input_shape):
        h, w, c = input_shape[-3:]
        _check_even(h, w)
        return input_shape[:-3].concatenate(
            [None if h is None else h // 2, None if w is None else w // 2,
             None if c is None else 4 * c])

    def _inverse_event_shape(self, output_shape):
        h, w, c = output_shape[-3:]
        return output_shape[:-3].concatenate(
            [None if h is None else 2 * h, None if w is None else 2 * w,
             None if c is None else c // 4])

    def _forward_event_shape_tensor(self, input_shape):
        return tf.concat(
            [input_shape[:-3], input_shape[-3:-1] // 2, 4 * input_shape[-1:]], 0)

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.concat(
            [output_shape[:-3], 2 * output_shape[-3:-1], output_shape[-1:] // 4],
            0)


def _check_even(h, w):
    if (h is not None and h % 2) or (w is not None and w % 2):
        raise ValueError(
            f"Squeeze needs even height and width; received [{h}, {w}].")
