"""Sample-quality metrics as `keras.metrics.Metric`s: FID, KID, Inception Score.

Each metric takes a feature network (a callable from a batch of inputs to
`[batch, d]`; `tfgen.metrics.digits_features`, `inception_features(...)`),
streams float64 state in `update_state` (also inside `tf.function`) and
computes the score in `result()`. State variables exist from construction,
so the width d is known then: pass `feature_dim=` (`num_classes=` for the
Inception Score) or a network with a `feature_dim` attribute, as tfgen's
feature networks have. `feature_name` records the network the numbers are
in (a score is only comparable with scores in the same features).

`result()` of FID and KID runs NumPy (`tf.numpy_function`): it works in
`tf.function`, not under XLA. Under a `tf.distribute` strategy FID and IS
add their replicas' sums; KID's buffers are not replica-aware: update it
outside a replica context.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from tfgen._validation import check_positive_int
from tfgen.metrics.distances import frechet_distance, polynomial_mmd

__all__ = ["FID", "KID", "InceptionScore"]


def _output_dim(network, given, name):
    """The width d of `network`'s outputs: `given`, else its `feature_dim`."""
    if given is not None:
        return check_positive_int(name, given)
    if getattr(network, "feature_dim", None) is None:
        raise ValueError(
            f"`{name}` is needed: the network {_describe(network)!r} has no `feature_dim` "
            f"attribute; received {name}=None.")
    return check_positive_int(f"{name} (the network's feature_dim)", network.feature_dim)


def _describe(network):
    return getattr(network, "feature_name", None) or getattr(
        network, "__name__", type(network).__name__)


def _check_network(name, network):
    if not callable(network):
        raise TypeError(f"`{name}` must be callable; received {network!r}.")
    return network


def _outputs(network, x, dim, name):
    """`network(x)` as float64 `[batch, dim]`, its shape checked where known."""
    y = tf.cast(network(x), tf.float64)
    if y.shape.rank is not None and (y.shape.rank != 2 or y.shape[1] not in (None, dim)):
        raise ValueError(
            f"`{name}` must return [batch, {dim}]; it returned shape {tuple(y.shape)}.")
    return y


class _FeatureMetric(keras.metrics.Metric):
    """The part FID and KID share: a feature network and its config."""

    def __init__(self, features, feature_dim, name):
        super().__init__(name=name, dtype="float64")
        self.features = _check_network("features", features)
        self.feature_dim = _output_dim(features, feature_dim, "feature_dim")
        self.feature_name = _describe(features)

    def _features(self, x):
        return _outputs(self.features, x, self.feature_dim, "features")

    def get_config(self):
        """The config; `features` must be Keras-serializable (a registered
        function or object, as tfgen's feature networks are)."""
        return {"name": self.name, "feature_dim": self.feature_dim,
                "features": keras.saving.serialize_keras_object(self.features)}

    @classmethod
    def from_config(cls, config):
        features = keras.saving.deserialize_keras_object(config["features"])
        return cls(**{**config, "features": features})


def _gaussian(count, total, outer):
    """Mean and unbiased covariance from n, sum f and sum f f^T:
    C = (sum f f^T - n m m^T) / (n - 1)."""
    mean = total / count
    return mean, (outer - count * np.outer(mean, mean)) / (count - 1)


def _frechet_of_sums(count_a, total_a, outer_a, count_b, total_b, outer_b):
    if min(count_a, count_b) < 2:
        return np.float64(np.nan)
    return np.float64(frechet_distance(*_gaussian(count_a, total_a, outer_a),
                                       *_gaussian(count_b, total_b, outer_b)))


