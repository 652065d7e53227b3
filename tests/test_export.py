"""SavedModel exports of flows and autoregressive models load and run in a
process that cannot import tfgen."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tfgen import flows
from tfgen.data import Dequantizer
from tfgen.export import export
from tfgen.models.autoregressive import MADE, PixelCNN

from tests.helpers import conditions, perturb

LOADER = """
import json, sys
sys.modules["tfgen"] = None  # importing tfgen now fails
import numpy as np, tensorflow as tf
results = []
for export_dir, x_path, c_path in zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3]):
    loaded = tf.saved_model.load(export_dir)
    x = tf.constant(np.load(x_path))
    # Conditional flows take one condition per example (and per sample).
    c = {} if c_path == "-" else {"condition": tf.constant(np.load(c_path))}
    log_prob = loaded.signatures["log_prob"](x=x, **c)["log_prob"].numpy()
    c5 = {k: v[:5] for k, v in c.items()}
    draw = lambda seed: loaded.signatures["sample"](
        n=tf.constant(5), seed=tf.constant(seed), **c5)["samples"].numpy().tolist()
    errors = {}
    def error(name, call):  # the message of a call the export must refuse
        try:
            call()
        except tf.errors.InvalidArgumentError as e:
            errors[name] = e.message
    error("n", lambda: loaded.signatures["sample"](
        n=tf.constant(-1), seed=tf.constant(0), **{k: v[:0] for k, v in c.items()}))
    if c and c["condition"].dtype == tf.int32:
        error("labels", lambda: loaded.signatures["log_prob"](x=x, condition=c["condition"] + 7))
    result = {"log_prob": log_prob.tolist(), "a": draw(3), "b": draw(3), "c": draw(4),
              "errors": errors}
    if "to_model" in loaded.signatures:  # a flow of discrete data: its own units too
        sig = loaded.signatures
        result["bits_per_dim"] = sig["log_prob"](x=x, **c)["bits_per_dim"].numpy().tolist()
        pixels = sig["from_model"](x=x)["pixels"]
        result["pixels"] = pixels.numpy().tolist()
        result["centres"] = sig["to_model"](pixels=pixels, noise=tf.fill(pixels.shape, 0.5))[
            "x"].numpy().tolist()
        result["sampled_pixels"] = sig["sample"](n=tf.constant(5), seed=tf.constant(3), **c5)[
            "pixels"].numpy().tolist()
    results.append(result)
