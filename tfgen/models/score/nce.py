"""Energy models trained by telling data from noise: noise-contrastive
estimation (`NCE`, a fixed noise q) and flow-contrastive estimation
(`FCE`, a tfgen flow as q, trained against the energy model).

    log p(u) = -E(u) - c                        (c: a learned log Z)
    G(u)     = log p(u) - log q(u) - log nu     (nu noise draws per example)
    loss     = softplus(-G(x)) + sum_{j <= nu} softplus(G(y_j)),  y_j ~ q

the logistic loss of the classifier D = sigmoid(G) between data x and
noise y. Its minimizer over (E, c) is p = p_data when q covers the data,
with c then the log-normalizer of exp(-E) (Gutmann & Hyvarinen 2010). FCE
(Gao et al. 2020) alternates that step with one of the flow minimizing
-loss: the flow moves towards the data where the classifier tells it
apart, and the energy model learns from ever harder noise.

References:
  Gutmann & Hyvarinen, "Noise-contrastive estimation: A new estimation
  principle for unnormalized statistical models", AISTATS 2010.
  Gao, Nijkamp, Kingma, Xu, Dai & Wu, "Flow Contrastive Estimation of
  Energy-Based Models", CVPR 2020.
"""

import math

import keras
import tensorflow as tf

from tfgen import registry
from tfgen._validation import check_positive_int
from tfgen.models.distributed import replica_rows
from tfgen.models.score.energy import EnergyModel

__all__ = ["FCE", "NCE", "contrastive_losses"]

_TRAIN_KEY = 0x0CE


def contrastive_losses(log_ratio_data, log_ratio_noise):
    """Per-example NCE losses `[b]` from the log-ratios G of the data `[b]`
    and of their noise draws `[b, nu]`."""
    return tf.nn.softplus(-log_ratio_data) + tf.reduce_sum(tf.nn.softplus(log_ratio_noise), -1)


@keras.saving.register_keras_serializable(package="tfgen")
class NCE(EnergyModel):
    """Noise-contrastive estimation with the data's Gaussian fit as noise.

    Args:
      event_shape, energy_network, hidden_units, spectral_norm,
        sampling_steps, step_size, dequantizer, ema_decay, ema_warmup: see
        `EnergyModel`.
      noise_ratio: nu, noise draws per data example.

    Example:

    ```python
    model = NCE([2])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x_train, batch_size=256, epochs=20)
    model.log_normalizer   # c, the learned log Z
    ```
    """

    loss_name = "noise-contrastive loss"

    def __init__(self, event_shape, noise_ratio=1, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.noise_ratio = check_positive_int("noise_ratio", noise_ratio)
        self.log_normalizer = self.add_weight(shape=[], initializer="zeros",
                                              name="log_normalizer")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def noise_log_prob(self, y):
        return self.data_gaussian().log_prob(y)

    def noise_draws(self, n, seed):
        """`[n, nu, d]` noise draws (over the global batch)."""
        nu, d = self.noise_ratio, self.event_size
        return replica_rows(lambda total: tf.reshape(
            self.data_gaussian().sample(total * nu, seed=seed), [-1, nu, d]), n)

    def log_ratio(self, u, training=False):
        """G(u) = -E(u) - c - log q(u) - log nu, for `u` `[..., d]`."""
        shape = tf.shape(u)
        flat = tf.reshape(u, [-1, self.event_size])
        log_p = -self.network_energy(flat, training) - self.log_normalizer
        g = log_p - tf.cast(self.noise_log_prob(flat), tf.float32) - math.log(self.noise_ratio)
        return tf.reshape(g, shape[:-1])

    def losses_of(self, x, noise, training=False):
        """Per-example losses `[b]` and classifier accuracies `[b]`."""
        g_data, g_noise = self.log_ratio(x, training), self.log_ratio(noise, training)
        losses = contrastive_losses(g_data, g_noise)
        accuracy = (tf.cast(g_data > 0, tf.float32) + tf.reduce_sum(
            tf.cast(g_noise < 0, tf.float32), -1)) / (1 + self.noise_ratio)
        return losses, accuracy

    def _energy_variables(self):
        return self.energy_network.trainable_weights + [self.log_normalizer]

    def optimizer_variables(self, name):
        return self._energy_variables()

    def train_step(self, data):
        x = self.examples(data)
        noise = self.noise_draws(tf.shape(x)[0], self.step_seed(_TRAIN_KEY, per_replica=False))
        with tf.GradientTape() as tape:
            losses, accuracy = self.losses_of(x, noise, training=True)
            loss = self.global_mean(losses)
        self.minimize(tape, loss, self._energy_variables())
        self.update_ema()
        self.loss_tracker.update_state(losses)
        self.accuracy_tracker.update_state(accuracy)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x = self.examples(data)
        losses, accuracy = self.losses_of(x, self.noise_draws(tf.shape(x)[0],
                                                              tf.constant([2, _TRAIN_KEY])))
        self.loss_tracker.update_state(losses)
        self.accuracy_tracker.update_state(accuracy)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(), "noise_ratio": self.noise_ratio}


