"""`Flow`: the Keras model every normalizing flow in tfgen is built on.

A flow owns Keras layers (the weights) and, on every call, builds from them a
pure TFP bijector in the normalizing direction `f: data -> latent`. Then

    log p(x) = log N(f(x); 0, I) + log|det df/dx|

and sampling draws `z ~ N(0, I)` and returns `f^{-1}(z)`.
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import check_event_shape

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["Flow"]


def stateless_seed(seed):
    """An int seed (Python or tensor) as the `[2]` int32 seed TFP reads as
    stateless, so equal seeds give equal samples."""
    return tf.stack([tf.constant(0x7F6E, tf.int32), tf.cast(seed, tf.int32)])


class Flow(keras.Model):
    """Base class of tfgen's flows: `log_prob`, `sample`, `fit` by NLL.

    Subclasses create their layers in `__init__` and implement
    `normalizing_bijector()`, which returns a fresh `tfb.Bijector` mapping
    data to latent, built from those layers.

    `train_step` minimizes the negative log-likelihood (nats) averaged over the
    global batch (under `tf.distribute`, each replica's mean is divided by the
    number of replicas, and the optimizer sums the replicas' gradients);
    `train_step` and `test_step` report `nll` and `bits_per_dim`
    (`nll / (D ln 2)`, `D` the event size, of the data as the model sees it).
    A non-finite loss stops training with an `InvalidArgumentError`.

    Attributes:
      event_shape: the shape of one example.
      bijector: a fresh `tfb.Bijector` mapping latent to data (TFP's
        sampling direction), for use in plain TFP code.
      distribution: `tfd.TransformedDistribution(base, bijector)`.
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_event_shape(event_shape)
        self.event_size = int(np.prod(self.event_shape))
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        # Subclasses create every weight in __init__: nothing is left to build.
        self.built = True

    def normalizing_bijector(self):
        """Returns a fresh bijector data -> latent built from the layers."""
        raise NotImplementedError

    @property
    def base_distribution(self):
        return tfd.Sample(
            tfd.Normal(tf.constant(0.0, self.compute_dtype), 1.0),
            sample_shape=self.event_shape)

    @property
    def bijector(self):
        return tfb.Invert(self.normalizing_bijector())

    @property
    def distribution(self):
        return tfd.TransformedDistribution(
            self.base_distribution, self.bijector)

    def _check_input(self, x):
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        rank = len(self.event_shape)
        if x.shape.rank is not None and (
                x.shape.rank <= rank
                or not x.shape[-rank:].is_compatible_with(self.event_shape)):
            raise ValueError(
                f"`x` must have shape [batch, {', '.join(map(str, self.event_shape))}]"
                f" for this {type(self).__name__}; received shape "
                f"{x.shape.as_list()}.")
        return x

    def log_prob(self, x):
        """Log-density of `x` `[batch, *event_shape]` in nats, shape `[batch]`."""
        x = self._check_input(x)
        f = self.normalizing_bijector()
        return (self.base_distribution.log_prob(f.forward(x))
                + f.forward_log_det_jacobian(x, event_ndims=len(self.event_shape)))

    def call(self, inputs):
        return self.log_prob(inputs)

    def sample(self, n, seed=None):
        """Draws `n` samples; the same int `seed` gives the same samples."""
        z = self.base_distribution.sample(
            n, seed=None if seed is None else stateless_seed(seed))
        return self.normalizing_bijector().inverse(z)

    def serving_endpoints(self):
        """Endpoints for `tfgen.export.export`: `log_prob(x)`, `sample(n, seed)`."""
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        int_spec = [tf.TensorSpec([], tf.int32, name="n"),
                    tf.TensorSpec([], tf.int32, name="seed")]
        return {
            "log_prob": (lambda x: {"log_prob": self.log_prob(x)}, [x_spec]),
            "sample": (lambda n, seed: {"samples": self.sample(n, seed)},
                       int_spec),
        }

    @property
    def metrics(self):
        return [self.nll_tracker, self.bits_per_dim_tracker]

    def _update_metrics(self, nll):
        self.nll_tracker.update_state(nll)
        self.bits_per_dim_tracker.update_state(
            nll / (self.event_size * math.log(2.0)))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            nll = -self.log_prob(x)
            loss = tf.debugging.check_numerics(
                tf.reduce_mean(nll),
                "tfgen: the training loss (negative log-likelihood) is not "
                "finite; lower the learning rate or check the data")
            scaled_loss = self.optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._update_metrics(nll)

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._update_metrics(-self.log_prob(x))

    def get_config(self):
        return {"name": self.name, "event_shape": self.event_shape}
