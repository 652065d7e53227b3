"""The spread of a trained DDPM's batch loss with uniform and with
importance-sampled timesteps (`LossAwareTimesteps`), at fixed weights.

The history is warmed with the losses of uniformly drawn batches until
every timestep has its K; then, over many batches of the training split,
the batch loss is estimated both ways (importance-sampled examples weighted
by 1 / (T p_t)). Both estimate the same loss; printed are their means and
standard deviations over batches, and the variance ratio.

    python bench/timestep_sampling.py RUN_DIR [--batches N] [--batch-size N]
"""

import argparse
import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tfgen  # noqa: E402
import tfgen.models.diffusion  # noqa: E402,F401  (registers DDPM for loading)
from tfgen.models.diffusion import LossAwareTimesteps  # noqa: E402


def batch_losses(model, x, t, seed):
    """Per-example simple losses of network-space `x` at timesteps `t`."""
    noise = tf.random.stateless_normal(tf.shape(x), seed)
    output = tf.cast(model.network_output(model.schedule.q_sample(x, t, noise), t), tf.float32)
    target = model.schedule.target(model.prediction_type, x, noise, t)
    return tf.reduce_mean(tf.reshape((output - target) ** 2, [tf.shape(x)[0], -1]), axis=-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    model = keras.models.load_model(os.path.join(args.run_dir, "model.keras"))
    with open(os.path.join(args.run_dir, "run.json")) as f:
        data = json.load(f)["data"]
    source = tfgen.data.load_data(data)
    stream = iter(source.dataset("train", args.batch_size, seed=0, repeat=True))
    losses = tf.function(lambda x, t, seed: batch_losses(model, x, t, seed))
    sampler = LossAwareTimesteps(model.num_timesteps)
    total = model.num_timesteps
    step = 0
    with model.averaged_weights():
        while not bool(sampler.warm):
            x = model._to_network(next(stream))
            t = tf.random.stateless_uniform([args.batch_size], [1, step], 0, total, tf.int32)
            sampler.record(t, losses(x, t, tf.constant([2, step])))
            step += 1
        estimates = {"uniform": [], "importance": []}
        for i in range(args.batches):
            x = model._to_network(next(stream))
            seed = tf.constant([3, i])
            t = tf.random.stateless_uniform([args.batch_size], [4, i], 0, total, tf.int32)
            estimates["uniform"].append(float(tf.reduce_mean(losses(x, t, seed))))
            t = sampler.draw(args.batch_size, tf.constant([5, i]))
            estimates["importance"].append(float(tf.reduce_mean(
                sampler.importance_weights(t) * losses(x, t, seed))))
    print(f"{args.run_dir}: history warm after {step} batches of {args.batch_size}; "
          f"{args.batches} batches each way")
    for name, values in estimates.items():
        values = np.array(values)
        print(f"{name:10s} batch loss mean {values.mean():.5f} +- "
              f"{values.std(ddof=1) / np.sqrt(len(values)):.5f}, std over batches "
              f"{values.std(ddof=1):.5f}")
    ratio = np.var(estimates["uniform"], ddof=1) / np.var(estimates["importance"], ddof=1)
    print(f"variance ratio uniform / importance: {ratio:.2f}")


if __name__ == "__main__":
    main()
