"""Lower bounds on log p(x) of a latent-variable model: the ELBO and the
importance-weighted bound (IWAE), as plain functions of TFP distributions.

For a posterior q(z | x), a prior p(z) and a decoder log-likelihood
log p(x | z):

    ELBO   = E_q[log p(x | z)] - KL(q(z | x) || p(z))
    IWAE_k = E[log (1/k) sum_i p(x, z_i) / q(z_i | x)],   z_i ~ q(z | x)

    ELBO = IWAE_1 <= IWAE_k <= IWAE_{k+1} <= log p(x)   (Burda et al. 2016)

The KL is in closed form when TFP knows it for the pair (diagonal
Gaussians), and a Monte Carlo estimate on the same samples otherwise.
IWAE runs over `k` in chunks inside one graph loop, so `k = 5000` keeps
the memory of one chunk.

Example:

```python
posterior = tfd.MultivariateNormalDiag(mu, sigma)          # q(z | x), batch [b]
prior = tfd.MultivariateNormalDiag(tf.zeros(d), tf.ones(d))
log_lik = lambda z: decoder_distribution(z).log_prob(x)     # z [..., b, d] -> [..., b]
elbo(posterior, prior, log_lik, seed=[0, 1])                # [b]
iwae(posterior, prior, log_lik, k=1000, seed=[0, 1])        # [b], >= the ELBO on average
```

References:
  Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
  Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["elbo", "iwae", "kl_divergence"]


def kl_divergence(posterior, prior, z=None):
    """KL(q || p) per batch member: TFP's closed form when registered for
    the pair, else `log q(z) - log p(z)` averaged over the samples `z`
    `[s, batch, d]` (which must then be given)."""
    try:
        return tfd.kl_divergence(posterior, prior)
    except NotImplementedError:
        if z is None:
            raise ValueError(
                f"No closed-form KL between {type(posterior).__name__} and "
                f"{type(prior).__name__}: pass samples `z` for a Monte Carlo estimate.") from None
        return tf.reduce_mean(posterior.log_prob(z) - prior.log_prob(z), axis=0)


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
    z = posterior.sample(num_samples, seed=seed)
    return (tf.reduce_mean(log_likelihood(z), axis=0)
            - kl_divergence(posterior, prior, z))


def iwae(posterior, prior, log_likelihood, k, seed=None, chunk_size=256):
    """The importance-weighted bound with `k` samples, per batch member.

    The log-weights `log p(x | z) + log p(z) - log q(z | x)` are drawn
    `chunk_size` at a time in a `tf.while_loop` and folded into a running
    log-sum-exp, so memory stays that of one chunk.

    Args:
      posterior, prior, log_likelihood: as in `elbo`.
      k: number of importance samples (an int >= 1).
      seed: a stateless `[2]` seed (each chunk folds in its index), or None.
      chunk_size: samples per chunk.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"`k` must be an int >= 1; received {k!r}.")
    chunk = min(chunk_size, k)
    chunks = -(-k // chunk)
    seed = tf.constant([0, 0], tf.int32) if seed is None else tf.convert_to_tensor(seed, tf.int32)

    def log_weights(i):
        z = posterior.sample(chunk, seed=tf.random.experimental.stateless_fold_in(seed, i))
        w = log_likelihood(z) + prior.log_prob(z) - posterior.log_prob(z)
        # The last chunk may hold more samples than k needs: mask them out.
        keep = tf.range(chunk) + i * chunk < k
        return tf.where(keep[:, None], w, tf.cast(-float("inf"), w.dtype))

    def body(i, total):
        return i + 1, tf.math.reduce_logsumexp(
            tf.stack([total, tf.reduce_logsumexp(log_weights(i), axis=0)]), axis=0)

    first = tf.reduce_logsumexp(log_weights(0), axis=0)
    _, total = tf.while_loop(lambda i, _: i < chunks, body, (tf.constant(1), first))
    return total - tf.math.log(tf.cast(k, total.dtype))
