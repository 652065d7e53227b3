"""`DecodedData`: what the VAE family's models share between the data and a
decoder likelihood.

Discrete data (a `dequantizer` from the data source, e.g. digits' 17
levels) reach a model as the source's model-space floats; the model reads
back their exact integer levels (`dequantizer.to_levels`), shows its
encoder the intensities `level / (L - 1)`, scores the levels with a discrete
likelihood, and returns decoded levels at their bin centres in model space.
Its bounds are then of the discrete data, in bits/dim with no
dequantization. Continuous data are scored and returned as they are.
"""

import tensorflow as tf

from tfgen.models.vae.likelihoods import Bernoulli, Categorical, DiscretizedLogistic, Gaussian

__all__ = ["DecodedData", "LIKELIHOODS"]

LIKELIHOODS = ("auto", "categorical", "logistic", "bernoulli", "gaussian")


class DecodedData:
    """Mixin for a `GenerativeModel` with `decoder_likelihood`, `dequantizer`
    and `event_size`: the likelihood object, the data it scores, the
    encoder's input, decoded values in model space, and whether bits/dim
    are of the levels (`likelihood_of_levels`)."""

    def _likelihood(self, choices=LIKELIHOODS):
        """The likelihood `self.decoder_likelihood` names ("auto":
        categorical over the levels of discrete data, else a Gaussian with
        learned scale), checked against the data and `choices`."""
        name = self.decoder_likelihood
        if name not in choices:
            raise ValueError(f"`decoder_likelihood` must be one of {choices}; received "
                             f"{name!r}.")
        if name == "auto":
            name = "categorical" if self.dequantizer is not None else "gaussian"
        if name != "gaussian" and self.dequantizer is None:
            raise ValueError(
                f"`decoder_likelihood` {name!r} is for discrete data: the model needs the "
                "data's `dequantizer` (its levels).")
        levels = None if self.dequantizer is None else self.dequantizer.levels
        if name == "bernoulli" and levels != 2:
            raise ValueError(f"`decoder_likelihood` 'bernoulli' is for binary data (2 levels); "
                             f"the data have {levels} levels.")
        return {"categorical": lambda: Categorical(levels),
                "logistic": lambda: DiscretizedLogistic(levels),
                "bernoulli": Bernoulli, "gaussian": Gaussian}[name]()

    def _data(self, x):
        """What the likelihood scores: the integer levels of discrete data
        (exact from the dequantized floats), else `x`."""
        if self.decoder_distribution.discrete:
            return self.dequantizer.to_levels(x)
        return x

    def _intensities(self, x):
        """The encoder's view of `x`: intensities in [0, 1] of discrete
        data, else `x`."""
        if self.decoder_distribution.discrete:
            return tf.cast(self._data(x), self.compute_dtype) / (self.dequantizer.levels - 1)
        return x

    def _to_model_space(self, values):
        """Decoder values in model space: levels at their bin centres, or
        the continuous values as they are."""
        if not self.decoder_distribution.discrete:
            return tf.cast(values, self.compute_dtype)
        levels = tf.cast(values, tf.int32)
        return self.dequantizer.to_model(levels, tf.fill(tf.shape(levels), 0.5))

    @property
    def likelihood_of_levels(self):
        """Whether the bounds are of the discrete data directly (no
        dequantization to account for in bits/dim): discrete likelihoods."""
        return self.decoder_distribution.discrete
