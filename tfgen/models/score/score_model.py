"""`ScoreModel`: a noise-conditional score network (NCSN) on the family
contract.

    s(x, sigma) = f(x, c(sigma)) / sigma
    c(sigma)    = 1000 ln(sigma_1 / sigma) / ln(sigma_1 / sigma_L)

f is `tfgen.models.networks`' MLP (vectors) or U-Net (images), seeing the
level as a DDPM sees its timestep (c runs from 0 at sigma_1 to 1000 at
sigma_L); the division by sigma gives the score its 1/sigma scale at
every level (Song & Ermon 2020, technique 3). Training minimizes a
score-matching objective (`objectives`: DSM by default, SSM, or ESM for
tiny dimensions) over the geometric levels sigma_1 > ... > sigma_L;
sampling walks annealed Langevin dynamics (default), the
predictor-corrector sampler or plain Langevin (`samplers`) from
N(0, sigma_1^2 I), with the weights' average. Discrete data are modeled
at their levels in [-1, 1], as DDPM's.

References:
  Song & Ermon, "Generative Modeling by Estimating Gradients of the Data
  Distribution", NeurIPS 2019.
  Song & Ermon, "Improved Techniques for Training Score-Based Generative
  Models", NeurIPS 2020.
"""

import math
import types

import keras
import tensorflow as tf

from tfgen._validation import check_hidden_units
from tfgen.models.base import GenerativeModel
from tfgen.models.denoising import DenoisingModel
from tfgen.models.networks.denoiser import make_denoiser
from tfgen.models.score.objectives import geometric_sigmas, make_objective
from tfgen.models.score import samplers

__all__ = ["ScoreModel"]

# Steps per compiled piece of a walk sampled from Python (one progress tick).
_PIECE = 100


