"""`DDPM`: denoising diffusion probabilistic models on the family contract.

Training (Ho et al. 2020, Algorithm 1, the simple loss):

    t ~ U{0 .. T-1},  e ~ N(0, I),  z_t = sqrt(abar_t) x + sqrt(1 - abar_t) e
    loss = mean over dims (f(z_t, t, c) - target)^2
           target = e, x or v (`prediction_type`)

Conditional models drop the label with probability `label_dropout` (an
all-zero one-hot: the "no label" the network also learns), so sampling
can use classifier-free guidance (Ho & Salimans 2021) at scale w:

    f_w = f(z, t, 0) + w (f(z, t, c) - f(z, t, 0))      (w = 1: plain)

Sampling walks the reverse process with a `DDPMSampler` or `DDIMSampler`
as one `tf.while_loop` (`run_sampler`); evaluation uses the weights'
exponential moving average (`ema_decay`, on by default).

Data: vectors are modeled as they are. Discrete data (a `dequantizer`,
e.g. digits' 17 levels) are modeled at their levels 2 k / (L - 1) - 1 in
[-1, 1], sampled with x_0 clipped to [-1, 1], and returned in model space
at their level's bin centre; the likelihood bound is then of the discrete
levels (the discretized decoder of section 3.3).

References:
  Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
  Song, Meng & Ermon, "Denoising Diffusion Implicit Models", ICLR 2021.
  Ho & Salimans, "Classifier-Free Diffusion Guidance", 2021.
"""

import math

import keras
import tensorflow as tf

from tfgen._validation import check_hidden_units, check_positive_int
from tfgen.models.base import GenerativeModel
from tfgen.models.diffusion.likelihood import variational_bound
from tfgen.models.diffusion.samplers import DDIMSampler, DDPMSampler, run_sampler, sampler_noise
from tfgen.models.diffusion.schedules import DiffusionSchedule, check_prediction_type
from tfgen.models.diffusion.timestep_sampling import LossAwareTimesteps
from tfgen.models.distributed import gather_replicas, replica_rows
from tfgen.models.denoising import DenoisingModel
from tfgen.models.networks.denoiser import make_denoiser

__all__ = ["DDPM", "sample_endpoint"]

_SAMPLERS = ("ddpm", "ddim")
_TIMESTEP_SAMPLING = ("uniform", "importance")
_PRECISIONS = ("float32", "bfloat16")
# Steps per compiled piece of a walk sampled from Python.
_PIECE = 50


class _Compiled:
    """A model's compiled graphs: the bound of `nll_bounds`, the pieces of
    walks by sampler, and the bfloat16 twin of the denoiser (a plain
    object, which checkpoints ignore)."""

    def __init__(self):
        self.bound, self.pieces, self.bfloat16 = None, {}, None


@tf.function(reduce_retracing=True)
def _step_noise(seed, start, stop, shape):
    """The noise `[stop - start, *shape]` of a walk's steps `start .. stop - 1`."""
    return tf.map_fn(lambda i: sampler_noise(seed, i, shape), tf.range(start, stop),
                     fn_output_signature=tf.float32)


