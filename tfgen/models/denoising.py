"""`DenoisingModel`: what diffusion and score models share.

Both learn from noised copies of the data, with one per-example loss
(`example_losses`: DDPM's simple loss, a score-matching objective) and
one `loss_tracker`; their networks see discrete data at the levels k
scaled to [-1, 1], 2 k / (L - 1) - 1, and return samples at the nearest
level's bin centre (continuous data as they are).
"""

import keras
import tensorflow as tf

__all__ = ["DenoisingModel"]


class DenoisingModel:
    """A mixin for `GenerativeModel`s with `example_losses(x, condition,
    seed, training) -> [batch]` of network-space `x`, a `loss_tracker`
    and a `train_key` (the stateless key of their training noise)."""

    train_key = 0

    def _to_network(self, x):
        """Model space -> the network's space (float32)."""
        x = tf.cast(x, tf.float32)
        return x if self.dequantizer is None else self.dequantizer.to_signed_levels(x)

    def _to_model_space(self, x):
        """The network space's samples in model space: discrete data at
        their nearest level's bin centre."""
        x = tf.cast(x, tf.float32)
        return x if self.dequantizer is None else self.dequantizer.from_signed_levels(x)

    def train_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        x = self._to_network(x)
        # The same on every replica: the noise is drawn over the global batch.
        seed = self.step_seed(self.train_key, per_replica=False)
        with tf.GradientTape() as tape:
            losses = self.example_losses(x, condition, seed, training=True)
            loss = self.global_mean(losses)
        self.minimize(tape, loss, self.trainable_weights)
        self.update_ema()
        self.loss_tracker.update_state(losses)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._condition(condition, tf.shape(x)[0])
        self.loss_tracker.update_state(self.example_losses(
            self._to_network(x), condition, tf.constant([2, self.train_key]), training=False))
        return {m.name: m.result() for m in self.metrics}