@keras.saving.register_keras_serializable(package="tfgen")
class FID(_FeatureMetric):
    """Frechet inception distance between real and generated inputs.

    Streams n, sum f and sum f f^T of the features f of both sets (float64);
    `result()` is `frechet_distance` of the two Gaussians with the streamed
    means and unbiased (n - 1) covariances, NaN before two examples of each.

    Args:
      features: callable from a batch of inputs to features `[batch, d]`.
      feature_dim: d; defaults to `features.feature_dim`.
      name: the metric's name.

    Attributes:
      feature_name: the feature network (its `feature_name`, else its name).

    Example:

    ```python
    from tfgen.metrics import FID, digits_features, digits_intensities

    fid = FID(digits_features)
    fid.update_state(digits_intensities(test_levels), digits_intensities(sample_levels))
    float(fid.result())
    ```

    References:
      Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
      to a Local Nash Equilibrium", NeurIPS 2017.
    """

    def __init__(self, features, feature_dim=None, name="fid"):
        super().__init__(features, feature_dim, name)
        d = self.feature_dim
        self._moments = {
            role: (self.add_variable([], "zeros", "float64", name=f"{role}_count"),
                   self.add_variable([d], "zeros", "float64", name=f"{role}_sum"),
                   self.add_variable([d, d], "zeros", "float64", name=f"{role}_outer"))
            for role in ("real", "generated")}

    def update_state(self, real, generated):
        """Adds a batch of real and one of generated inputs (any sizes)."""
        for role, x in (("real", real), ("generated", generated)):
            f = self._features(x)
            count, total, outer = self._moments[role]
            count.assign_add(tf.cast(tf.shape(f)[0], tf.float64))
            total.assign_add(tf.reduce_sum(f, axis=0))
            outer.assign_add(tf.matmul(f, f, transpose_a=True))

    def result(self):
        sums = [v for role in ("real", "generated") for v in self._moments[role]]
        return tf.reshape(tf.numpy_function(_frechet_of_sums, sums, tf.float64), [])


@keras.saving.register_keras_serializable(package="tfgen")
class KID(_FeatureMetric):
    """Kernel inception distance between real and generated inputs.

    The features of up to `max_samples` real and as many generated inputs
    are kept in preallocated float64 buffers. `result()` is the mean over
    `num_subsets` subset pairs, drawn without replacement by
    `np.random.default_rng(seed)`, each of m = min(subset_size, n_real,
    n_generated) real and m generated features, of the unbiased MMD^2 with
    k(x, y) = (x.y / d + 1)^3 (`tfgen.metrics.polynomial_mmd`); 0 in
    expectation for one distribution, and may be negative. NaN before two
    examples of each set. An update past `max_samples` raises
    `tf.errors.InvalidArgumentError`.

    `result_with_error()` adds its standard error. Given the examples, the
    mean over random subsets is unbiased for U, `polynomial_mmd` of all of
    them, so (law of total variance)
    stderr^2 = jackknife variance of U + (variance over subsets) / num_subsets.

    Args:
      features: callable from a batch of inputs to features `[batch, d]`.
      feature_dim: d; defaults to `features.feature_dim`.
      max_samples: buffer length per set.
      num_subsets: subsets to average over, >= 2.
      subset_size: the size m of a subset (less with fewer examples).
      seed: seed of the subsets.
      name: the metric's name.

    Example:

    ```python
    from tfgen.metrics import KID, digits_features, digits_intensities

    kid = KID(digits_features)
    kid.update_state(digits_intensities(test_levels), digits_intensities(sample_levels))
    mean, stderr = kid.result_with_error()
    ```

    References:
      Binkowski et al., "Demystifying MMD GANs", ICLR 2018.
    """

    def __init__(self, features, feature_dim=None, max_samples=10_000, num_subsets=100,
                 subset_size=1000, seed=0, name="kid"):
        super().__init__(features, feature_dim, name)
        self.max_samples = check_positive_int("max_samples", max_samples)
        self.num_subsets = check_positive_int("num_subsets", num_subsets)
        if self.num_subsets < 2:
            raise ValueError(f"`num_subsets` must be >= 2; received {num_subsets!r}.")
        self.subset_size = check_positive_int("subset_size", subset_size)
        if self.subset_size < 2:
            raise ValueError(f"`subset_size` must be >= 2; received {subset_size!r}.")
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
            raise TypeError(f"`seed` must be an int; received {seed!r}.")
        self.seed = int(seed)
        self._buffers = {
            role: (self.add_variable([], "zeros", "float64", name=f"{role}_count"),
                   self.add_variable([self.max_samples, self.feature_dim], "zeros",
                                     "float64", name=f"{role}_features"))
            for role in ("real", "generated")}

    def update_state(self, real, generated):
        """Adds a batch of real and one of generated inputs (any sizes)."""
        for role, x in (("real", real), ("generated", generated)):
            f = self._features(x)
            count, buffer = self._buffers[role]
            start = tf.cast(count, tf.int32)
            size = tf.shape(f)[0]
            check = tf.debugging.assert_less_equal(
                start + size, self.max_samples,
                message=f"KID: more {role} examples than `max_samples`={self.max_samples}")
            with tf.control_dependencies([check]):  # in graphs, before the write
                rows = tf.range(start, start + size)[:, None]
            buffer.assign(tf.tensor_scatter_nd_update(buffer, rows, f))
            count.assign_add(tf.cast(size, tf.float64))

    def _seen(self, role):
        count, buffer = self._buffers[role]
        return tf.convert_to_tensor(buffer)[:tf.cast(count, tf.int32)]

    def _subset_estimates(self, real, generated):
        rng = np.random.default_rng(self.seed)
        m = min(self.subset_size, len(real), len(generated))
        return np.array([
            polynomial_mmd(real[rng.choice(len(real), m, replace=False)],
                           generated[rng.choice(len(generated), m, replace=False)])
            for _ in range(self.num_subsets)])

    def _subset_mean(self, real, generated):
        if min(len(real), len(generated)) < 2:
            return np.float64(np.nan)
        return np.float64(np.mean(self._subset_estimates(real, generated)))

    def result(self):
        mean = tf.numpy_function(
            self._subset_mean, [self._seen("real"), self._seen("generated")], tf.float64)
        return tf.reshape(mean, [])

    def result_with_error(self):
        """`(kid, stderr)` as floats (eagerly); needs 3 examples of each set."""
        real, generated = self._seen("real").numpy(), self._seen("generated").numpy()
        if min(len(real), len(generated)) < 3:
            raise ValueError(
                f"KID's standard error needs 3 real and 3 generated examples; it has seen "
                f"{len(real)} and {len(generated)}.")
        estimates = self._subset_estimates(real, generated)
        _, full_stderr = polynomial_mmd(real, generated, return_stderr=True)
        variance = full_stderr ** 2 + np.var(estimates, ddof=1) / self.num_subsets
        return float(np.mean(estimates)), float(np.sqrt(variance))

    def get_config(self):
        return {**super().get_config(), "max_samples": self.max_samples,
                "num_subsets": self.num_subsets, "subset_size": self.subset_size,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="tfgen")