@keras.saving.register_keras_serializable(package="tfgen")
class FCE(NCE):
    """Flow-contrastive estimation: NCE against a tfgen flow trained to
    fool it (see the module docstring).

    Args:
      flow: the registered flow's name ("maf", "realnvp", ...).
      flow_config: its constructor's arguments (beyond `event_shape`).
      **kwargs: `NCE`'s.

    Samples: Langevin dynamics on the energy from the flow's draws.
    `model.flow` is the trained flow (a tfgen `Flow`).
    """

    optimizer_names = ("energy_optimizer", "flow_optimizer")
    loss_name = "flow-contrastive loss"

    def __init__(self, event_shape, flow="maf", flow_config=None, sampling_steps=100, **kwargs):
        super().__init__(event_shape, sampling_steps=sampling_steps, **kwargs)
        self.flow_name, self.flow_config = flow, dict(flow_config or {})
        cls = registry.get_model_class(flow)
        if getattr(cls, "family", None) != "flow":
            raise ValueError(f"`flow` must name a registered flow; received {flow!r}.")
        self.flow = cls(self.event_shape, **self.flow_config)
        self.flow_loss_tracker = keras.metrics.Mean(name="flow_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker, self.flow_loss_tracker]

    def optimizer_variables(self, name):
        if name == "flow_optimizer":
            return self.flow.trainable_weights
        return self._energy_variables()

    def noise_log_prob(self, y):
        return self.flow.log_prob(y)

    def noise_draws(self, n, seed):
        nu = self.noise_ratio
        draws = replica_rows(lambda total: self.flow.draw(total * nu, None, seed), n)
        return tf.reshape(draws, [-1, nu, self.event_size])

    def start_points(self, n, seed):
        """Where sampling chains start: the flow's draws."""
        return self.flow.draw(n, None, seed)

    def prepare_training(self, x, y, batch_size):
        super().prepare_training(x, y, batch_size)
        self.flow.prepare_training(x, y, batch_size)

    def train_step(self, data):
        x = self.examples(data)
        fold = tf.random.experimental.stateless_fold_in
        seed = self.step_seed(_TRAIN_KEY, per_replica=False)
        n = tf.shape(x)[0]
        noise = tf.stop_gradient(self.noise_draws(n, fold(seed, 0)))
        with tf.GradientTape() as tape:
            losses, accuracy = self.losses_of(x, noise, training=True)
            loss = self.global_mean(losses)
        self.minimize(tape, loss, self._energy_variables(), "energy_optimizer")
        with tf.GradientTape() as tape:  # the flow: fool the classifier
            flow_losses = -self.losses_of(x, self.noise_draws(n, fold(seed, 1)), True)[0]
            flow_loss = self.global_mean(flow_losses)
        self.minimize(tape, flow_loss, self.flow.trainable_weights, "flow_optimizer")
        self.update_ema()
        self.loss_tracker.update_state(losses)
        self.accuracy_tracker.update_state(accuracy)
        self.flow_loss_tracker.update_state(flow_losses)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(), "flow": self.flow_name, "flow_config": self.flow_config}
