"""Data sources: train/validation/test splits as `tf.data` pipelines in the
model's space, and the metrics of a density model on them.

A source yields raw examples; an optional `Dequantizer` maps discrete data to
model space (with fresh noise for training, fixed noise for evaluation).
"""

import copy
import math

import numpy as np
import tensorflow as tf

from tfgen._validation import check_finite_array

__all__ = ["ArraySource", "DataSource", "SPLITS"]

SPLITS = ("train", "validation", "test", "all")

# Fixed seed of the dequantization noise used in evaluation splits, so that
# repeated evaluations of one model give the same numbers.
_EVAL_NOISE_SEED = 1234


class DataSource:
    """Base: a named dataset with splits and an event shape.

    Attributes:
      name: the dataset name.
      event_shape: shape of one model-space example.
      dequantizer: a `tfgen.data.Dequantizer` for discrete data, else None.
      toy: a `tfgen.data.Toy` whose exact density the data follows, else None.
      num_classes: number of classes of labeled data (labels in
        `[0, num_classes)`), else None.
    """

    def __init__(self, name, event_shape, dequantizer=None, toy=None, num_classes=None):
        self.name = name
        self.event_shape = list(event_shape)
        self.dequantizer = dequantizer
        self.toy = toy
        self.num_classes = num_classes
        # The shape of one example as a picture ([h, w, c]), if it is one.
        self.image_shape = self.event_shape if len(self.event_shape) == 3 else None

    def flattened(self):
        """This source with examples as vectors `[h * w * c]` (for vector
        models such as MAF); pictures keep `image_shape`."""
        flat = copy.copy(self)
        flat.event_shape = [math.prod(self.event_shape)]
        return flat

    def raw(self, split, labels=False):
        """Unbatched `tf.data.Dataset` of raw examples of one split, or of
        `(example, label)` pairs with `labels=True`."""
        raise NotImplementedError

    def num_examples(self, split):
        """The number of examples in `split`."""
        count = int(self.raw(split).cardinality())
        return count if count >= 0 else sum(1 for _ in self.raw(split))

    def dataset(self, split, batch_size, shuffle=None, seed=0, repeat=False, labels=False,
                start_batch=0):
        """Batched model-space pipeline of one split.

        Args:
          split: one of "train", "validation", "test", "all".
          batch_size: positive int.
          shuffle: defaults to True for "train".
          seed: shuffling seed.
          repeat: repeat forever (for step-budgeted training).
          labels: yield `(x, label)` batches (labeled sources only), the
            form conditional flows train on.
          start_batch: "train" only: begin the stream at this batch, as it
            would have gone on after `start_batch` batches (resuming).

        The training stream is a function of `seed` and the batch index: the
        order of each pass over the data and the dequantization noise of
        each batch are stateless draws, so a stream started at
        `start_batch` goes on exactly as an uninterrupted one (for array
        sources; others skip `start_batch` batches of their own stream).
        """
        if labels and self.num_classes is None:
            raise ValueError(f"`labels`: the data {self.name!r} has no labels.")
        if split not in SPLITS:
            raise ValueError(f"`split` must be one of {SPLITS}; received {split!r}.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive int; received {batch_size!r}.")
        if shuffle is None:
            shuffle = split == "train"
        if split == "train":
            # Whole batches through vectorized ops: one map call per batch.
            if not isinstance(start_batch, int) or start_batch < 0:
                raise ValueError(
                    f"`start_batch` must be an int >= 0; received {start_batch!r}.")
            data = self._raw_batches(split, batch_size, shuffle, seed, repeat, labels,
                                     start_batch)
            data = data.enumerate(start_batch).map(
                lambda index, batch: self._train_batch_to_model(index, seed, batch),
                num_parallel_calls=tf.data.AUTOTUNE)
            return data.prefetch(tf.data.AUTOTUNE)
        # Evaluation: each example's dequantization noise is fixed by its
        # index, so the numbers do not depend on the batch size.
        data = self.raw(split, labels)
        if not labels:  # one code path below: (x, None-like label) pairs
            data = data.map(lambda x: (x, tf.zeros([], tf.int32)))
        if shuffle:
            data = data.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            data = data.repeat()
        if self.dequantizer is not None:
            data = data.enumerate().map(self._fixed_noise_to_model)
        data = data.map(lambda x, y: (tf.reshape(tf.cast(x, tf.float32), self.event_shape), y))
        if not labels:
            data = data.map(lambda x, y: x)
        return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def _raw_batches(self, split, batch_size, shuffle, seed, repeat, labels, start_batch=0):
        """Batches of raw examples (and labels), from batch `start_batch`;
        sources with faster access than `raw` override this."""
        data = self.raw(split, labels)
        if shuffle:
            data = data.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            data = data.repeat()
        return data.batch(batch_size).skip(start_batch)

    def _train_batch_to_model(self, index, seed, batch):
        """Raw training batch number `index` in model space, with the
        dequantization noise of that batch."""
        x, *labels = batch if isinstance(batch, tuple) else (batch,)
        if self.dequantizer is None:
            x = tf.cast(x, tf.float32)
        else:
            noise = tf.random.stateless_uniform(
                tf.shape(x), seed=tf.stack([tf.constant(seed, tf.int64), index]))
            x = self.dequantizer.to_model(x, noise)
        x = tf.reshape(x, [-1, *self.event_shape])
        return (x, *labels) if labels else x

    def _fixed_noise_to_model(self, index, example):
        x, y = example
        noise = tf.random.stateless_uniform(
            tf.shape(x), seed=tf.stack([tf.constant(_EVAL_NOISE_SEED, tf.int64), index]))
        return self.dequantizer.to_model(x, noise), y

    def to_pixels(self, x):
        """Model-space examples -> intensities in [0, 1] for pictures."""
        if self.dequantizer is None:
            return np.asarray(x)
        return self.dequantizer.from_model(tf.convert_to_tensor(x)).numpy()

    def metrics(self, model, split="test", batch_size=512):
        """Density metrics of `model` (with `log_prob`) on one split.

        Returns a dict with `nll` (nats per example, model space),
        `bits_per_dim` (of the discrete data when a dequantizer is set and
        the model's likelihood is a density in model space, else
        `nll / (D ln 2)`: also for a likelihood of the levels themselves,
        `model.likelihood_of_levels`) and `num_examples`; for toys also
        `entropy` (of the true density), `nll_minus_entropy`, `true_nll`
        (the true density's NLL on the same examples) and `kl_gap = nll - true_nll`, both
        estimates of KL(data || model).
        """
        nll_sum, bpd_sum, count = 0.0, 0.0, 0
        size = math.prod(self.event_shape)
        conditional = getattr(model, "conditional", False)
        for batch in self.dataset(split, batch_size, shuffle=False, labels=conditional):
            x, *condition = batch if conditional else (batch,)
            nll = -model.log_prob(x, *condition)
            if self.dequantizer is not None and not getattr(model, "likelihood_of_levels", False):
                bpd = self.dequantizer.bits_per_dim(nll, x)
            else:
                bpd = nll / (size * math.log(2.0))
            nll_sum += float(tf.reduce_sum(nll))
            bpd_sum += float(tf.reduce_sum(bpd))
            count += int(tf.shape(x)[0])
        out = {"nll": nll_sum / count, "bits_per_dim": bpd_sum / count,
               "num_examples": count}
        if self.toy is not None:
            raw = np.concatenate([np.asarray(x) for x in self.dataset(
                split, batch_size, shuffle=False)])
            out["true_nll"] = float(-np.mean(self.toy.log_prob(raw)))
            out["kl_gap"] = out["nll"] - out["true_nll"]
            out["entropy"] = self.toy.entropy()
            out["nll_minus_entropy"] = out["nll"] - out["entropy"]
        return out


