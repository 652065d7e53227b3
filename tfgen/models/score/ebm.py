"""`EBM`: an energy-based model trained by contrastive divergence with
short-run SGLD negatives from a replay buffer (Du & Mordatch 2019).

    x-  = K steps of  x <- x - (eps / 2) dE/dx + noise z   from the buffer
          (a fresh draw of q with probability `reinit_rate`)
    loss = E(x+) - E(x-) + alpha (E(x+)^2 + E(x-)^2)

The gradient of E(x+) - E(x-) estimates that of -log p(x+) (the chain's
x- stands for a sample of the model); alpha keeps the energies near 0.
The negatives go back into the buffer, so chains persist across steps.

References:
  Hinton, "Training Products of Experts by Minimizing Contrastive
  Divergence", Neural Computation 2002.
  Du & Mordatch, "Implicit Generation and Modeling with Energy-Based
  Models", NeurIPS 2019.
"""

import keras
import tensorflow as tf

from tfgen._validation import check_positive_int
from tfgen.models.distributed import gather_replicas, replica_slice
from tfgen.models.score.energy import EnergyModel

__all__ = ["EBM"]

_TRAIN_KEY = 0xEB1


@keras.saving.register_keras_serializable(package="tfgen")
class EBM(EnergyModel):
    """Contrastive divergence with persistent SGLD chains.

    Args:
      event_shape, energy_network, hidden_units, spectral_norm,
        sampling_steps, step_size, dequantizer, ema_decay, ema_warmup: see
        `EnergyModel`.
      sgld_steps: K, the chain's steps per training step.
      sgld_step_size: eps of the training chains.
      sgld_noise: their noise's scale (None: sqrt(eps), Langevin's; Du &
        Mordatch use a smaller one, 0.005 for images).
      buffer_size: chains kept in the replay buffer.
      reinit_rate: the probability a chain restarts from q.
      energy_regularization: alpha.

    Example:

    ```python
    model = EBM([2])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x_train, batch_size=256, epochs=20)
    model.sample(500, seed=0)
    ```
    """

    loss_name = "contrastive divergence loss"

    def __init__(self, event_shape, sgld_steps=20, sgld_step_size=0.01, sgld_noise=None,
                 buffer_size=10000, reinit_rate=0.05, energy_regularization=0.1, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.sgld_steps = check_positive_int("sgld_steps", sgld_steps)
        if not sgld_step_size > 0:
            raise ValueError(f"`sgld_step_size` must be > 0; received {sgld_step_size!r}.")
        self.sgld_step_size = float(sgld_step_size)
        self.sgld_noise = None if sgld_noise is None else float(sgld_noise)
        self.buffer_size = check_positive_int("buffer_size", buffer_size)
        if not 0 <= reinit_rate <= 1:
            raise ValueError(f"`reinit_rate` must be in [0, 1]; received {reinit_rate!r}.")
        self.reinit_rate = float(reinit_rate)
        self.energy_regularization = float(energy_regularization)
        # Every replica writes the same (gathered) chains; the first's are kept.
        self.buffer = self.add_weight(shape=[self.buffer_size, self.event_size],
                                      initializer="zeros", trainable=False, name="buffer",
                                      aggregation="only_first_replica")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.energy_gap_tracker = keras.metrics.Mean(name="energy_gap")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.energy_gap_tracker]

    def prepare_training(self, x, y, batch_size):
        """Fits q (see `EnergyModel`) and fills the buffer with its draws,
        before the first `fit`."""
        fresh = not float(self.data_fitted.numpy())
        super().prepare_training(x, y, batch_size)
        if fresh:
            self.buffer.assign(self.data_gaussian().sample(self.buffer_size, seed=[0, 0xB0F]))

    def negatives(self, n, seed):
        """This replica's `n` chains after K SGLD steps, and their buffer
        rows; chains, restarts and noise are drawn over the global batch."""
        fold = tf.random.experimental.stateless_fold_in
        offset, total = replica_slice(n)

        def rows(values):
            return values if offset is None else values[offset:offset + n]

        # Distinct rows, so that writing the chains back is well defined.
        order = tf.argsort(tf.random.stateless_uniform([self.buffer_size], fold(seed, 0)))
        index = rows(order[:total])
        restart = rows(tf.random.stateless_uniform([total], fold(seed, 1))) < self.reinit_rate
        fresh = rows(self.data_gaussian().sample(total, seed=fold(seed, 2)))
        x = tf.where(restart[:, None], fresh, tf.gather(self.buffer, index))
        eps = self.sgld_step_size
        noise = eps ** 0.5 if self.sgld_noise is None else self.sgld_noise

        def step(i, x):
            z = rows(tf.random.stateless_normal([total, self.event_size], fold(seed, 3 + i)))
            return i + 1, x - 0.5 * eps * self.energy_gradient(x) + noise * z

        x = tf.while_loop(lambda i, _: i < self.sgld_steps, step, (0, x))[1]
        return tf.stop_gradient(x), index

    def train_step(self, data):
        x = self.examples(data)
        seed = self.step_seed(_TRAIN_KEY, per_replica=False)
        negatives, index = self.negatives(tf.shape(x)[0], seed)
        with tf.GradientTape() as tape:
            positive, negative = self.network_energy(x, True), self.network_energy(negatives, True)
            losses = positive - negative + self.energy_regularization * (
                positive ** 2 + negative ** 2)
            loss = self.global_mean(losses)
        self.minimize(tape, loss, self.energy_network.trainable_weights)
        self.buffer.assign(tf.tensor_scatter_nd_update(
            self.buffer, gather_replicas(index)[:, None], gather_replicas(negatives)))
        self.update_ema()
        self.loss_tracker.update_state(losses)
        self.energy_gap_tracker.update_state(negative - positive)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x = self.examples(data)
        negatives = self.start_points(tf.shape(x)[0], tf.constant([2, _TRAIN_KEY]))
        positive, negative = self.network_energy(x), self.network_energy(negatives)
        self.loss_tracker.update_state(positive - negative + self.energy_regularization * (
            positive ** 2 + negative ** 2))
        self.energy_gap_tracker.update_state(negative - positive)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(), "sgld_steps": self.sgld_steps,
                "sgld_step_size": self.sgld_step_size, "sgld_noise": self.sgld_noise,
                "buffer_size": self.buffer_size, "reinit_rate": self.reinit_rate,
                "energy_regularization": self.energy_regularization}
