"""`LossAwareTimesteps`: importance sampling of a diffusion model's training
timesteps from the history of its losses (Nichol & Dhariwal 2021,
section 3.3).

The training loss is an average over t ~ U{0 .. T-1}. Drawing t from any
p with p_t > 0 and weighting each example by 1 / (T p_t) keeps it
unbiased,

    E_{t ~ p}[ L_t / (T p_t) ] = (1 / T) sum_t E[L_t],

and the estimate's variance is smallest at p_t proportional to
sqrt(E[L_t^2]). That second moment is estimated from the last K losses
seen at each t (uniform draws until every t has K of them), and a little
of the uniform is mixed in so that no t is starved:

    p_t = (1 - u) sqrt(mean_k h[t, k]^2) / sum_s sqrt(mean_k h[s, k]^2) + u / T

The history lives in two non-trainable weights (saved with the model);
`record` takes the losses of the global batch, so every replica of a
distributed step keeps the same history.

Example:

```python
timesteps = LossAwareTimesteps(1000)
t = timesteps.draw(128, seed=[0, 1])
weights = timesteps.importance_weights(t)           # before `record` changes p
# ... per-example losses [128] at t ...
timesteps.record(t, tf.stop_gradient(losses))
loss = tf.reduce_mean(weights * losses)
```

References:
  Nichol & Dhariwal, "Improved Denoising Diffusion Probabilistic Models",
  ICML 2021.
"""

import keras
import tensorflow as tf

from tfgen._validation import check_positive_int

__all__ = ["LossAwareTimesteps"]


@keras.saving.register_keras_serializable(package="tfgen")
class LossAwareTimesteps(keras.layers.Layer):
    """Timesteps drawn in proportion to the root mean square of their
    recent losses.

    Args:
      num_timesteps: T.
      history: K, the losses kept per timestep (a ring buffer).
      uniform_fraction: u, the uniform distribution's share of p.
    """

    def __init__(self, num_timesteps, history=10, uniform_fraction=0.001, **kwargs):
        super().__init__(**kwargs)
        self.num_timesteps = check_positive_int("num_timesteps", num_timesteps)
        self.history = check_positive_int("history", history)
        if not 0 < uniform_fraction <= 1:
            raise ValueError(f"`uniform_fraction` must be in (0, 1]; received "
                             f"{uniform_fraction!r}.")
        self.uniform_fraction = float(uniform_fraction)
        # Every replica records the same global batch: the first's write stands.
        self.loss_history = self.add_weight(
            shape=[self.num_timesteps, self.history], initializer="zeros", trainable=False,
            name="loss_history", aggregation="only_first_replica")
        self.counts = self.add_weight(
            shape=[self.num_timesteps], initializer="zeros", dtype="int32", trainable=False,
            name="counts", aggregation="only_first_replica")
        self.built = True

    @property
    def warm(self):
        """Whether every timestep has its K losses (bool tensor)."""
        return tf.reduce_all(self.counts >= self.history)

    def probabilities(self):
        """p `[T]` (float32): uniform until `warm`, then as the module says."""
        uniform = tf.fill([self.num_timesteps], 1.0 / self.num_timesteps)
        rms = tf.sqrt(tf.reduce_mean(tf.square(self.loss_history), axis=-1))
        total = tf.reduce_sum(rms)
        usable = self.warm & (total > 0)
        weighted = (1 - self.uniform_fraction) * rms / tf.where(usable, total, 1.0)
        return tf.where(usable, weighted + self.uniform_fraction * uniform, uniform)

    def draw(self, n, seed):
        """`n` timesteps (int32) drawn from p with the stateless `[2]` `seed`."""
        logits = tf.math.log(self.probabilities())[None]
        return tf.random.stateless_categorical(logits, n, seed, dtype=tf.int32)[0]

    def importance_weights(self, t):
        """The weights 1 / (T p_t) of timesteps `t` that keep the loss unbiased."""
        return 1.0 / (self.num_timesteps * tf.gather(self.probabilities(), t))

    def record(self, t, losses):
        """Adds the losses `[n]` seen at timesteps `t` `[n]` to the history,
        in order (of one timestep drawn more than K times in the batch, the
        last K stay)."""
        t = tf.cast(t, tf.int32)
        losses = tf.cast(losses, self.loss_history.dtype)
        same = tf.cast(tf.equal(t[:, None], t[None, :]), tf.int32)
        n = tf.shape(t)[0]
        earlier = tf.linalg.band_part(tf.ones([n, n], tf.int32), 0, -1) - tf.eye(
            n, dtype=tf.int32)  # [i, j]: i < j
        # Of each entry's timestep, the entries before it and after it.
        before = tf.reduce_sum(same * earlier, axis=0)
        after = tf.reduce_sum(same, axis=1) - 1 - before
        # Only the last K of a timestep are written, so no two writes share a
        # slot (the order of duplicate scatter indices is unspecified).
        kept = tf.where(after < self.history)[:, 0]
        slot = (tf.gather(self.counts, t) + before) % self.history
        index = tf.stack([tf.gather(t, kept), tf.gather(slot, kept)], axis=1)
        self.loss_history.assign(tf.tensor_scatter_nd_update(
            self.loss_history, index, tf.gather(losses, kept)))
        self.counts.assign(tf.tensor_scatter_nd_add(self.counts, t[:, None], tf.ones_like(t)))

    def get_config(self):
        return {**super().get_config(), "num_timesteps": self.num_timesteps,
                "history": self.history, "uniform_fraction": self.uniform_fraction}