class ArraySource(DataSource):
    """A source backed by NumPy arrays, one per split.

    Args:
      name: dataset name.
      splits: dict with "train", "validation", "test" arrays `[n, ...]`.
      dequantizer, toy: as in `DataSource`.
      event_shape: defaults to the arrays' trailing shape.
      labels: dict of int label arrays `[n]` per split, for labeled data.
      num_classes: the number of classes (labels in `[0, num_classes)`).

    Raises:
      ValueError: if an array holds NaN or Inf, or the splits disagree in
        shape.
    """

    def __init__(self, name, splits, dequantizer=None, toy=None, event_shape=None,
                 labels=None, num_classes=None):
        missing = {"train", "validation", "test"} - set(splits)
        if missing:
            raise ValueError(f"`splits` lacks {sorted(missing)}; received keys "
                             f"{sorted(splits)}.")
        self.arrays = {}
        for split in ("train", "validation", "test"):
            array = check_finite_array(f"{name}[{split!r}]", splits[split])
            if array.ndim < 2 or len(array) == 0:
                raise ValueError(
                    f"`{name}[{split!r}]` must be a non-empty array [n, ...]; "
                    f"received shape {array.shape}.")
            self.arrays[split] = array
        shapes = {a.shape[1:] for a in self.arrays.values()}
        if len(shapes) != 1:
            raise ValueError(f"The splits of {name!r} differ in example shape: {shapes}.")
        if (labels is None) != (num_classes is None):
            raise ValueError("Pass `labels` and `num_classes` together.")
        self.labels = None if labels is None else {
            split: np.asarray(labels[split], np.int32) for split in self.arrays}
        example_shape = list(shapes.pop())
        super().__init__(name, event_shape or example_shape, dequantizer, toy, num_classes)
        if len(example_shape) == 3:
            self.image_shape = example_shape

    @staticmethod
    def _split(split, arrays):
        if split == "all":
            return np.concatenate([arrays[s] for s in ("train", "validation", "test")])
        return arrays[split]

    def _examples(self, split):
        """One split's examples: raw levels, or float32 samples."""
        array = self._split(split, self.arrays)
        return array if self.dequantizer is not None else array.astype(np.float32)

    def num_examples(self, split):
        return len(self._split(split, self.arrays))

    def raw(self, split, labels=False):
        array = self._examples(split)
        if labels:
            return tf.data.Dataset.from_tensor_slices((array, self._split(split, self.labels)))
        return tf.data.Dataset.from_tensor_slices(array)

    def _raw_batches(self, split, batch_size, shuffle, seed, repeat, labels, start_batch=0):
        arrays = [self._examples(split)]
        if labels:
            arrays.append(self._split(split, self.labels))
        tensors = [tf.constant(a) for a in arrays]
        indices = _index_batches(len(arrays[0]), batch_size, shuffle, seed, repeat, start_batch)
        if len(tensors) == 1:
            return indices.map(lambda i: tf.gather(tensors[0], i))
        return indices.map(lambda i: tuple(tf.gather(t, i) for t in tensors))