@keras.saving.register_keras_serializable(package="tfgen")
class ScoreModel(DenoisingModel, GenerativeModel):
    """A noise-conditional score model.

    Args:
      event_shape: the shape of one example.
      network, hidden_units, embedding_dim, channels, layers_per_block,
        attention_resolutions, groups, dropout: the network f (see
        `tfgen.models.networks.make_denoiser`).
      sigma_max, sigma_min, num_levels: the geometric noise levels
        (sigma_max about the largest distance between training examples,
        Song & Ermon 2020's technique 1: 3.6 for two_moons, 5.5 for
        eight_gaussians, 9.6 for digits at their levels in [-1, 1]).
      objective: "dsm", "ssm" or "esm".
      num_projections: SSM's projections per example.
      sampler: "annealed_langevin", "pc" or "langevin": `sample`'s default.
      sampling_steps: the walk's steps (per level for annealed Langevin,
        corrector steps per level for "pc", all of them for "langevin";
        None: 100, 1 and 1000).
      step_size: annealed Langevin's epsilon (and plain Langevin's step).
      snr: the predictor-corrector's signal-to-noise ratio.
      denoise: end walks with the denoising step.
      num_classes, condition_shape, dequantizer, ema_decay, ema_warmup:
        see `tfgen.models.GenerativeModel` (the average of decay 0.999,
        warmed up, by default).

    Example:

    ```python
    model = ScoreModel([2], sigma_max=3.0, sigma_min=0.01)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x_train, batch_size=256, epochs=100)
    model.sample(1000, seed=0)
    ```
    """

    family = "score"
    likelihood = None
    train_key = 0x5C0E
    sampling_options = ("sampler", "steps", "progress")

    def __init__(self, event_shape, network=None, hidden_units=(128, 128, 128), embedding_dim=32,
                 channels=(32, 64), layers_per_block=1, attention_resolutions=(4,), groups=32,
                 dropout=0.0, sigma_max=5.0, sigma_min=0.01, num_levels=10, objective="dsm",
                 num_projections=1, sampler="annealed_langevin", sampling_steps=None,
                 step_size=2e-5, snr=0.16, denoise=True, num_classes=None, condition_shape=None,
                 dequantizer=None, ema_decay=0.999, ema_warmup=True, **kwargs):
        super().__init__(event_shape, num_classes=num_classes, condition_shape=condition_shape,
                         dequantizer=dequantizer, ema_decay=ema_decay, ema_warmup=ema_warmup,
                         **kwargs)
        self.sigma_max, self.sigma_min = float(sigma_max), float(sigma_min)
        self.num_levels = int(num_levels)
        self.sigmas = geometric_sigmas(self.sigma_max, self.sigma_min, self.num_levels)
        self.objective, self.num_projections = objective, int(num_projections)
        self.score_matching = make_objective(
            objective, self.sigmas,
            **({"num_projections": self.num_projections} if objective == "ssm" else {}))
        if sampler not in samplers.SAMPLERS:
            raise ValueError(f"`sampler` must be one of {samplers.SAMPLERS}; received "
                             f"{sampler!r}.")
        self.sampler, self.sampling_steps = sampler, sampling_steps
        if not step_size > 0:
            raise ValueError(f"`step_size` must be > 0; received {step_size!r}.")
        self.step_size, self.snr, self.denoise = float(step_size), float(snr), bool(denoise)
        self.make_sampler()  # checks the sampling options
        self.hidden_units = check_hidden_units(hidden_units)
        self.embedding_dim, self.dropout = int(embedding_dim), float(dropout)
        self.channels = check_hidden_units(channels, name="channels")
        self.layers_per_block, self.groups = layers_per_block, groups
        self.attention_resolutions = [int(r) for r in attention_resolutions]
        self.network, self.denoiser = make_denoiser(
            self.event_shape, self.condition_size, network, self.hidden_units,
            self.embedding_dim, self.channels, layers_per_block, self.attention_resolutions,
            groups, self.dropout)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # Compiled walks by sampler, in a plain object that checkpoints ignore.
        self._compiled = types.SimpleNamespace(pieces={})
        self.built = True

    # The score.

    def network_score(self, x, sigma, condition=None, training=False):
        """s(x, sigma) in the network's space (levels in [-1, 1] for
        discrete data), `sigma` `[batch]`: the weights as they are."""
        sigma = tf.cast(sigma, tf.float32)
        level = 1000.0 * tf.math.log(self.sigma_max / sigma) / math.log(
            self.sigma_max / self.sigma_min)
        x = tf.cast(x, self.compute_dtype)
        if condition is None:
            output = self.denoiser(x, level, training=training)
        else:
            output = self.denoiser(x, level, condition, training=training)
        shape = tf.concat([[-1], tf.ones([tf.rank(x) - 1], tf.int32)], 0)
        return tf.cast(output, tf.float32) / tf.reshape(sigma, shape)

    def score(self, x, sigma, condition=None):
        """The score at `x` (network space) and levels `sigma` (a scalar or
        `[batch]`), with the averaged weights."""
        x = tf.cast(x, tf.float32)
        sigma = tf.broadcast_to(tf.cast(sigma, tf.float32), tf.shape(x)[:1])
        condition = self._condition(condition, tf.shape(x)[0])
        with self.averaged_weights():
            return self.network_score(x, sigma, condition)

    # Training.

    @property
    def metrics(self):
        return [self.loss_tracker]

    def example_losses(self, x, condition, seed, training):
        """Per-example objective values `[b]` of network-space `x`."""
        return self.score_matching(
            lambda x, sigma: self.network_score(x, sigma, condition, training=training), x, seed)

    # Sampling.

    @tf.autograph.experimental.do_not_convert  # (the walks are explicit tf.while_loops)
    def make_sampler(self, sampler=None, steps=None):
        """The sampler of the given options (the model's where None)."""
        return samplers.make_sampler(
            sampler or self.sampler, self.sigmas, self.sampling_steps if steps is None else steps,
            self.step_size, self.snr, self.denoise)

    @tf.autograph.experimental.do_not_convert
    def draw(self, n, condition, seed, sampler=None, steps=None, progress=False):
        """`n` samples in model space.

        Called eagerly, the walk runs in graph-compiled pieces of at most
        `_PIECE` steps (one progress tick each), which draw the noise of
        the whole walk's steps: the samples are the exported graph's.

        Args:
          sampler, steps: the walk (default the model's; `steps` may be an
            int tensor inside a graph).
          progress: show a progress bar over the pieces.
        """
        seed = tf.constant([3, 0], tf.int32) if seed is None else seed
        if tf.is_tensor(steps) and tf.executing_eagerly():
            steps = int(steps)
        walk = self.make_sampler(sampler, steps)
        shape = tf.concat([[n], self.event_shape], 0)

        x = walk.prior(shape, seed)
        if not tf.executing_eagerly():
            return self._to_model_space(walk(
                lambda x, sigma: self.network_score(x, sigma, condition), x, seed))
        key = (sampler or self.sampler, steps)
        if key not in self._compiled.pieces:
            @tf.autograph.experimental.do_not_convert  # (its loop is a tf.while_loop)
            def piece(x, condition, seed, start, stop):
                return walk(lambda x, sigma: self.network_score(x, sigma, condition), x, seed,
                            start, stop)

            self._compiled.pieces[key] = tf.function(piece, reduce_retracing=True)
        piece, total = self._compiled.pieces[key], walk.num_steps
        bar = keras.utils.Progbar(total, unit_name="step") if progress else None
        for start in range(0, total, _PIECE):
            stop = min(total, start + _PIECE)
            x = piece(x, condition, seed, tf.constant(start), tf.constant(stop))
            if bar is not None:
                bar.update(stop)
        return self._to_model_space(x)

    # Serving.

    def serving_endpoints(self):
        """`sample(n, steps, seed)` -> `{"samples"}` (and `"pixels"` for
        discrete data) from the default sampler, and `score(x, sigma)`
        -> `{"score"}` in the network's space; with `condition` for
        conditional models."""
        n_spec = tf.TensorSpec([], tf.int32, name="n")
        steps_spec = tf.TensorSpec([], tf.int32, name="steps")
        seed_spec = tf.TensorSpec([], tf.int32, name="seed")
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        sigma_spec = tf.TensorSpec([None], tf.float32, name="sigma")
        if not self.conditional:
            return {
                "sample": (lambda n, steps, seed: self._serve_sample(n, None, seed, steps=steps),
                           [n_spec, steps_spec, seed_spec]),
                "score": (lambda x, sigma: {"score": self.score(x, sigma)}, [x_spec, sigma_spec])}
        c_spec = self.condition_spec()
        return {
            "sample": (lambda n, condition, steps, seed: self._serve_sample(
                n, condition, seed, steps=steps), [n_spec, c_spec, steps_spec, seed_spec]),
            "score": (lambda x, sigma, condition: {"score": self.score(x, sigma, condition)},
                      [x_spec, sigma_spec, c_spec])}

    def get_config(self):
        return {**super().get_config(), "network": self.network,
                "hidden_units": self.hidden_units, "embedding_dim": self.embedding_dim,
                "channels": self.channels, "layers_per_block": self.layers_per_block,
                "attention_resolutions": self.attention_resolutions, "groups": self.groups,
                "dropout": self.dropout, "sigma_max": self.sigma_max,
                "sigma_min": self.sigma_min, "num_levels": self.num_levels,
                "objective": self.objective, "num_projections": self.num_projections,
                "sampler": self.sampler, "sampling_steps": self.sampling_steps,
                "step_size": self.step_size, "snr": self.snr, "denoise": self.denoise}
