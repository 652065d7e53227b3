"""Score-matching objectives, as plain objects apart from any network.

Each is called as `objective(score_fn, x, seed) -> [batch]` per-example
losses, with `score_fn(x, sigma) -> s` a score model at noise levels
`sigma` `[batch]` and `seed` a stateless `[2]` seed. With noise levels
`sigmas` (sigma_1 > ... > sigma_L), each example gets a level
sigma ~ U{sigma_i} and the loss of the data perturbed by N(0, sigma^2 I)
(draws over the global batch under a `tf.distribute` strategy), weighted
by lambda(sigma) = sigma^2 (NCSN), so every level's loss is of order one:

    DSM  (Vincent 2011):      l = 1/2 || sigma s(x + sigma z, sigma) + z ||^2
    ESM  (Hyvarinen 2005):    l = sigma^2 [ tr(d s / d x~) + 1/2 ||s(x~)||^2 ]
    SSM  (Song et al. 2019):  l = sigma^2 [ v^T (d s / d x~) v + 1/2 ||s(x~)||^2 ]
                                  (1/2 (v^T s)^2 without variance reduction)

with x~ = x + sigma z and v ~ N(0, I) (or Rademacher) projections. ESM's
and SSM's expectations are the Fisher divergence to the perturbed data
up to a constant (E_v[v^T J v] = tr J); ESM computes the whole Jacobian,
for tiny dimensions (tests). Without `sigmas` the data are not perturbed
and the weight is 1.

References:
  Hyvarinen, "Estimation of Non-Normalized Statistical Models by Score
  Matching", JMLR 2005.
  Vincent, "A Connection Between Score Matching and Denoising
  Autoencoders", Neural Computation 2011.
  Song, Garg, Shi & Ermon, "Sliced Score Matching", UAI 2019.
  Song & Ermon, "Generative Modeling by Estimating Gradients of the Data
  Distribution", NeurIPS 2019.
"""

import math

import tensorflow as tf

from tfgen._validation import check_positive_int
from tfgen.models.distributed import replica_rows

__all__ = ["DenoisingScoreMatching", "ExactScoreMatching", "SlicedScoreMatching",
           "geometric_sigmas", "make_objective"]


def geometric_sigmas(sigma_max, sigma_min, num_levels):
    """The `num_levels` noise levels from `sigma_max` down to `sigma_min`
    in a geometric sequence (NCSN's), as a float32 tensor."""
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"Noise levels need 0 < `sigma_min` < `sigma_max`; received "
                         f"sigma_min={sigma_min!r}, sigma_max={sigma_max!r}.")
    num_levels = check_positive_int("num_levels", num_levels)
    if num_levels == 1:
        return tf.constant([sigma_max], tf.float32)
    ratio = math.log(sigma_min / sigma_max) / (num_levels - 1)
    return tf.constant([sigma_max * math.exp(ratio * i) for i in range(num_levels)], tf.float32)


def _normal(x, seed):
    """N(0, I) like `x`, drawn over the global batch (`replica_rows`)."""
    return replica_rows(lambda total: tf.random.stateless_normal(
        tf.concat([[total], tf.shape(x)[1:]], 0), seed, dtype=x.dtype), tf.shape(x)[0])


def _flat_sum(x):
    return tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=-1)


class _Objective:
    """Draws each example's noise level and perturbation; subclasses give
    the loss at the perturbed points."""

    name = None

    def __init__(self, sigmas=None):
        self.sigmas = None if sigmas is None else tf.constant(sigmas, tf.float32)

    def perturb(self, x, seed):
        """`(x~, z, sigma)`: x + sigma z, z ~ N(0, I) and sigma `[batch]`
        (zeros, and x~ = x, without noise levels)."""
        fold = tf.random.experimental.stateless_fold_in
        n = tf.shape(x)[0]
        if self.sigmas is None:
            return x, tf.zeros_like(x), tf.zeros([n], x.dtype)
        index = replica_rows(lambda total: tf.random.stateless_uniform(
            [total], fold(seed, 0), 0, tf.shape(self.sigmas)[0], tf.int32), n)
        sigma = tf.cast(tf.gather(self.sigmas, index), x.dtype)
        z = _normal(x, fold(seed, 1))
        return x + _broadcast(sigma, x) * z, z, sigma

    def weight(self, sigma):
        return tf.ones_like(sigma) if self.sigmas is None else sigma ** 2


