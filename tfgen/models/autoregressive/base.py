"""`AutoregressiveModel`: the base of FVSBN, NADE, MADE and PixelCNN.

An autoregressive model of discrete data (D dimensions of L levels)
factorizes its likelihood in an ordering o of the dimensions:

    log p(x) = sum_j log p(x_{o_j} | x_{o_1}, ..., x_{o_{j-1}})

Every conditional comes from one network pass over the whole example
(teacher forcing): `conditionals(levels, ordering)` gives the parameters of
all D conditionals, output d depending only on the dimensions before d.
The conditionals are Bernoulli (2 levels) or categorical (L levels)
likelihoods of `tfgen.models.vae.likelihoods`, so the likelihood is that
of the levels themselves, and bits/dim are `-log p(x) / (D ln 2)`.

Models with several orderings (MADE's order-agnostic training) are the
uniform mixture over their K orderings: log p(x) = log mean_k p_k(x),
and sampling draws an ordering per example, then the example in it.

Sampling walks the D steps in one `tf.while_loop` (one graph; the same
seed gives the same samples in eager code and in an exported graph):
step j passes the levels drawn so far through the network and draws
dimension o_j from its conditional (NADE instead carries its hidden
pre-activations, updated by each dimension drawn).

Data reach the model in model space (the source's dequantized floats);
the model reads back their exact levels (`dequantizer.to_levels`) and
returns samples at their bins' centres (`dequantizer.from_levels`).
"""

import math

import numpy as np
import tensorflow as tf

from tfgen.models.exact import ExactLikelihoodModel
from tfgen.models.vae.likelihoods import Bernoulli, Categorical, DiscretizedLogistic

__all__ = ["OUTPUTS", "AutoregressiveModel"]

OUTPUTS = ("auto", "categorical", "bernoulli", "logistic")


class _Compiled:
    """The sampling loop's `tf.function`, kept off Keras' tracking."""

    def __init__(self):
        self.walk = None


