"""Per-step overhead of tfgen's 2D flows on the CPU, side by side.

Trains each flow on two_moons for a fixed step budget under three Keras
settings (plain graph, XLA `jit_compile`, `steps_per_execution=10`) in one
run, and prints steps/second, their ratio to the plain setting, and the KL gap
reached. The comparison with a peer library is bench/maf_vs_zuko.py.

    python bench/flows_2d.py [--steps 600]
"""

import argparse
import time

import keras

import tfgen

FLOWS = {
    "realnvp 8x[128,128]": lambda: tfgen.flows.RealNVP([2], num_couplings=8, hidden_units=[128, 128]),
    "nice 4x[128,128]": lambda: tfgen.flows.NICE([2], num_couplings=4, hidden_units=[128, 128]),
    "planar 16": lambda: tfgen.flows.Planar([2], num_layers=16),
    "radial 16": lambda: tfgen.flows.Radial([2], num_layers=16),
}
SETTINGS = {
    "graph": dict(),
    "xla": dict(jit_compile=True),
    "steps_per_execution=10": dict(steps_per_execution=10),
}


def run(make, setting, source, steps, batch_size=256):
    keras.utils.set_random_seed(0)
    model = make()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **setting)
    data = source.dataset("train", batch_size, repeat=True)
    model.fit(data, steps_per_epoch=20, epochs=1, verbose=0)  # trace/compile
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return steps / seconds, source.metrics(model)["kl_gap"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    source = tfgen.data.load_data("two_moons")
    print(f"two_moons, batch 256, {args.steps} timed steps after 20 warm-up steps")
    print(f"{'flow':<22}{'setting':<26}{'steps/s':>9}{'ratio':>8}{'KL gap':>9}")
    for name, make in FLOWS.items():
        base = None
        for setting_name, setting in SETTINGS.items():
            rate, gap = run(make, setting, source, args.steps)
            base = base or rate
            print(f"{name:<22}{setting_name:<26}{rate:9.1f}{rate / base:8.2f}{gap:9.3f}", flush=True)


if __name__ == "__main__":
    main()
