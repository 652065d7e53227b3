"""Train a RealNVP on two moons and compare its NLL with the true entropy.

    python examples/realnvp_two_moons.py
"""

import keras

import tfgen


def main(steps=3000):
    keras.utils.set_random_seed(0)
    source = tfgen.data.load_data("two_moons")
    flow = tfgen.flows.RealNVP(event_shape=[2], num_couplings=8, hidden_units=[128, 128])
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    flow.fit(source.dataset("train", 256, repeat=True), steps_per_epoch=steps, epochs=1)
    metrics = source.metrics(flow)
    print(f"test NLL {metrics['nll']:.4f} nats, true entropy {metrics['entropy']:.4f}, "
          f"KL gap {metrics['kl_gap']:.4f}")


if __name__ == "__main__":
    main()
