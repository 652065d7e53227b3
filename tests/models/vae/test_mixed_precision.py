"""The VAE family under `mixed_bfloat16`: networks compute in bfloat16,
densities, bounds and losses in float32 (a bfloat16 sum of ~100 nats over 64
pixels is off by tenths of a nat)."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import data
from tfgen.models.vae import VAE, VQVAE, HierarchicalVAE

_SMALL = dict(hidden_units=[16], eval_samples=10)
MODELS = {
    "mlp": lambda dq: VAE([8, 8, 1], latent_dim=4, dequantizer=dq, **_SMALL),
    "conv_planar": lambda dq: VAE([8, 8, 1], latent_dim=4, network="conv", channels=[4, 8],
                                  posterior_flow="planar", flow_length=2, dequantizer=dq,
                                  **_SMALL),
    "iaf": lambda dq: VAE([8, 8, 1], latent_dim=4, posterior_flow="iaf", flow_length=2,
                          dequantizer=dq, **_SMALL),
    "hierarchical": lambda dq: HierarchicalVAE([8, 8, 1], latent_dims=(4, 2), dequantizer=dq,
                                               **_SMALL),
    "vqvae": lambda dq: VQVAE([8, 8, 1], num_codes=8, embedding_dim=4, channels=[8, 8],
                              dequantizer=dq),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_densities_and_losses_are_float32_under_mixed_bfloat16(name, mixed_bfloat16):
    digits = data.load_data("digits")
    model = MODELS[name](digits.dequantizer)
    assert model.compute_dtype == "bfloat16"
    model.compile(optimizer="adam")
    history = model.fit(digits.dataset("train", 32, repeat=True), steps_per_epoch=2, epochs=1,
                        verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    x = next(iter(digits.dataset("test", 8, shuffle=False)))
    for bound in model.nll_bounds(x).values():
        assert bound.dtype == tf.float32 and np.all(np.isfinite(bound))
    assert model.sample(3, seed=0).dtype == tf.float32
