"""GAN losses as plain objects (TF-GAN style), apart from any network.

Each loss maps the discriminator's raw outputs (logits, or a critic's
scores) to per-example losses to minimize:

    discriminator_loss(real, fake)  [batch]   for D (or the critic)
    generator_loss(fake)            [batch]   for G

with `real = D(x)` on a real batch and `fake = D(G(z))` on as many
generated examples, so a model averages them over the global batch like any
other per-example loss. With sigma the logistic sigmoid, D(x) = sigma(real):

    minimax           D: -log sigma(r) - log(1 - sigma(f))   G: log(1 - sigma(f))
    non_saturating    D: as minimax                          G: -log sigma(f)
    wasserstein       D: f - r  (weights clipped)            G: -f
    wgan_gp           D: f - r + lambda (|grad D(x_hat)| - 1)^2   G: -f
    hinge             D: relu(1 - r) + relu(1 + f)           G: -f
    least_squares     D: (r - 1)^2 / 2 + f^2 / 2             G: (f - 1)^2 / 2
    fgan              D: -g(r) + f*(g(f))                    G: -g(f)

The f-GAN losses (Nowozin et al. 2016, Table 2) write the discriminator's
output through each divergence's activation g, T = g(v), and train D on
the variational bound D_f(P || Q) >= E_P[T] - E_Q[f*(T)], which is tight
at T = f'(p / q); G takes the non-saturating step of the paper's section
3.2 (maximize E_Q[g(v)]), or with `saturating=True` minimizes the bound.
The Wasserstein losses' constraints are applied by the model:
`clip_value` (weight clipping after each critic step) and
`penalty_weight` (`gradient_penalty`).

Example:

```python
loss = get_loss("hinge")
d = loss.discriminator_loss(real_logits, fake_logits)   # [batch]
g = loss.generator_loss(fake_logits)                    # [batch]
```

References:
  Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
  Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017.
  Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.
  Lim & Ye, "Geometric GAN", 2017 (hinge); Mao et al., "Least Squares
  Generative Adversarial Networks", ICCV 2017.
  Nowozin, Cseke & Tomioka, "f-GAN", NeurIPS 2016.
"""

import math

import tensorflow as tf

from tfgen.models.distributed import replica_rows

__all__ = ["DIVERGENCES", "FDivergenceLoss", "GANLoss", "HingeLoss", "LOSSES",
           "LeastSquaresLoss", "MinimaxLoss", "NonSaturatingLoss", "WassersteinGPLoss",
           "WassersteinLoss", "get_loss", "gradient_penalty"]


def _outputs(*tensors):
    """Discriminator outputs as float32 at least (losses are computed at
    full precision under mixed precision)."""
    return [tf.cast(t, tf.float32) if t.dtype in (tf.float16, tf.bfloat16) else t
            for t in map(tf.convert_to_tensor, tensors)]


class GANLoss:
    """Base: a GAN loss; subclasses write both methods.

    Attributes:
      name: the loss's registry name.
      clip_value: clip the discriminator's weights to `[-c, c]` after each
        of its steps (WGAN), or None.
      penalty_weight: weight of the gradient penalty the model adds to the
        discriminator loss (WGAN-GP), or 0.
    """

    name = None
    clip_value = None
    penalty_weight = 0.0

    def discriminator_loss(self, real, fake):
        raise NotImplementedError

    def generator_loss(self, fake):
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


class MinimaxLoss(GANLoss):
    """The game of the GAN paper: D maximizes log D(x) + log(1 - D(G(z))),
    G minimizes log(1 - D(G(z))) (saturating: weak gradients for G while D
    rejects its samples)."""

    name = "minimax"

    def discriminator_loss(self, real, fake):
        real, fake = _outputs(real, fake)
        # -log sigma(r) = softplus(-r);  -log(1 - sigma(f)) = softplus(f)
        return tf.nn.softplus(-real) + tf.nn.softplus(fake)

    def generator_loss(self, fake):
        (fake,) = _outputs(fake)
        return -tf.nn.softplus(fake)  # log(1 - sigma(f))