class AutoregressiveModel(ExactLikelihoodModel):
    """Base of the autoregressive models (see the module docstring).

    Subclasses create their layers in `__init__` and implement
    `conditionals(levels, ordering, training, condition)` (and, for
    cheaper sampling than a pass per dimension, `sampling_state`,
    `next_conditional` and `advance_state`); models with several
    orderings set `self.orderings` (`[K, D]` int) after `super().__init__`.

    Args:
      event_shape: the shape of one example (vectors, or images flattened
        in raster order).
      dequantizer: the discrete data's `tfgen.data.Dequantizer` (or its
        config): required, the model scores the data's levels.
      output_likelihood: the conditionals' likelihood: "categorical" (a
        softmax over the L levels), "bernoulli" (2 levels), "logistic" (a mixture of
        discretized logistics) or "auto" (Bernoulli for 2 levels, else
        categorical).
      **kwargs: `GenerativeModel`'s (`ema_decay`, ...).
    """

    family = "autoregressive"
    likelihood_of_levels = True
    supports_conditions = False

    def __init__(self, event_shape, dequantizer=None, output_likelihood="auto", **kwargs):
        super().__init__(event_shape, dequantizer=dequantizer, **kwargs)
        if self.dequantizer is None:
            raise ValueError(
                f"{type(self).__name__} models discrete data: pass the data's `dequantizer` "
                "(its levels); received dequantizer=None.")
        self.levels = self.dequantizer.levels
        self.output_likelihood = output_likelihood
        self.per_dim_likelihood = _likelihood(output_likelihood, self.levels)
        # One-hot inputs per dimension, except a single 0/1 unit for binary data.
        self.input_width = 1 if self.levels == 2 else self.levels
        self.params_per_dim = self.per_dim_likelihood.params_per_channel
        self.orderings = np.arange(self.event_size, dtype=np.int32)[None]  # [K, D]: raster
        self._compiled = _Compiled()

    @property
    def num_orderings(self):
        return int(self.orderings.shape[0])

    def encode(self, levels):
        """Network inputs `[b, D * input_width]` of int levels `[b, D]`:
        one-hot per dimension (binary data: the 0/1 value itself)."""
        if self.levels == 2:
            return tf.cast(levels, self.compute_dtype)
        one_hot = tf.one_hot(levels, self.levels, dtype=self.compute_dtype)
        return tf.reshape(one_hot, [-1, self.event_size * self.levels])

    def conditionals(self, levels, ordering=None, training=False, condition=None):
        """The parameters `[b, D * params_per_dim]` of every conditional
        given int levels `[b, D]`, in ordering `ordering` (an int tensor:
        one for the batch, or one per example `[b]`; None: the first), and
        for conditional models the float condition `[b, k]`."""
        raise NotImplementedError

    def log_prob_of_levels(self, levels, ordering=None, training=False, condition=None):
        """log p(levels) in nats `[b]` under one ordering (None: the
        mixture over all of them)."""
        if ordering is None and self.num_orderings > 1:
            per_ordering = tf.stack([
                self.log_prob_of_levels(levels, tf.constant(k), training, condition)
                for k in range(self.num_orderings)])
            return tf.reduce_logsumexp(per_ordering, 0) - math.log(self.num_orderings)
        params = self.conditionals(levels, ordering, training=training, condition=condition)
        distribution = self.per_dim_likelihood.distribution(tf.cast(params, tf.float32), 1)
        return distribution.log_prob(self._values(levels))

    def _values(self, levels):
        """What the likelihood scores: int levels, floats for Bernoulli."""
        return tf.cast(levels, tf.float32) if self.levels == 2 else levels

    def _levels(self, x):
        """Int levels `[b, D]` of model-space examples `[b, *event_shape]`."""
        return tf.reshape(self.dequantizer.to_levels(x), [-1, self.event_size])

    def log_prob(self, x, condition=None):
        """Exact log-likelihood in nats `[b]` of the levels of `x` (model
        space)."""
        return self.log_prob_of_levels(self._levels(x), condition=self._condition(condition))

    def training_nll(self, x, condition=None):
        """-log p(x) of one random ordering per step for several orderings
        (order-agnostic training), else the exact NLL."""
        k = None if self.num_orderings == 1 else tf.random.stateless_uniform(
            [], self.step_seed(0xA17), maxval=self.num_orderings, dtype=tf.int32)
        return -self.log_prob_of_levels(self._levels(x), k, training=True,
                                        condition=self._condition(condition))

    # Sampling.

    def sampling_state(self, n, condition):
        """What the sampling loop carries besides the levels drawn so far
        (none here; NADE: its hidden pre-activations)."""
        return ()

    def next_conditional(self, state, levels, dims, ordering, condition):
        """The parameters `[n, params_per_dim]` of the conditional of
        dimension `dims` (`[n]`, one per example) given the `levels` drawn
        so far: here one pass of the network."""
        params = tf.reshape(self.conditionals(levels, ordering, condition=condition),
                            [-1, self.event_size, self.params_per_dim])
        return tf.gather(params, dims, batch_dims=1)

    def advance_state(self, state, dims, drawn):
        """The loop's state once dimensions `dims` were drawn as `drawn`
        (`[n]` int levels)."""
        return state

    def draw(self, n, condition, seed):
        """`n` samples in model space (see the module docstring)."""
        seed = tf.constant([7, 0], tf.int32) if seed is None else tf.cast(seed, tf.int32)
        if not tf.executing_eagerly():
            return self._walk(n, seed, condition)
        if self._compiled.walk is None:
            self._compiled.walk = tf.function(self._walk, reduce_retracing=True)
        return self._compiled.walk(tf.constant(n, tf.int32), seed, condition)

    @tf.autograph.experimental.do_not_convert  # (its loop is a tf.while_loop)
    def _walk(self, n, seed, condition):
        k = tf.random.stateless_uniform([n], tf.random.experimental.stateless_fold_in(seed, -1),
                                        maxval=self.num_orderings, dtype=tf.int32)
        orders = tf.gather(tf.constant(self.orderings), k)          # [n, D]
        ordering = k if self.num_orderings > 1 else None

        def body(j, levels, state):
            dims = orders[:, j]
            params = self.next_conditional(state, levels, dims, ordering, condition)
            drawn = self.per_dim_likelihood.distribution(tf.cast(params, tf.float32), 1).sample(
                seed=tf.random.experimental.stateless_fold_in(seed, j))
            drawn = tf.cast(drawn[:, 0], tf.int32)
            here = tf.one_hot(dims, self.event_size, on_value=True, off_value=False)
            levels = tf.where(here, drawn[:, None], levels)
            return j + 1, levels, self.advance_state(state, dims, drawn)

        _, levels, _ = tf.while_loop(
            lambda j, *_: j < self.event_size, body,
            (tf.constant(0), tf.zeros([n, self.event_size], tf.int32),
             self.sampling_state(n, condition)))
        return self.dequantizer.from_levels(tf.reshape(levels, [-1, *self.event_shape]))

    def get_config(self):
        return {**super().get_config(), "output_likelihood": self.output_likelihood}


def _likelihood(output, levels):
    if output not in OUTPUTS:
        raise ValueError(f"`output_likelihood` must be one of {OUTPUTS}; received "
                         f"{output!r}.")
    if output == "auto":
        output = "bernoulli" if levels == 2 else "categorical"
    if output == "bernoulli" and levels != 2:
        raise ValueError(f"`output_likelihood` 'bernoulli' is for binary data (2 levels); "
                         f"the data have {levels} levels.")
    return {"categorical": lambda: Categorical(levels), "bernoulli": Bernoulli,
            "logistic": lambda: DiscretizedLogistic(levels)}[output]()
