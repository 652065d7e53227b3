"""zuko's side of bench/maf_vs_zuko.py: PyTorch only, no TensorFlow.

Imported by the benchmark for the throughput runs, and run as a script to
train beside tfgen in its own process, one run after another:

    python bench/zuko_maf.py IN.npz OUT.npz [IN.npz OUT.npz ...]

Each IN.npz holds `batches` `[steps, batch, d]`, `test`, `hidden`, `threads`,
`seed` and, for early stopping, `validation`, `check_every` and `patience`; its
OUT.npz gets the test `log_prob` and `best_step`.
"""

import copy
import sys
import time

import numpy as np
import torch
import zuko

__all__ = ["BETAS", "EPS", "LEARNING_RATE", "NUM_LAYERS", "log_prob", "new_flow", "train"]

LEARNING_RATE, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
NUM_LAYERS = 5


def log_prob(flow, x):
    """Log-densities of `x` (NumPy) under `flow`, in chunks."""
    with torch.no_grad():
        return np.concatenate([flow().log_prob(torch.from_numpy(x[i:i + 4096])).numpy()
                               for i in range(0, len(x), 4096)])


def new_flow(features, hidden, seed=0):
    """zuko's MAF: NUM_LAYERS MADEs of `hidden` units, orders reversed
    between layers, initial weights drawn with `seed`."""
    torch.manual_seed(seed)
    return zuko.flows.MAF(features=features, transforms=NUM_LAYERS,
                          hidden_features=tuple(int(h) for h in hidden))


def train(batches, hidden, validation=None, check_every=0, patience=0, seed=0):
    """Trains `new_flow(d, hidden, seed)` by Adam on `batches`
    `[steps, batch, d]`, one batch per step.

    With `validation`, its mean NLL is checked every `check_every` steps;
    training stops after `patience` checks without a strictly lower NLL,
    and the best parameters are restored (Keras' EarlyStopping rule).

    Returns `(flow, times, best_step)`, `times` holding `(step, seconds)`
    after every step.
    """
    flow = new_flow(batches.shape[-1], hidden, seed)
    optimizer = torch.optim.Adam(flow.parameters(), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
    times, best, best_state, best_step, wait = [], np.inf, None, len(batches), 0
    for step, x in enumerate(torch.from_numpy(batches), start=1):
        loss = -flow().log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append((step, time.perf_counter()))
        if validation is not None and step % check_every == 0:
            nll = -np.mean(log_prob(flow, validation))
            if nll < best:
                best, best_state, best_step, wait = nll, copy.deepcopy(flow.state_dict()), step, 0
            else:
                wait += 1
                if wait >= patience:
                    break
    if best_state is not None:
        flow.load_state_dict(best_state)
    return flow, times, best_step


def main(paths):
    for in_path, out_path in zip(paths[0::2], paths[1::2]):
        run = np.load(in_path)
        torch.set_num_threads(int(run["threads"]))
        options = {k: (run[k] if k == "validation" else int(run[k]))
                   for k in ("validation", "check_every", "patience", "seed") if k in run}
        flow, _, best_step = train(run["batches"], run["hidden"], **options)
        np.savez(out_path, log_prob=log_prob(flow, run["test"]), best_step=best_step)


if __name__ == "__main__":
    main(sys.argv[1:])