@keras.saving.register_keras_serializable(package="tfgen")
class DDPM(DenoisingModel, GenerativeModel):
    """A diffusion model with an MLP (vectors) or U-Net (images) denoiser.

    Args:
      event_shape: the shape of one example.
      network: "mlp" (default for vectors) or "unet" (default for images).
      hidden_units, embedding_dim: the MLP's hidden widths and timestep
        embedding width.
      channels, layers_per_block, attention_resolutions, groups, dropout:
        the U-Net's (see `tfgen.models.networks.UNet`).
      beta_schedule, num_timesteps, beta_start, beta_end: the noise
        schedule (see `DiffusionSchedule`).
      prediction_type: what the network predicts: "epsilon", "sample"
        (x_0) or "v".
      timestep_sampling: how training draws t: "uniform", or
        "importance" (`LossAwareTimesteps`: in proportion to the root mean
        square of each t's recent losses, each example weighted by
        1 / (T p_t), the same loss in expectation).
      sampler: "ddpm" (ancestral) or "ddim": `sample`'s default.
      sampling_steps: the walk's default length (None: all T for "ddpm",
        50 (at most T) for "ddim").
      eta: DDIM's noise scale (0: deterministic).
      variance: the DDPM steps' variance, "fixed_small" or "fixed_large"
        (also the likelihood bound's reverse-step variance).
      spacing: of a shortened walk ("leading", "trailing", "linspace").
      label_dropout: conditional models: the probability of training a
        step's example without its label (for guidance).
      guidance_scale: conditional models: `sample`'s default w.
      sampling_precision: `sample`'s default precision of the denoiser
        when sampling from Python: "float32", or "bfloat16" (a twin of
        the denoiser under `mixed_bfloat16`, graph-compiled without XLA,
        whose bfloat16 convolutions run on the oneDNN kernels of CPUs
        with AMX or AVX512-BF16 and GPUs). Exported graphs compute in
        the model's own precision.
      num_classes, condition_shape, dequantizer, ema_decay, ema_warmup: see
        `tfgen.models.GenerativeModel` (by default the average of decay
        0.999, warmed up).

    Example:

    ```python
    model = DDPM([2], hidden_units=[128, 128, 128])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x_train, batch_size=256, epochs=100)
    model.sample(1000, seed=0, sampler="ddim", steps=50)
    ```

    References:
      Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models",
      NeurIPS 2020.
    """

    family = "diffusion"
    likelihood = "bound"
    likelihood_of_levels = True  # the bound of discrete data is that of their levels
    train_key = 0xD1FF

    def __init__(self, event_shape, network=None, hidden_units=(128, 128, 128), embedding_dim=32,
                 channels=(32, 64), layers_per_block=1, attention_resolutions=(4,), groups=32,
                 dropout=0.0, beta_schedule="linear", num_timesteps=1000, beta_start=1e-4,
                 beta_end=0.02, prediction_type="epsilon", timestep_sampling="uniform",
                 sampler="ddpm", sampling_steps=None,
                 eta=0.0, variance="fixed_small", spacing="leading", label_dropout=0.1,
                 guidance_scale=1.0, sampling_precision="float32", num_classes=None,
                 condition_shape=None, dequantizer=None, ema_decay=0.999, ema_warmup=True,
                 **kwargs):
        super().__init__(event_shape, num_classes=num_classes, condition_shape=condition_shape,
                         dequantizer=dequantizer, ema_decay=ema_decay, ema_warmup=ema_warmup,
                         **kwargs)
        if sampler not in _SAMPLERS:
            raise ValueError(f"`sampler` must be one of {_SAMPLERS}; received {sampler!r}.")
        if not 0 <= label_dropout < 1:
            raise ValueError(f"`label_dropout` must be in [0, 1); received {label_dropout!r}.")
        self.hidden_units = check_hidden_units(hidden_units)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.channels = check_hidden_units(channels, name="channels")
        self.layers_per_block, self.groups = layers_per_block, groups
        self.attention_resolutions = [int(r) for r in attention_resolutions]
        self.dropout = float(dropout)
        self.schedule = DiffusionSchedule(beta_schedule, num_timesteps, beta_start, beta_end)
        self.beta_schedule, self.num_timesteps = beta_schedule, self.schedule.num_timesteps
        self.beta_start, self.beta_end = beta_start, beta_end
        self.prediction_type = check_prediction_type(prediction_type)
        if timestep_sampling not in _TIMESTEP_SAMPLING:
            raise ValueError(f"`timestep_sampling` must be one of {_TIMESTEP_SAMPLING}; "
                             f"received {timestep_sampling!r}.")
        self.timestep_sampling = timestep_sampling
        self.timestep_sampler = None
        if timestep_sampling == "importance":
            self.timestep_sampler = LossAwareTimesteps(self.num_timesteps,
                                                       name="timestep_sampler")
        self.sampler, self.sampling_steps, self.eta = sampler, sampling_steps, float(eta)
        self.variance, self.spacing = variance, spacing
        self.label_dropout, self.guidance_scale = float(label_dropout), float(guidance_scale)
        self.sampling_precision = _check_precision(sampling_precision, "sampling_precision")
        self.make_sampler()  # checks the sampling options
        self.network, self.denoiser = make_denoiser(
            self.event_shape, self.condition_size, network, self.hidden_units,
            self.embedding_dim, self.channels, layers_per_block, self.attention_resolutions,
            groups, self.dropout)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # Compiled graphs, kept out of checkpoints and exports.
        self._compiled = _Compiled()
        self.built = True

    @property
    def sampling_options(self):
        """The options of `sample` (see `draw`): guidance for conditional
        models only."""
        return ("sampler", "steps", "eta", "precision", "progress") + (
            ("guidance_scale",) if self.conditional else ())

    def network_output(self, z_t, t, condition=None, guidance_scale=1.0, training=False,
                       denoiser=None):
        """The output of the network (or of `denoiser`, a twin of it) at
        (z_t, t), guided at `guidance_scale` for conditional models (1:
        the conditional output alone)."""
        denoiser = denoiser or self.denoiser
        z_t = tf.cast(z_t, denoiser.compute_dtype)
        if condition is None:
            return denoiser(z_t, t, training=training)
        output = denoiser(z_t, t, condition, training=training)
        if isinstance(guidance_scale, (int, float)) and guidance_scale == 1.0:
            return output
        free = denoiser(z_t, t, tf.zeros_like(condition), training=training)
        scale = tf.cast(guidance_scale, output.dtype)
        return free + scale * (output - free)

    # Training.

    @property
    def metrics(self):
        return [self.loss_tracker]

    def example_losses(self, x, condition, seed, training):
        """Per-example simple losses `[b]` of network-space `x` (see
        `_to_network`), with `condition` the float condition or None and
        `seed` a stateless `[2]` seed: t, the noise and the label dropout
        are drawn over the global batch (`replica_rows`). In training with
        importance sampling, t is drawn from the `timestep_sampler`, the
        losses are weighted by 1 / (T p_t), and the global batch's
        unweighted losses go into its history."""
        fold = tf.random.experimental.stateless_fold_in
        n = tf.shape(x)[0]
        sampler = self.timestep_sampler if training else None
        if sampler is None:
            t = replica_rows(lambda total: tf.random.stateless_uniform(
                [total], fold(seed, 0), 0, self.num_timesteps, tf.int32), n)
        else:
            t = replica_rows(lambda total: sampler.draw(total, fold(seed, 0)), n)
            weights = sampler.importance_weights(t)  # of the p that drew t, before `record`
        noise = replica_rows(lambda total: tf.random.stateless_normal(
            tf.concat([[total], tf.shape(x)[1:]], 0), fold(seed, 1)), n)
        if condition is not None and training and self.label_dropout:
            keep = replica_rows(lambda total: tf.random.stateless_uniform(
                [total], fold(seed, 2)), n) >= self.label_dropout
            condition = condition * tf.cast(keep, condition.dtype)[:, None]
        output = tf.cast(self.network_output(self.schedule.q_sample(x, t, noise), t, condition,
                                      training=training), tf.float32)
        target = self.schedule.target(self.prediction_type, x, noise, t)
        losses = tf.reduce_mean(tf.reshape((output - target) ** 2, [n, -1]), axis=-1)
        if sampler is None:
            return losses
        sampler.record(gather_replicas(t), gather_replicas(tf.stop_gradient(losses)))
        return weights * losses

    # Sampling.

    def make_sampler(self, sampler=None, steps=None, eta=None):
        """The `DDPMSampler` or `DDIMSampler` of the given options (the
        model's defaults where None)."""
        sampler = sampler or self.sampler
        if sampler not in _SAMPLERS:
            raise ValueError(f"`sampler` must be one of {_SAMPLERS}; received {sampler!r}.")
        steps = steps or self.sampling_steps
        clip = 1.0 if self.dequantizer is not None else None
        if sampler == "ddpm":
            return DDPMSampler(self.schedule, self.prediction_type, steps, self.variance,
                               self.spacing, clip)
        return DDIMSampler(self.schedule, self.prediction_type,
                           steps or min(50, self.num_timesteps),
                           self.eta if eta is None else eta, self.spacing, clip)

    def draw(self, n, condition, seed, sampler=None, steps=None, eta=None, guidance_scale=None,
             precision=None, progress=False):
        """`n` samples in model space.

        Called eagerly, the walk runs in pieces of at most `_PIECE` steps,
        each one XLA-compiled graph (compiled once per sampler kind and
        sample shape) fed the noise of its steps from the uncompiled
        stream, so the samples are those of an exported graph's single
        loop.

        Args:
          sampler, steps, eta: the walk (default the model's; `steps` may
            be an int tensor inside a graph).
          guidance_scale: conditional models' w (default the model's).
          precision: of the denoiser when called eagerly, "float32" or
            "bfloat16" (default the model's `sampling_precision`).
          progress: show a progress bar over the pieces.
        """
        seed = tf.constant([3, 0], tf.int32) if seed is None else seed
        if tf.is_tensor(steps) and tf.executing_eagerly():
            steps = int(steps)
        walk = self.make_sampler(sampler, None if tf.is_tensor(steps) else steps, eta)
        scale = self.guidance_scale if guidance_scale is None else guidance_scale
        shape = tf.concat([[n], self.event_shape], 0)
        if not tf.executing_eagerly():
            x = run_sampler(lambda z, t: self.network_output(z, t, condition, scale), walk, shape,
                            seed, num_steps=steps if tf.is_tensor(steps) else None)
            return self._to_model_space(x)
        guided = condition is not None and scale != 1.0
        piece = self._compiled_piece(walk, guided, self._denoiser_in(
            _check_precision(precision or self.sampling_precision)))
        timesteps, previous = walk.walk()
        total = walk.num_steps
        bar = keras.utils.Progbar(total, unit_name="step") if progress else None
        x = sampler_noise(seed, -1, shape)
        for start in range(0, total, _PIECE):
            stop = min(total, start + _PIECE)
            noises = (_step_noise(seed, tf.constant(start), tf.constant(stop), shape)
                      if walk.stochastic else tf.zeros([stop - start, 1]))
            x = piece(x, timesteps[start:stop], previous[start:stop], condition,
                      tf.constant(scale, tf.float32), noises)
            if bar is not None:
                bar.update(stop)
        return self._to_model_space(x)

    def _compiled_piece(self, walk, guided, denoiser):
        """`(x, t, s, condition, scale, noises) -> x` after the steps from
        timesteps `t` to `s` (`[k]` each) with their noise `[k, ...]`
        (guided at `scale`, or not), by `denoiser` (the network or its
        bfloat16 twin): compiled once per sampler kind, precision and
        shape, whatever the walk's length; by XLA in float32 (XLA:CPU
        computes bfloat16 convolutions no faster than float32 ones)."""
        bfloat16 = denoiser is not self.denoiser
        key = (type(walk).__name__, getattr(walk, "eta", None), guided, bfloat16)
        if key not in self._compiled.pieces:
            @tf.autograph.experimental.do_not_convert  # (its loop is a tf.while_loop)
            def piece(x, t, s, condition, scale, noises):
                def predict(z, t):
                    return self.network_output(z, t, condition, scale if guided else 1.0,
                                               denoiser=denoiser)

                return run_sampler(predict, walk, tf.shape(x), tf.zeros([2], tf.int32), x=x,
                                   noises=noises, walk=(t, s))

            self._compiled.pieces[key] = tf.function(piece, jit_compile=not bfloat16,
                                                     reduce_retracing=True)
        return self._compiled.pieces[key]

    def _denoiser_in(self, precision):
        """The denoiser computing in `precision`: the network itself for
        float32, else its `mixed_bfloat16` twin holding the network's
        current weights (the averages, within `averaged_weights`)."""
        if precision == "float32":
            return self.denoiser
        if self._compiled.bfloat16 is None:
            config = {**self.denoiser.get_config(), "dtype": "mixed_bfloat16"}
            policy = keras.config.dtype_policy()
            keras.config.set_dtype_policy("mixed_bfloat16")  # the twin's sublayers too
            try:
                self._compiled.bfloat16 = type(self.denoiser).from_config(config)
            finally:
                keras.config.set_dtype_policy(policy)
        twin = self._compiled.bfloat16
        for target, weight in zip(twin.weights, self.denoiser.weights):
            target.assign(tf.cast(weight, target.dtype))
        return twin

    # Likelihood.

    def nll_bounds(self, x, condition=None, seed=0):
        """`{"vlb": [batch]}`: the variational bound on -log p(x) in nats,
        summed over all T timesteps (`likelihood.variational_bound`); of
        the discrete levels for discrete data."""
        condition = self._condition(condition, tf.shape(x)[0])
        if self._compiled.bound is None:  # traced once (per input shape)
            levels = None if self.dequantizer is None else self.dequantizer.levels
            self._compiled.bound = tf.function(
                lambda x, condition, seed: variational_bound(
                    self.schedule, lambda z_t, t: self._x0_estimate(z_t, t, condition), x,
                    seed, self.variance, levels),
                reduce_retracing=True)
        seed = tf.stack([5, tf.cast(seed, tf.int32)])
        return {"vlb": self._compiled.bound(self._to_network(x), condition, seed)}

    # Serving.

    def denoise(self, z_t, t, condition=None):
        """The network's x_0 estimate at (z_t, t) in the diffusion's space
        (levels in [-1, 1] for discrete data)."""
        condition = self._condition(condition, tf.shape(z_t)[0])
        with self.averaged_weights():
            return self._x0_estimate(tf.cast(z_t, tf.float32), tf.cast(t, tf.int32), condition)

    def _x0_estimate(self, z_t, t, condition):
        output = tf.cast(self.network_output(z_t, t, condition), tf.float32)
        return self.schedule.split(self.prediction_type, z_t, t, output)[0]

    def serving_endpoints(self):
        """`sample` (see `sample_endpoint`) and `denoise(x_t, t)` ->
        `{"x0"}` (with `condition` for conditional models)."""
        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x_t")
        t_spec = tf.TensorSpec([None], tf.int32, name="t")
        if not self.conditional:
            denoise = (lambda x_t, t: {"x0": self.denoise(x_t, t)}, [x_spec, t_spec])
        else:
            denoise = (lambda x_t, t, condition: {"x0": self.denoise(x_t, t, condition)},
                       [x_spec, t_spec, self.condition_spec()])
        return {"sample": sample_endpoint(self), "denoise": denoise}

    def get_config(self):
        return {**super().get_config(), "network": self.network,
                "hidden_units": self.hidden_units, "embedding_dim": self.embedding_dim,
                "channels": self.channels, "layers_per_block": self.layers_per_block,
                "attention_resolutions": self.attention_resolutions, "groups": self.groups,
                "dropout": self.dropout, "beta_schedule": self.beta_schedule,
                "num_timesteps": self.num_timesteps, "beta_start": self.beta_start,
                "beta_end": self.beta_end, "prediction_type": self.prediction_type,
                "timestep_sampling": self.timestep_sampling,
                "sampler": self.sampler, "sampling_steps": self.sampling_steps, "eta": self.eta,
                "variance": self.variance, "spacing": self.spacing,
                "label_dropout": self.label_dropout, "guidance_scale": self.guidance_scale,
                "sampling_precision": self.sampling_precision}


def _check_precision(precision, name="precision"):
    if precision not in _PRECISIONS:
        raise ValueError(f"`{name}` must be one of {_PRECISIONS}; received {precision!r}.")
    return precision


def sample_endpoint(model):
    """The exported `sample(n, steps, seed)` of a diffusion `model`, with
    `condition` and `guidance_scale` for conditional ones: `{"samples"}`
    (model space; and `"pixels"`, the levels, for discrete data) from the
    model's default sampler over `steps` steps."""
    n_spec = tf.TensorSpec([], tf.int32, name="n")
    steps_spec = tf.TensorSpec([], tf.int32, name="steps")
    seed_spec = tf.TensorSpec([], tf.int32, name="seed")
    if not model.conditional:
        return (lambda n, steps, seed: model._serve_sample(n, None, seed, steps=steps),
                [n_spec, steps_spec, seed_spec])
    scale_spec = tf.TensorSpec([], tf.float32, name="guidance_scale")
    return (lambda n, condition, steps, seed, guidance_scale: model._serve_sample(
                n, condition, seed, steps=steps, guidance_scale=guidance_scale),
            [n_spec, model.condition_spec(), steps_spec, seed_spec, scale_spec])