class NonSaturatingLoss(MinimaxLoss):
    """D as in `MinimaxLoss`; G maximizes log D(G(z)) instead (the paper's
    practical choice: the same fixed point, strong early gradients)."""

    name = "non_saturating"

    def generator_loss(self, fake):
        (fake,) = _outputs(fake)
        return tf.nn.softplus(-fake)  # -log sigma(f)


class WassersteinLoss(GANLoss):
    """The critic maximizes E[D(x)] - E[D(G(z))] over (roughly) 1-Lipschitz
    functions, kept so by clipping its weights to `[-clip_value,
    clip_value]` after every step; G maximizes E[D(G(z))]."""

    name = "wasserstein"

    def __init__(self, clip_value=0.01):
        if isinstance(clip_value, bool) or not isinstance(clip_value, (int, float)) or not (
                clip_value > 0):
            raise ValueError(f"`clip_value` must be a float > 0; received {clip_value!r}.")
        self.clip_value = float(clip_value)

    def discriminator_loss(self, real, fake):
        real, fake = _outputs(real, fake)
        return fake - real

    def generator_loss(self, fake):
        (fake,) = _outputs(fake)
        return -fake

    def get_config(self):
        return {"clip_value": self.clip_value}


class WassersteinGPLoss(WassersteinLoss):
    """`WassersteinLoss` with the Lipschitz constraint as a penalty instead of
    clipping: the model adds `penalty_weight * gradient_penalty(...)` to
    the critic's per-example loss."""

    name = "wgan_gp"

    def __init__(self, penalty_weight=10.0):
        if isinstance(penalty_weight, bool) or not isinstance(
                penalty_weight, (int, float)) or penalty_weight < 0:
            raise ValueError(
                f"`penalty_weight` must be a float >= 0; received {penalty_weight!r}.")
        self.penalty_weight = float(penalty_weight)

    def get_config(self):
        return {"penalty_weight": self.penalty_weight}


class HingeLoss(GANLoss):
    """D: relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z))."""

    name = "hinge"

    def discriminator_loss(self, real, fake):
        real, fake = _outputs(real, fake)
        return tf.nn.relu(1.0 - real) + tf.nn.relu(1.0 + fake)

    def generator_loss(self, fake):
        (fake,) = _outputs(fake)
        return -fake


class LeastSquaresLoss(GANLoss):
    """LSGAN with targets a = 0 (fake), b = c = 1 (real):
    D: ((D(x) - 1)^2 + D(G(z))^2) / 2; G: (D(G(z)) - 1)^2 / 2."""

    name = "least_squares"

    def discriminator_loss(self, real, fake):
        real, fake = _outputs(real, fake)
        return 0.5 * tf.square(real - 1.0) + 0.5 * tf.square(fake)

    def generator_loss(self, fake):
        (fake,) = _outputs(fake)
        return 0.5 * tf.square(fake - 1.0)


# divergence -> (g: output activation, f*: conjugate), Nowozin et al. Table 2;
# g maps R into the domain of f*.
DIVERGENCES = {
    # f(u) = u log u;  g(v) = v;  f*(t) = exp(t - 1)
    "kl": (lambda v: v, lambda t: tf.exp(t - 1.0)),
    # f(u) = -log u;  g(v) = -exp(-v);  f*(t) = -1 - log(-t)
    "reverse_kl": (lambda v: -tf.exp(-v), lambda t: -1.0 - tf.math.log(-t)),
    # f(u) = (u + 1) log(2 / (u + 1)) + u log u (twice the JSD);
    # g(v) = log 2 - softplus(-v);  f*(t) = -log(2 - exp(t))
    "js": (lambda v: math.log(2.0) - tf.nn.softplus(-v),
           lambda t: -tf.math.log(2.0 - tf.exp(t))),
    # f(u) = (u - 1)^2;  g(v) = v;  f*(t) = t^2 / 4 + t
    "pearson": (lambda v: v, lambda t: 0.25 * tf.square(t) + t),
}


