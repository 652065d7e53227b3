"""Lower bounds on log p(x) of a latent-variable model: the ELBO and the
importance-weighted bound (IWAE), as plain functions of TFP distributions.

For a posterior q(z | x), a prior p(z) and a decoder log-likelihood
log p(x | z):

    ELBO   = E_q[log p(x | z)] - KL(q(z | x) || p(z))
    IWAE_k = E[log (1/k) sum_i p(x, z_i) / q(z_i | x)],   z_i ~ q(z | x)

    ELBO = IWAE_1 <= IWAE_k <= IWAE_{k+1} <= log p(x)   (Burda et al. 2016)

The KL is in closed form when TFP knows it for the pair (diagonal
Gaussians), the base's closed form plus a Monte Carlo correction for flow
posteriors (`sample_with_kl`), and a Monte Carlo estimate on the same
samples otherwise.
Samples and their log q(z | x) are drawn together
(`experimental_sample_and_log_prob`), so a flow posterior is never
inverted.
IWAE runs over `k` in chunks inside one graph loop, so `k = 5000` keeps
the memory of one chunk. `iwae_from_log_weights` is that loop for any
model whose log-weights a function draws (several latent layers, say);
`iwae` is it for one latent `z`.

Example:

```python
posterior = tfd.MultivariateNormalDiag(mu, sigma)          # q(z | x), batch [b]
prior = tfd.MultivariateNormalDiag(tf.zeros(d), tf.ones(d))
log_lik = lambda z: decoder_distribution(z).log_prob(x)     # z [..., b, d] -> [..., b]
elbo(posterior, prior, log_lik, seed=[0, 1])                # [b]
iwae(posterior, prior, log_lik, k=1000, seed=[0, 1])        # [b], >= the ELBO on average

def log_weights(n, seed):                                   # n fresh samples -> [n, b]
    z = posterior.sample(n, seed=seed)
    return log_lik(z) + prior.log_prob(z) - posterior.log_prob(z)
iwae_from_log_weights(log_weights, k=1000, seed=[0, 1])     # the same as iwae(...)
```

References:
  Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
  Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["elbo", "iwae", "iwae_from_log_weights", "kl_divergence", "sample_with_kl"]


def kl_divergence(posterior, prior, z=None, log_q=None):
    """KL(q || p) per batch member: TFP's closed form when registered for
    the pair, else `log q(z) - log p(z)` averaged over the samples `z`
    `[s, batch, d]` (which must then be given; `log_q`, their log q(z),
    saves recomputing it)."""
    try:
        return tfd.kl_divergence(posterior, prior)
    except NotImplementedError:
        if z is None:
            raise ValueError(
                f"No closed-form KL between {type(posterior).__name__} and "
                f"{type(prior).__name__}: pass samples `z` for a Monte Carlo estimate.") from None
        log_q = posterior.log_prob(z) if log_q is None else log_q
        return tf.reduce_mean(log_q - prior.log_prob(z), axis=0)


def _closed_form_kl(q, p):
    try:
        return tfd.kl_divergence(q, p)
    except NotImplementedError:
        return None


def sample_with_kl(posterior, prior, num_samples, seed=None):
    """`num_samples` draws `z` `[s, batch, d]` of q, and KL(q || p) per batch
    member, with the least noise the pair allows:

    - TFP's closed form when registered for the pair (diagonal Gaussians);
    - for a flow posterior q = f(q0) whose base q0 has one,

          KL(q || p) = KL(q0 || p) + E_q0[log p(z0) - log|det df/dz0| - log p(f(z0))],

      the expectation on the same draws: exact, noise-free, while f is the
      identity, where a flow posterior starts;
    - else `log q(z) - log p(z)` averaged over the draws.

    Args:
      posterior, prior: as in `elbo`.
      num_samples: draws of z.
      seed: a stateless `[2]` seed, or None.
    """
    kl = _closed_form_kl(posterior, prior)
    base_kl = None
    # A flow: a TransformedDistribution (TFP's classes for it do not share
    # one base class, so by its parts).
    if kl is None and hasattr(posterior, "bijector") and hasattr(posterior, "distribution"):
        base_kl = _closed_form_kl(posterior.distribution, prior)
    if base_kl is not None:
        z0 = posterior.distribution.sample(num_samples, seed=seed)
        z = posterior.bijector.forward(z0)
        log_det = posterior.bijector.forward_log_det_jacobian(
            z0, event_ndims=len(posterior.event_shape))
        kl = base_kl + tf.reduce_mean(prior.log_prob(z0) - log_det - prior.log_prob(z), axis=0)
        return z, kl
    if kl is not None:
        return posterior.sample(num_samples, seed=seed), kl
    z, log_q = posterior.experimental_sample_and_log_prob(num_samples, seed=seed)
    return z, tf.reduce_mean(log_q - prior.log_prob(z), axis=0)


def elbo(posterior, prior, log_likelihood, num_samples=1, seed=None):
    """The ELBO per batch member `[batch]`, in nats.

    Args:
      posterior: q(z | x), a TFP distribution with batch shape `[batch]`
        (reparametrized: gradients flow through its samples).
      prior: p(z), broadcasting against `posterior`'s samples.
      log_likelihood: callable from `z` `[s, batch, d]` to log p(x | z)
        `[s, batch]`.
      num_samples: samples of z for the expectation.
      seed: a stateless `[2]` seed, or None.
    """
    z, kl = sample_with_kl(posterior, prior, num_samples, seed=seed)
    return tf.reduce_mean(log_likelihood(z), axis=0) - kl


def iwae(posterior, prior, log_likelihood, k, seed=None, chunk_size=256):
    """The importance-weighted bound with `k` samples, per batch member.

    The log-weights `log p(x | z) + log p(z) - log q(z | x)` are drawn
    `chunk_size` at a time and folded into a running log-sum-exp
    (`iwae_from_log_weights`), so memory stays that of one chunk.

    Args:
      posterior, prior, log_likelihood: as in `elbo`.
      k: number of importance samples (an int >= 1).
      seed: a stateless `[2]` seed (each chunk folds in its index), or None.
      chunk_size: samples per chunk.
    """
    def log_weights(n, chunk_seed):
        z, log_q = posterior.experimental_sample_and_log_prob(n, seed=chunk_seed)
        return log_likelihood(z) + prior.log_prob(z) - log_q

    return iwae_from_log_weights(log_weights, k, seed=seed, chunk_size=chunk_size)


def iwae_from_log_weights(log_weights, k, seed=None, chunk_size=256):
    """`log (1/k) sum_i exp(w_i)` per batch member, for `k` log-weights
    `w_i = log p(x, h_i) - log q(h_i | x)` of importance samples `h_i`
    (all of a model's latents jointly) that `log_weights` draws.

    The weights are drawn `chunk_size` at a time in a `tf.while_loop` and
    folded into a running log-sum-exp, so memory stays that of one chunk.

    Args:
      log_weights: callable `(n, seed)` -> `[n, batch]` log-weights of `n`
        fresh samples, drawn with the stateless `[2]` seed `seed`.
      k: number of importance samples (an int >= 1).
      seed: a stateless `[2]` seed (chunk `i` draws with
        `stateless_fold_in(seed, i)`), or None.
      chunk_size: samples per chunk.

    Example:

    ```python
    def log_weights(n, seed):  # two latent layers, z1 ~ q(z1|x), z2 ~ q(z2|z1)
        z1 = q1.sample(n, seed=seed)
        q2 = upper(z1)
        z2 = q2.sample(seed=tf.random.experimental.stateless_fold_in(seed, 1))
        return (log_lik(z1) + p1(z2).log_prob(z1) + p2.log_prob(z2)
                - q1.log_prob(z1) - q2.log_prob(z2))
    iwae_from_log_weights(log_weights, k=1000, seed=[0, 1])   # [batch]
    ```
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"`k` must be an int >= 1; received {k!r}.")
    chunk = min(chunk_size, k)
    chunks = -(-k // chunk)
    seed = tf.constant([0, 0], tf.int32) if seed is None else tf.convert_to_tensor(seed, tf.int32)

    def chunk_log_weights(i):
        w = log_weights(chunk, tf.random.experimental.stateless_fold_in(seed, i))
        # The last chunk may hold more samples than k needs: mask them out.
        keep = tf.range(chunk) + i * chunk < k
        return tf.where(keep[:, None], w, tf.cast(-float("inf"), w.dtype))

    def body(i, total):
        return i + 1, tf.math.reduce_logsumexp(
            tf.stack([total, tf.reduce_logsumexp(chunk_log_weights(i), axis=0)]), axis=0)

    first = tf.reduce_logsumexp(chunk_log_weights(0), axis=0)
    _, total = tf.while_loop(lambda i, _: i < chunks, body, (tf.constant(1), first))
    return total - tf.math.log(tf.cast(k, total.dtype))