def _broadcast(sigma, x):
    """`sigma` `[batch]` shaped to multiply `x` `[batch, ...]`."""
    return tf.reshape(sigma, tf.concat([[-1], tf.ones([tf.rank(x) - 1], tf.int32)], 0))


class DenoisingScoreMatching(_Objective):
    """1/2 || sigma s(x + sigma z, sigma) + z ||^2 at a random level of
    `sigmas` (required): the sigma^2-weighted regression of the score on
    -z / sigma.

    Example:

    ```python
    dsm = DenoisingScoreMatching(geometric_sigmas(1.0, 0.01, 10))
    losses = dsm(lambda x, sigma: -x, x, tf.constant([0, 1]))   # [batch]
    ```
    """

    name = "dsm"

    def __init__(self, sigmas):
        if sigmas is None:
            raise ValueError("`sigmas`: denoising score matching needs noise levels; "
                             "received None.")
        super().__init__(sigmas)

    def __call__(self, score_fn, x, seed):
        x_tilde, z, sigma = self.perturb(x, seed)
        residual = _broadcast(sigma, x) * tf.cast(score_fn(x_tilde, sigma), x.dtype) + z
        return 0.5 * _flat_sum(residual ** 2)


class SlicedScoreMatching(_Objective):
    """Sliced score matching: the Jacobian's trace estimated by random
    projections v, with one extra backward pass per projection.

    Args:
      sigmas: noise levels (None: the data as they are).
      num_projections: projections v per example (averaged).
      variance_reduction: 1/2 ||s||^2 in place of 1/2 (v^T s)^2 (its
        expectation over Gaussian v; SSM-VR).
      projection: "gaussian" or "rademacher" v.
    """

    name = "ssm"

    def __init__(self, sigmas=None, num_projections=1, variance_reduction=True,
                 projection="gaussian"):
        super().__init__(sigmas)
        self.num_projections = check_positive_int("num_projections", num_projections)
        if projection not in ("gaussian", "rademacher"):
            raise ValueError(f"`projection` must be 'gaussian' or 'rademacher'; received "
                             f"{projection!r}.")
        self.variance_reduction, self.projection = bool(variance_reduction), projection

    def __call__(self, score_fn, x, seed):
        x_tilde, _, sigma = self.perturb(x, seed)
        k = self.num_projections
        repeated = tf.repeat(x_tilde, k, axis=0)   # [b k, ...], example-major
        sigmas = tf.repeat(sigma, k, axis=0)
        v = _normal(repeated, tf.random.experimental.stateless_fold_in(seed, 2))
        if self.projection == "rademacher":
            v = tf.sign(v)
        with tf.GradientTape() as tape:
            tape.watch(repeated)
            score = tf.cast(score_fn(repeated, sigmas), x.dtype)
            projected = _flat_sum(v * score)                           # v^T s
        jvp = _flat_sum(v * tape.gradient(projected, repeated))      # v^T (ds/dx) v
        square = _flat_sum(score ** 2) if self.variance_reduction else projected ** 2
        losses = tf.reduce_mean(tf.reshape(jvp + 0.5 * square, [-1, k]), axis=-1)
        return self.weight(sigma) * losses


class ExactScoreMatching(_Objective):
    """Hyvarinen's objective with the Jacobian's exact trace (one backward
    pass per dimension: for tiny dimensions). `sigmas` as SSM's."""

    name = "esm"

    def __call__(self, score_fn, x, seed):
        x_tilde, _, sigma = self.perturb(x, seed)
        flat = tf.reshape(x_tilde, [tf.shape(x)[0], -1])
        with tf.GradientTape() as tape:
            tape.watch(flat)
            score = tf.reshape(tf.cast(score_fn(tf.reshape(flat, tf.shape(x)), sigma), x.dtype),
                               tf.shape(flat))
        trace = tf.linalg.trace(tape.batch_jacobian(score, flat))
        return self.weight(sigma) * (trace + 0.5 * tf.reduce_sum(score ** 2, axis=-1))


_OBJECTIVES = {cls.name: cls for cls in (DenoisingScoreMatching, SlicedScoreMatching,
                                         ExactScoreMatching)}


def make_objective(name, sigmas, **kwargs):
    """The objective registered as `name` ("dsm", "ssm", "esm") over
    `sigmas`, with its keyword options."""
    if name not in _OBJECTIVES:
        raise ValueError(f"`objective` must be one of {sorted(_OBJECTIVES)}; received {name!r}.")
    return _OBJECTIVES[name](sigmas, **kwargs)
