"""Song & Ermon (2019), section 3.2.2, on tfgen's samplers: a mixture of two
far Gaussians with weights 0.2 / 0.8,

    p = 0.2 N((-5, -5), I) + 0.8 N((5, 5), I),

sampled from a uniform start in [-8, 8]^2 by plain Langevin dynamics
(eps 0.1, 1000 steps: each chain stays in the basin it starts in, so the
weights come out about 0.5 / 0.5), by annealed Langevin dynamics (10
levels from 20 to 1, 100 steps each, eps 0.1) and by the
predictor-corrector sampler (the same levels, 100 corrector steps each,
snr 0.16):
first with the analytic score of the perturbed mixture, then with a
`ScoreModel` trained by denoising score matching on 20,000 draws of it at
those 10 levels.
Printed: the fraction of 2000 samples in the weight-0.8 mode (nearer
(5, 5)), as mean +- standard error over the seeds.

    python bench/score_mixture.py [--seeds N] [--steps N]
"""

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgen.models.score import (AnnealedLangevin, LangevinDynamics, PredictorCorrector,  # noqa
                                ScoreModel, geometric_sigmas)

MEANS = np.array([[-5.0, -5.0], [5.0, 5.0]], np.float32)
WEIGHTS = np.array([0.2, 0.8], np.float32)
SAMPLES = 2000


def mixture_score(x, sigma):
    """The score of the mixture perturbed by N(0, sigma^2 I)."""
    variance = 1.0 + tf.cast(sigma, tf.float32)[:, None] ** 2
    diff = x[:, None, :] - MEANS[None]
    logits = np.log(WEIGHTS)[None] - 0.5 * tf.reduce_sum(diff ** 2, -1) / variance
    responsibilities = tf.nn.softmax(logits, axis=-1)[..., None]
    return tf.reduce_sum(-responsibilities * diff / variance[..., None], axis=1)


def mixture_draws(n, seed):
    rng = np.random.default_rng(seed)
    component = rng.random(n) < WEIGHTS[1]
    return (MEANS[component.astype(int)] + rng.normal(size=(n, 2))).astype(np.float32)


def walks():
    return {"langevin": LangevinDynamics(0.1, 1000),
            "annealed Langevin": AnnealedLangevin(geometric_sigmas(20.0, 1.0, 10), 100, 0.1),
            "predictor-corrector": PredictorCorrector(geometric_sigmas(20.0, 1.0, 10), 0.16, 100)}


def heavy_fractions(score, seed):
    start = tf.random.stateless_uniform([SAMPLES, 2], [seed, 7], -8.0, 8.0)
    fractions = {}
    for name, walk in walks().items():
        x = tf.function(lambda x: walk(score, x, tf.constant([seed, 1])))(start)  # noqa: B023
        fractions[name] = float(np.mean(np.sum(x, -1) > 0))
    return fractions


def learned_score(seed, steps):
    keras.utils.set_random_seed(seed)
    model = ScoreModel([2], sigma_max=20.0, sigma_min=1.0, num_levels=10)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        1e-3, steps)))
    data = tf.data.Dataset.from_tensor_slices(mixture_draws(20_000, seed)).shuffle(
        20_000, seed=seed).batch(256).repeat()
    model.fit(data, steps_per_epoch=steps, verbose=0)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3000, help="the score model's training")
    args = parser.parse_args()
    results = {"analytic": [], "learned": []}
    for seed in range(args.seeds):
        results["analytic"].append(heavy_fractions(mixture_score, seed))
        model = learned_score(seed, args.steps)
        with model.averaged_weights():
            results["learned"].append(heavy_fractions(model.network_score, seed))
        print(f"seed {seed}: {results['analytic'][-1]} / learned {results['learned'][-1]}",
              flush=True)
    print(f"\nfraction of {SAMPLES} samples in the weight-0.8 mode, mean +- standard error over "
          f"{args.seeds} seeds (the score model: {args.steps} steps of DSM)")
    print(f"{'score':<10}" + "".join(f"{name:>24}" for name in walks()))
    for kind, rows in results.items():
        cells = []
        for name in walks():
            values = np.array([r[name] for r in rows])
            error = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
            cells.append(f"{values.mean():.3f} +- {error:.3f}")
        print(f"{kind:<10}" + "".join(f"{cell:>24}" for cell in cells))


if __name__ == "__main__":
    main()
