"""`ExactLikelihoodModel`: the base of the families with an exact
likelihood (flows, autoregressive models), trained by maximum likelihood.

Subclasses implement `log_prob(x, condition=None)` (nats, `[batch]`) and
`draw`; this base gives them the training and test steps, their metrics
and the exported `log_prob` / `sample` signatures:

    loss = mean over the global batch of -log p(x | c)

`train_step` and `test_step` report `nll` (nats) and `bits_per_dim`
(`GenerativeModel.bits_per_dim`: of the discrete data for models of
discrete data).
"""

import keras
import tensorflow as tf

from tfgen.models.base import GenerativeModel

__all__ = ["ExactLikelihoodModel"]


class ExactLikelihoodModel(GenerativeModel):
    """A `GenerativeModel` with `log_prob`, fit by its negative
    log-likelihood (see the module docstring); takes the base's
    arguments."""

    likelihood = "exact"
    loss_metric = "nll"
    loss_name = "negative log-likelihood"

    def __init__(self, event_shape, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")

    def log_prob(self, x, condition=None):
        """Log-likelihood of `x` `[batch, *event_shape]` in nats, `[batch]`."""
        raise NotImplementedError

    def training_nll(self, x, condition=None):
        """The per-example loss `train_step` minimizes: -log p(x | c) by
        default."""
        return -self.log_prob(x, condition)

    def call(self, inputs):
        """`log_prob(x)`; conditional models take `(x, condition)`."""
        if self.conditional:
            x, condition = inputs
            return self.log_prob(x, condition)
        return self.log_prob(inputs)

    # Training.

    @property
    def metrics(self):
        return [self.nll_tracker, self.bits_per_dim_tracker]

    def _update_metrics(self, nll, x):
        self.nll_tracker.update_state(nll)
        self.bits_per_dim_tracker.update_state(self.bits_per_dim(nll, x))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            nll = self.training_nll(x, condition)
            loss = self.global_mean(nll)
        self.minimize(tape, loss, self.trainable_weights)
        self.update_ema()
        return self._update_metrics(nll, x)

    def test_step(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._update_metrics(-self.log_prob(x, condition), x)

    # Serving.

    def serving_endpoints(self):
        """Endpoints for `tfgen.export.export`.

        `log_prob(x)` -> `{"log_prob"}` and `sample(n, seed)` ->
        `{"samples"}`, in model space; conditional models add `condition`
        to both (`[batch]` int32 labels or `[batch, k]` floats, one per
        example). Models with a `dequantizer` also speak the data's own
        units, the int32 levels `0 .. L-1` ("pixels": 0..16 for digits):
        `log_prob` adds `bits_per_dim` (of the discrete data), `sample`
        adds `pixels`, `to_model(pixels, noise)` -> `{"x"}` dequantizes
        (`noise` in [0, 1) of the same shape: uniform draws, or 0.5 for bin
        centres) and `from_model(x)` -> `{"pixels", "intensities"}` (in
        [0, 1]).
        """
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        n_spec = tf.TensorSpec([], tf.int32, name="n")
        seed_spec = tf.TensorSpec([], tf.int32, name="seed")
        c_spec = self.condition_spec()
        if self.conditional:
            endpoints = {
                "log_prob": (lambda x, condition: self._serve_log_prob(x, condition),
                             [x_spec, c_spec]),
                "sample": (lambda n, condition, seed: self._serve_sample(n, condition, seed),
                           [n_spec, c_spec, seed_spec]),
            }
        else:
            endpoints = {
                "log_prob": (lambda x: self._serve_log_prob(x), [x_spec]),
                "sample": (lambda n, seed: self._serve_sample(n, None, seed),
                           [n_spec, seed_spec]),
            }
        if self.dequantizer is not None:
            pixels_spec = tf.TensorSpec([None, *self.event_shape], tf.int32, name="pixels")
            noise_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="noise")
            endpoints["to_model"] = (
                lambda pixels, noise: {"x": self.dequantizer.to_model(pixels, noise)},
                [pixels_spec, noise_spec])
            endpoints["from_model"] = (
                lambda x: {"pixels": self.dequantizer.to_levels(x),
                           "intensities": self.dequantizer.from_model(x)}, [x_spec])
        return endpoints

    def _serve_log_prob(self, x, condition=None):
        log_prob = self.log_prob(x, condition)
        if self.dequantizer is None:
            return {"log_prob": log_prob}
        return {"log_prob": log_prob, "bits_per_dim": self.bits_per_dim(-log_prob, x)}