def _index_batches(n, batch_size, shuffle, seed, repeat, start_batch=0):
    """A `tf.data.Dataset` of int64 index batches over `n` examples.

    Each pass over the examples takes a random order and is cut into
    batches of `batch_size` (at most `n`). A single pass ends with the
    partial batch, and its order differs at every new iteration of the
    dataset (Keras' epochs). Repeated passes drop the partial batch, so
    every batch has the same shape and no example is seen twice before the
    others once; pass `p` takes the order seeded by `(p, seed)`, so the
    stream is a function of the batch index and starts at `start_batch`
    as it would have gone on. Unshuffled passes start where the last one
    stopped.
    """
    batch_size = min(batch_size, n)
    full = n - n % batch_size

    def one_pass(index, pass_seed):
        order = tf.range(n, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(
                order, seed=tf.stack([pass_seed, tf.constant(seed, tf.int64)]))
        else:
            order = tf.roll(order, -(index * full) % n, axis=0)
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full], [-1, batch_size]))
        if not repeat and full < n:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full:]))
        return batches

    if repeat:
        per_pass = full // batch_size
        first = start_batch // per_pass
        passes = tf.data.Dataset.range(first, tf.int64.max).map(lambda p: (p, p))
        return passes.flat_map(one_pass).skip(start_batch - first * per_pass).apply(
            tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).enumerate()
    return seeds.take(1).flat_map(one_pass).skip(start_batch).apply(
        tf.data.experimental.assert_cardinality(max(0, -(-n // batch_size) - start_batch)))