class FDivergenceLoss(GANLoss):
    """f-GAN: D maximizes E_P[g(v)] - E_Q[f*(g(v))], a lower bound on
    D_f(P || Q) for the divergence named ("kl", "reverse_kl", "js": twice
    the Jensen-Shannon divergence, "pearson": chi^2), exact at the optimal
    discriminator; G maximizes E_Q[g(v)] (or, `saturating=True`, minimizes
    the bound)."""

    name = "fgan"

    def __init__(self, divergence="js", saturating=False):
        if divergence not in DIVERGENCES:
            raise ValueError(f"`divergence` must be one of {sorted(DIVERGENCES)}; received "
                             f"{divergence!r}.")
        if not isinstance(saturating, bool):
            raise TypeError(f"`saturating` must be a bool; received {saturating!r}.")
        self.divergence, self.saturating = divergence, saturating
        self.activation, self.conjugate = DIVERGENCES[divergence]

    def bound(self, real, fake):
        """Per-example terms of the variational bound, g(r) - f*(g(f)):
        their mean estimates E_P[T] - E_Q[f*(T)] <= D_f(P || Q)."""
        real, fake = _outputs(real, fake)
        return self.activation(real) - self.conjugate(self.activation(fake))

    def discriminator_loss(self, real, fake):
        return -self.bound(real, fake)

    def generator_loss(self, fake):
        (fake,) = _outputs(fake)
        if self.saturating:
            return -self.conjugate(self.activation(fake))
        return -self.activation(fake)

    def get_config(self):
        return {"divergence": self.divergence, "saturating": self.saturating}


LOSSES = {cls.name: cls for cls in (MinimaxLoss, NonSaturatingLoss, WassersteinLoss,
                                    WassersteinGPLoss, HingeLoss, LeastSquaresLoss,
                                    FDivergenceLoss)}


def get_loss(name, **options):
    """The loss registered as `name` (`LOSSES`), with its options
    (`clip_value`, `penalty_weight`, `divergence`, `saturating`)."""
    if name not in LOSSES:
        raise ValueError(f"`loss` must be one of {sorted(LOSSES)}; received {name!r}.")
    return LOSSES[name](**options)


def gradient_penalty(critic, real, fake, seed, loss_scale=None):
    """Per-example (|grad_x D(x_hat)|_2 - 1)^2 at x_hat = a x + (1 - a) x~,
    with one weight a ~ U[0, 1] per example (Gulrajani et al. 2017, Alg. 1).

    Args:
      critic: a callable from a batch like `real` to `[batch]` scores
        (conditions bound in).
      real, fake: batches of the same shape.
      seed: the stateless `[2]` seed of the weights a (the same on every
        replica: each takes its rows of the global batch's draw).
      loss_scale: under loss scaling (mixed float16), the scale: the inner
        gradient is taken of `scale * D` and divided back in float32, so it
        does not underflow in float16.

    Returns:
      `[batch]` float32 penalties (differentiable: the critic's loss
      takes its gradient through the inner one).
    """
    # One weight per example; under a tf.distribute strategy, this
    # replica's rows of the global batch's draw (`replica_rows`).
    weight = replica_rows(lambda n: tf.random.stateless_uniform([n], seed, dtype=real.dtype),
                          tf.shape(real)[0])
    weight = tf.reshape(weight, tf.concat([tf.shape(weight), tf.ones([real.shape.rank - 1],
                                                                      tf.int32)], 0))
    mixed = weight * real + (1.0 - weight) * tf.cast(fake, real.dtype)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        score = tf.cast(critic(mixed), tf.float32)
        if loss_scale is not None:
            score = score * tf.cast(loss_scale, tf.float32)
    gradient = tf.cast(tape.gradient(score, mixed), tf.float32)
    if loss_scale is not None:
        gradient = gradient / tf.cast(loss_scale, tf.float32)
    axes = list(range(1, real.shape.rank))
    norm = tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=axes) + 1e-12)
    return tf.square(norm - 1.0)