print(json.dumps(results))
"""

MODELS = {
    "realnvp_image": lambda: flows.RealNVP([8, 8, 1], num_couplings=1, hidden_units=[4]),
    "planar": lambda: flows.Planar([2], num_layers=3),
    "glow_class_conditional": lambda: flows.Glow([4, 4, 1], num_levels=1, num_steps=1,
                                                 hidden_channels=4, num_classes=3),
    "maf_vector_conditional": lambda: flows.MAF([2], num_layers=1, hidden_units=[4],
                                                condition_shape=[3]),
    "nice_dequantized": lambda: flows.NICE([4], num_couplings=1, hidden_units=[4],
                                           dequantizer=Dequantizer(17, 0.05)),
    # Autoregressive: one graph walks the dimensions.
    "made_ensemble": lambda: MADE([4], dequantizer=Dequantizer(3), hidden_units=[8],
                                  num_orderings=2),
    "pixelcnn_class_conditional": lambda: PixelCNN([3, 3, 1], dequantizer=Dequantizer(5),
                                                   num_classes=3, channels=4, num_blocks=2,
                                                   head_units=4),
}


def test_exports_run_without_tfgen(tmp_path):
    """One subprocess (TensorFlow's import is slow) loads every export."""
    models, args = {}, []
    for name, make in MODELS.items():
        models[name] = model = perturb(make())
        x = np.random.default_rng(0).normal(size=(6, *model.event_shape)).astype(np.float32)
        np.save(tmp_path / f"{name}.npy", x)
        c_path = "-"
        if model.conditional:
            c_path = str(tmp_path / f"{name}_condition.npy")
            np.save(c_path, conditions(model, 6, seed=1))
        export(model, tmp_path / name)
        args += [str(tmp_path / name), str(tmp_path / f"{name}.npy"), c_path]
    result = subprocess.run([sys.executable, "-c", LOADER, *args],
                            capture_output=True, text=True, cwd="/", check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    for (name, model), out in zip(models.items(), outputs):
        x = np.load(tmp_path / f"{name}.npy")
        c = conditions(model, 6, seed=1) if model.conditional else None
        np.testing.assert_allclose(out["log_prob"], model.log_prob(x, c), atol=1e-5, rtol=1e-6,
                                   err_msg=name)
        assert np.array_equal(out["a"], out["b"]) and not np.array_equal(out["a"], out["c"])
        np.testing.assert_allclose(out["a"], model.sample(5, None if c is None else c[:5], seed=3),
                                   atol=1e-5, err_msg=name)
        if model.dequantizer is not None:
            deq = model.dequantizer
            np.testing.assert_allclose(out["bits_per_dim"], model.bits_per_dim(
                -model.log_prob(x, c), x), rtol=1e-5)
            np.testing.assert_array_equal(out["pixels"], deq.to_levels(x))
            np.testing.assert_allclose(out["centres"], deq.to_model(
                np.array(out["pixels"]), np.full(x.shape, 0.5, np.float32)), atol=1e-6)
            np.testing.assert_array_equal(out["sampled_pixels"], deq.to_levels(
                model.sample(5, None if c is None else c[:5], seed=3)))
        # The signatures check their inputs as the Python methods do.
        assert "`n` must be >= 1" in out["errors"]["n"], name
        if model.num_classes:
            assert "`condition` labels must be in [0, 3)" in out["errors"]["labels"], name


def test_export_refuses_to_overwrite_and_non_models(tmp_path):
    model = flows.Radial([2], num_layers=1)
    export(model, tmp_path / "e")
    with pytest.raises(ValueError, match="exists"):
        export(model, tmp_path / "e")
    with pytest.raises(TypeError, match="model"):
        export(object(), tmp_path / "f")


def test_committed_pretrained_export_matches_its_metrics():
    """saved_models/realnvp_two_moons reproduces the test NLL it reports."""
    import os

    import tensorflow as tf

    from tfgen.data import load_data

    folder = os.path.join(os.path.dirname(__file__), "..", "saved_models", "realnvp_two_moons")
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    loaded = tf.saved_model.load(os.path.join(folder, "saved_model"))
    log_prob = loaded.signatures["log_prob"]
    test = np.concatenate([b.numpy() for b in load_data("two_moons").dataset("test", 2000)])
    nll = -np.mean(np.concatenate([log_prob(x=tf.constant(test[i:i + 2000]))["log_prob"].numpy()
                                   for i in range(0, len(test), 2000)]))
    assert nll == pytest.approx(metrics["nll"], abs=1e-4)


@pytest.mark.parametrize("folder", ["realnvp_digits", "glow_digits"])
def test_committed_digits_exports_speak_the_data_units(folder):
    """The shipped digits exports reproduce their test bits/dim (17-level
    data) from model-space inputs, and sample integer pixel levels."""
    import os

    import tensorflow as tf

    from tfgen.data import load_data

    path = os.path.join(os.path.dirname(__file__), "..", "saved_models", folder)
    with open(os.path.join(path, "metrics.json")) as f:
        metrics = json.load(f)
    signatures = tf.saved_model.load(os.path.join(path, "saved_model")).signatures
    (x,) = load_data("digits").dataset("test", 360).take(1)
    bits = signatures["log_prob"](x=x)["bits_per_dim"].numpy()
    assert bits.mean() == pytest.approx(metrics["bits_per_dim"], abs=1e-4)
    pixels = signatures["sample"](n=tf.constant(8), seed=tf.constant(0))["pixels"].numpy()
    assert pixels.shape == (8, 8, 8, 1) and pixels.dtype == np.int32
    assert 0 <= pixels.min() and pixels.max() <= 16