class InceptionScore(keras.metrics.Metric):
    """Inception Score of generated inputs under a classifier, one split.

    With p = p(y | x) the classifier's probabilities and pbar their mean
    over all examples seen,

        IS = exp(E_x[KL(p(y | x) || pbar)])
           = exp(E_x[sum_y p log p] - sum_y pbar log pbar),

    streamed as n, sum p and sum sum_y p log p (float64; 0 log 0 = 0). This
    is the single-split score over everything seen (Salimans et al. report
    the mean of 10 splits, usually a little lower); it lies in [1, k]: k for
    confident predictions spread evenly over the k classes, 1 when all
    predictions agree. NaN before any update.

    Args:
      classifier: callable from a batch of inputs to class probabilities
        `[batch, k]` (rows summing to 1).
      num_classes: k; defaults to `classifier.feature_dim`.
      name: the metric's name.

    Attributes:
      feature_name: the classifier (its `feature_name`, else its name).

    Example:

    ```python
    from tfgen.metrics import InceptionScore, digits_intensities, digits_probabilities

    score = InceptionScore(digits_probabilities)
    score.update_state(digits_intensities(sample_levels))
    ```

    References:
      Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016.
    """

    def __init__(self, classifier, num_classes=None, name="inception_score"):
        super().__init__(name=name, dtype="float64")
        self.classifier = _check_network("classifier", classifier)
        self.num_classes = _output_dim(classifier, num_classes, "num_classes")
        self.feature_name = _describe(classifier)
        self.count = self.add_variable([], "zeros", "float64", name="count")
        self.probability_sum = self.add_variable(
            [self.num_classes], "zeros", "float64", name="probability_sum")
        self.negentropy_sum = self.add_variable([], "zeros", "float64", name="negentropy_sum")

    def update_state(self, generated):
        """Adds a batch of generated inputs."""
        p = _outputs(self.classifier, generated, self.num_classes, "classifier")
        self.count.assign_add(tf.cast(tf.shape(p)[0], tf.float64))
        self.probability_sum.assign_add(tf.reduce_sum(p, axis=0))
        self.negentropy_sum.assign_add(tf.reduce_sum(tf.math.xlogy(p, p)))

    def result(self):
        mean = self.probability_sum / self.count
        return tf.exp(self.negentropy_sum / self.count - tf.reduce_sum(tf.math.xlogy(mean, mean)))

    def get_config(self):
        """The config; `classifier` must be Keras-serializable."""
        return {"name": self.name, "num_classes": self.num_classes,
                "classifier": keras.saving.serialize_keras_object(self.classifier)}

    @classmethod
    def from_config(cls, config):
        classifier = keras.saving.deserialize_keras_object(config["classifier"])
        return cls(**{**config, "classifier": classifier})
