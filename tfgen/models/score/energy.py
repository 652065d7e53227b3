"""`EnergyModel`: the base of the energy-based models, p(x) = exp(-E(x)) / Z.

It owns the energy network (an `EnergyMLP` by default, or any Keras
layer `x [b, d] -> [b]`, e.g. a closed-form energy in tests), the data's
Gaussian fit q(x) = N(mean, cov) made before training (the start of
SGLD chains, and NCE's noise), sampling by Langevin dynamics on
s(x) = -dE/dx from q, and the exports `energy(x)` and
`sample(n, steps, seed)`. Subclasses (`EBM`, `NCE`, `FCE`) write the
training step. Vectors only: image data are flattened (`tfgen train`).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen._validation import check_hidden_units
from tfgen.models.base import GenerativeModel
from tfgen.models.score.samplers import LangevinDynamics

__all__ = ["EnergyMLP", "EnergyModel"]

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="tfgen")
class EnergyMLP(keras.layers.Layer):
    """E(x): an MLP `[b, d] -> [b]` with smooth activations (SGLD follows
    its gradient), optionally spectrally normalized (Miyato et al. 2018),
    which bounds its Lipschitz constant as Du & Mordatch's EBMs do.

    Args:
      input_size: d.
      hidden_units: the hidden widths.
      activation: of the hidden layers (SiLU: a smooth gradient).
      spectral_norm: wrap each Dense in `keras.layers.SpectralNormalization`.
    """

    def __init__(self, input_size, hidden_units=(128, 128), activation="silu",
                 spectral_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.hidden_units = int(input_size), check_hidden_units(hidden_units)
        self.activation, self.spectral_norm = activation, bool(spectral_norm)
        self.dense_layers, width = [], self.input_size
        for units in self.hidden_units + [1]:
            last = len(self.dense_layers) == len(self.hidden_units)
            layer = keras.layers.Dense(units, activation=None if last else activation)
            if self.spectral_norm:
                layer = keras.layers.SpectralNormalization(layer)
            layer.build((None, width))
            self.dense_layers.append(layer)
            width = units
        self.built = True

    def call(self, x, training=False):
        h = x
        for layer in self.dense_layers:
            h = layer(h, training=training) if self.spectral_norm else layer(h)
        return h[:, 0]

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size,
                "hidden_units": self.hidden_units, "activation": self.activation,
                "spectral_norm": self.spectral_norm}


class EnergyModel(GenerativeModel):
    """Base of the energy-based models (see the module docstring).

    Args:
      event_shape: `[d]`.
      energy_network: a Keras layer `x [b, d] -> E [b]` (None: an
        `EnergyMLP` of `hidden_units`, `spectral_norm`).
      hidden_units, spectral_norm: the default network's.
      sampling_steps: Langevin steps of `sample` from q.
      step_size: Langevin's step eps of `sample`:
        x <- x - (eps / 2) dE/dx + sqrt(eps) z.
      dequantizer, ema_decay, ema_warmup: see `GenerativeModel`.
    """

    family = "energy"
    likelihood = None
    supports_conditions = False
    event_ranks = (1,)
    sampling_options = ("steps",)

    def __init__(self, event_shape, energy_network=None, hidden_units=(128, 128),
                 spectral_norm=False, sampling_steps=500, step_size=0.01, dequantizer=None,
                 ema_decay=None, ema_warmup=False, **kwargs):
        super().__init__(event_shape, dequantizer=dequantizer, ema_decay=ema_decay,
                         ema_warmup=ema_warmup, **kwargs)
        self.hidden_units, self.spectral_norm = check_hidden_units(hidden_units), spectral_norm
        if isinstance(energy_network, dict):
            energy_network = keras.saving.deserialize_keras_object(energy_network)
        if energy_network is not None and not isinstance(energy_network, keras.layers.Layer):
            raise TypeError(f"`energy_network` must be a Keras layer or None; received "
                            f"{energy_network!r}.")
        self._custom_network = energy_network is not None
        self.energy_network = energy_network or EnergyMLP(self.event_size, self.hidden_units,
                                                          spectral_norm=spectral_norm)
        self.make_sampler(sampling_steps, step_size)  # checks them
        self.sampling_steps, self.step_size = int(sampling_steps), float(step_size)
        d = self.event_size
        # q = N(mean, scale scale^T), fit to the data by `prepare_training`.
        self.data_mean = self.add_weight(shape=[d], initializer="zeros", trainable=False,
                                         name="data_mean")
        self.data_scale = self.add_weight(shape=[d, d], initializer="identity",
                                          trainable=False, name="data_scale")
        self.data_fitted = self.add_weight(shape=[], initializer="zeros", trainable=False,
                                           name="data_fitted")

    # The energy and the data's Gaussian.

    def examples(self, data):
        """A training batch's examples as float32 vectors `[b, d]`."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return tf.reshape(tf.cast(x, tf.float32), [-1, self.event_size])

    def network_energy(self, x, training=False):
        """E(x) `[b]` (float32), the weights as they are."""
        return tf.cast(self.energy_network(tf.cast(x, self.compute_dtype), training=training),
                       tf.float32)

    def energy(self, x):
        """E(x) of model-space `x` `[b, d]`, with the averaged weights."""
        with self.averaged_weights():
            return self.network_energy(tf.cast(x, tf.float32))

    def energy_gradient(self, x):
        """dE/dx `[b, d]`."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            energy = self.network_energy(x)
        return tape.gradient(energy, x)

    def data_gaussian(self):
        """q = N(mean, cov) of the training data (N(0, I) before `fit`)."""
        return tfd.MultivariateNormalTriL(self.data_mean, self.data_scale)

    def prepare_training(self, x, y, batch_size):
        """Fits q to `x` (an array, or the first 10 batches of a dataset)
        once, before the first `fit`."""
        if float(self.data_fitted.numpy()):
            return
        if isinstance(x, tf.data.Dataset):
            x = np.concatenate([keras.utils.unpack_x_y_sample_weight(batch)[0]
                                for batch in x.take(10)])
        x = np.asarray(x, np.float64).reshape(len(x), -1)
        cov = np.cov(x, rowvar=False).reshape(self.event_size, self.event_size)
        self.data_mean.assign(x.mean(axis=0))
        self.data_scale.assign(np.linalg.cholesky(cov + 1e-6 * np.eye(self.event_size)))
        self.data_fitted.assign(1.0)

    # Sampling.

    @tf.autograph.experimental.do_not_convert  # (an explicit tf.while_loop)
    def make_sampler(self, steps=None, step_size=None):
        """`sample`'s Langevin dynamics (the model's steps and step where None)."""
        return LangevinDynamics(self.step_size if step_size is None else step_size,
                                self.sampling_steps if steps is None else steps)

    def start_points(self, n, seed):
        """Where sampling chains start: draws of q."""
        return self.data_gaussian().sample(n, seed=seed)

    @tf.autograph.experimental.do_not_convert
    def draw(self, n, condition, seed, steps=None):
        seed = tf.constant([3, 0], tf.int32) if seed is None else seed
        fold = tf.random.experimental.stateless_fold_in
        x = self.start_points(n, fold(seed, 0))
        return self.make_sampler(steps)(lambda x, sigma: -self.energy_gradient(x), x,
                                        fold(seed, 1))

    # Serving.

    def serving_endpoints(self):
        """`energy(x)` -> `{"energy"}` and `sample(n, steps, seed)` ->
        `{"samples"}` (Langevin from q)."""
        return {
            "energy": (lambda x: {"energy": self.energy(x)},
                       [tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")]),
            "sample": (lambda n, steps, seed: self._serve_sample(n, None, seed, steps=steps),
                       [tf.TensorSpec([], tf.int32, name="n"),
                        tf.TensorSpec([], tf.int32, name="steps"),
                        tf.TensorSpec([], tf.int32, name="seed")])}

    def get_config(self):
        config = {**super().get_config(), "hidden_units": self.hidden_units,
                  "spectral_norm": self.spectral_norm, "sampling_steps": self.sampling_steps,
                  "step_size": self.step_size}
        for key in ("num_classes", "condition_shape"):
            config.pop(key)
        if self._custom_network:
            config["energy_network"] = keras.saving.serialize_keras_object(self.energy_network)
        return config
