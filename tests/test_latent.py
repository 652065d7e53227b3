"""Latent-space tools (`tfgen.latent`) and `tfgen latent`: the math of the
paths and attribute vectors, argument checks, and the pictures written."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from tfgen import data, flows, latent
from tfgen.cli import main
from tfgen.models.vae import VAE


class Identity:
    """A model whose latents are its examples: `encode` returns `x` as the
    means, `decode_mean` returns `z`; it records the conditions it gets."""

    def __init__(self, latent_dim):
        self.latent_dim = latent_dim
        self.conditions = []

    def encode(self, x, condition=None):
        self.conditions.append(("encode", condition))
        return x, np.ones_like(x)

    def decode_mean(self, z, condition=None):
        self.conditions.append(("decode", condition))
        return z


@pytest.fixture(scope="module")
def digits():
    return data.load_data("digits")


@pytest.fixture(scope="module")
def test_split(digits):
    x, labels = next(iter(digits.dataset("test", 360, shuffle=False, labels=True)))
    return x.numpy(), labels.numpy()


@pytest.fixture(scope="module")
def vae(digits):
    """An untrained VAE: its random encoder and decoder are as good as any
    for identities."""
    keras.utils.set_random_seed(0)
    return VAE([8, 8, 1], latent_dim=3, hidden_units=[16], dequantizer=digits.dequantizer)


def _t(steps):
    return np.linspace(0.0, 1.0, steps)[None, :, None]


def _angle(u, v):
    cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


@pytest.mark.parametrize("method", latent.METHODS)
def test_interpolation_ends_are_the_reconstructions(vae, test_split, method):
    x, _ = test_split
    rows = latent.interpolate(vae, x[:5], x[5:10], steps=6, method=method)
    assert rows.shape == (5, 6, 8, 8, 1)
    np.testing.assert_allclose(rows[:, 0], latent.reconstruct(vae, x[:5]), atol=1e-5)
    np.testing.assert_allclose(rows[:, -1], latent.reconstruct(vae, x[5:10]), atol=1e-5)
    z = vae.encode(x[:5])[0].numpy()
    np.testing.assert_allclose(latent.encode(vae, x[:5]), z)  # the posterior means
    np.testing.assert_allclose(latent.reconstruct(vae, x[:5]),
                               vae.decode_mean(z).numpy(), atol=1e-5)


def test_linear_latents_are_the_straight_line():
    rng = np.random.default_rng(0)
    z_a, z_b = rng.normal(size=(2, 4, 3)).astype(np.float32)
    path = latent.interpolate(Identity(3), z_a, z_b, steps=5)
    t = _t(5)
    np.testing.assert_allclose(path, (1 - t) * z_a[:, None] + t * z_b[:, None], rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_array_equal(path[:, 0], z_a)
    np.testing.assert_array_equal(path[:, -1], z_b)


def test_slerp_keeps_the_norm_and_turns_evenly():
    rng = np.random.default_rng(1)
    z_a, z_b = rng.normal(size=(2, 6, 5))
    z_b *= np.linalg.norm(z_a, axis=-1, keepdims=True) / np.linalg.norm(z_b, axis=-1,
                                                                         keepdims=True)
    path = latent.interpolate(Identity(5), z_a, z_b, steps=7, method="slerp")
    radius = np.linalg.norm(z_a, axis=-1)[:, None]
    np.testing.assert_allclose(np.linalg.norm(path, axis=-1), np.repeat(radius, 7, 1),
                               rtol=1e-10)
    # The angle from z_a grows linearly to the angle between the ends.
    np.testing.assert_allclose(_angle(path, z_a[:, None]),
                               _t(7)[..., 0] * _angle(z_a, z_b)[:, None], atol=1e-7)
    np.testing.assert_array_equal(path[:, 0], z_a)
    np.testing.assert_allclose(path[:, -1], z_b, rtol=1e-12)
    # The line dips inside the sphere; parallel ends slerp along the line.
    line = latent.interpolate(Identity(5), z_a, z_b, steps=7)
    assert np.all(np.linalg.norm(line[:, 3], axis=-1) < radius[:, 0])
    np.testing.assert_allclose(
        latent.interpolate(Identity(5), z_a, 2 * z_a, steps=4, method="slerp"),
        latent.interpolate(Identity(5), z_a, 2 * z_a, steps=4))


def test_conditions_follow_their_examples():
    model = Identity(2)
    z = np.zeros((2, 2), np.float32)
    latent.interpolate(model, z, z, steps=3, condition=np.array([4, 9]))
    assert [kind for kind, _ in model.conditions] == ["encode", "encode", "decode"]
    np.testing.assert_array_equal(model.conditions[0][1], [4, 9])
    np.testing.assert_array_equal(model.conditions[-1][1], [4, 4, 4, 9, 9, 9])
    latent.apply_attribute(model, z, np.ones(2), strengths=(0, 1), condition=np.array([1, 2]))
    np.testing.assert_array_equal(model.conditions[-1][1], [1, 1, 2, 2])


def test_attribute_vector_is_the_difference_of_class_means(vae, test_split):
    x, labels = test_split
    means = vae.encode(x)[0].numpy()
    expected = means[labels == 7].mean(axis=0) - means[labels == 1].mean(axis=0)
    vector = latent.attribute_vector(vae, x, labels, from_class=1, to_class=7)
    np.testing.assert_allclose(vector, expected, rtol=1e-5, atol=1e-6)
    rows = latent.apply_attribute(vae, x[:3], vector)
    assert rows.shape == (3, 4, 8, 8, 1)
    np.testing.assert_allclose(rows[:, 0], latent.reconstruct(vae, x[:3]), atol=1e-5)


def test_apply_attribute_adds_multiples_of_the_vector():
    z = np.random.default_rng(2).normal(size=(3, 2))
    vector = np.array([1.0, -2.0])
    rows = latent.apply_attribute(Identity(2), z, vector, strengths=(0, 0.5, 2))
    np.testing.assert_allclose(rows, z[:, None] + np.array([0, 0.5, 2])[None, :, None] * vector)


def test_the_scatter_needs_2d_latents(tmp_path):
    x = np.random.default_rng(3).normal(size=(30, 3))
    labels = np.arange(30) % 3
    with pytest.raises(ValueError, match="`latent_dim` 2; the model's latent_dim is 3"):
        latent.latent_scatter_png(Identity(3), x, labels, tmp_path / "s.png")
    assert not (tmp_path / "s.png").exists()
    latent.latent_scatter_png(Identity(2), x[:, :2], labels, tmp_path / "s.png")
    assert Image.open(tmp_path / "s.png").format == "PNG"


@pytest.mark.parametrize("call,error,match", [
    (lambda m, x, y: latent.interpolate(m, x, x, steps=1), ValueError,
     r"`steps` must be >= 2 \(the two ends\); received 1"),
    (lambda m, x, y: latent.interpolate(m, x, x, steps=2.0), TypeError, "`steps`.*2.0"),
    (lambda m, x, y: latent.interpolate(m, x, x, method="cubic"), ValueError,
     "`method` must be one of .*'cubic'"),
    (lambda m, x, y: latent.interpolate(m, x, x[:3]), ValueError,
     r"`x_a` and `x_b` must have the same shape.*\[4, 2\] and \[3, 2\]"),
    (lambda m, x, y: latent.attribute_vector(m, x, y, 1, 5), ValueError,
     r"`to_class` 5 is not among the labels; they hold classes \[0, 1\]"),
    (lambda m, x, y: latent.attribute_vector(m, x, y, 1, 1), ValueError, "`to_class` must differ"),
    (lambda m, x, y: latent.attribute_vector(m, x, y[:3], 0, 1), ValueError,
     r"`labels` must hold one label per example, shape \[4\]; received shape \[3\]"),
    (lambda m, x, y: latent.attribute_vector(m, x, y * 0.5, 0, 1), TypeError, "`labels`"),
    (lambda m, x, y: latent.apply_attribute(m, x, np.ones(3)), ValueError,
     r"`vector` must have shape \[2\].*received shape \[3\]"),
    (lambda m, x, y: latent.apply_attribute(m, x, np.ones(2), strengths=()), ValueError,
     "`strengths` must be a non-empty"),
    (lambda m, x, y: latent.decode(m, x[0]), ValueError, r"`z` must have shape \[n, 2\]"),
    (lambda m, x, y: latent.encode(m, x[0]), ValueError, r"`x` must be a batch.*\[2\]"),
    (lambda m, x, y: latent.interpolate(m, x, x, condition=np.ones(3)), ValueError,
     r"`condition` must hold one condition per example \(4\); received shape \[3\]"),
])
def test_bad_arguments_name_themselves(call, error, match):
    x, labels = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(error, match=match):
        call(Identity(2), x, labels)


def test_models_without_an_encoder_are_refused():
    with pytest.raises(TypeError, match="`model` must have a latent space.*received a Planar"):
        latent.encode(flows.Planar([2], num_layers=1), np.zeros((1, 2), np.float32))


def _is_png(path, size):
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == size, (path, image.size)
        image.verify()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("latent") / "vae"
    assert main(["train", "vae", "--data", "digits", "--steps", "20", "--set", "latent_dim=2",
                 "--set", "hidden_units=[16]", "--set", "eval_samples=10",
                 "--out", str(out)]) == 0
    return out


def test_tfgen_latent_writes_the_pictures_once(run, tmp_path, capsys):
    out = tmp_path / "pictures"
    capsys.readouterr()
    assert main(["latent", str(run), "--out", str(out), "--seed", "1"]) == 0
    names = ["attribute.png", "interpolations.png", "latent_scatter.png", "reconstructions.png"]
    assert sorted(os.listdir(out)) == names
    assert capsys.readouterr().out.splitlines() == [f"tfgen: wrote {out / n}" for n in names]
    # 8x8 digits in cells of 9 pixels, scaled to about 256 pixels: 8 columns
    # of 16 inputs above their reconstructions (4 rows); 8 pairs of 8 steps;
    # 6 inputs at 4 strengths; a 5 x 4 inch figure at 100 dpi.
    _is_png(out / "reconstructions.png", (3 * 73, 3 * 37))
    _is_png(out / "interpolations.png", (3 * 73, 3 * 73))
    _is_png(out / "attribute.png", (4 * 37, 4 * 55))
    _is_png(out / "latent_scatter.png", (500, 400))
    before = {n: (out / n).read_bytes() for n in names}
    assert main(["latent", str(run), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"tfgen latent: error: `--out` '{out}' exists; pass --overwrite to replace it.")
    assert {n: (out / n).read_bytes() for n in names} == before
    assert main(["latent", str(run), "--out", str(out), "--overwrite"]) == 0
    assert sorted(os.listdir(out)) == names and sorted(os.listdir(tmp_path)) == ["pictures"]


def test_conditional_models_encode_each_input_with_its_label(digits, test_split, tmp_path,
                                                            monkeypatch, capsys):
    model = VAE([8, 8, 1], latent_dim=4, hidden_units=[8], num_classes=10,
                dequantizer=digits.dequantizer)
    x, labels = test_split
    model.encode(x[:1], labels[:1])  # builds the networks
    os.makedirs(tmp_path / "cvae")
    model.save(tmp_path / "cvae" / "model.keras")
    label_of = {example.tobytes(): label for example, label in zip(x, labels)}
    seen = []
    encode = latent.encode

    def recording(model, x, condition=None):
        seen.append((x, condition))
        return encode(model, x, condition)

    monkeypatch.setattr(latent, "encode", recording)
    assert main(["latent", str(tmp_path / "cvae"), "--data", "digits",
                 "--out", str(tmp_path / "out")]) == 0
    # A 4D latent: no scatter.
    assert sorted(os.listdir(tmp_path / "out")) == [
        "attribute.png", "interpolations.png", "reconstructions.png"]
    assert len(seen) >= 4
    for inputs, condition in seen:
        np.testing.assert_array_equal(condition, [label_of[e.tobytes()] for e in inputs])


@pytest.mark.parametrize("model,message", [
    (lambda: flows.Planar([2], num_layers=1),
     "`DIR` '{d}/run' holds a Planar, a model without an encoder; `tfgen latent` takes VAEs."),
    (lambda: VAE([2], latent_dim=2, hidden_units=[4]),
     "`--data` 'two_moons' has no labels; `tfgen latent` draws labeled images (e.g. digits)."),
])
def test_runs_it_cannot_draw_are_refused_by_name(model, message, tmp_path, capsys):
    os.makedirs(tmp_path / "run")
    model().save(tmp_path / "run" / "model.keras")
    assert main(["latent", str(tmp_path / "run"), "--data", "two_moons",
                 "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == "tfgen latent: error: " + message.format(
        d=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_arguments_are_checked_before_tensorflow_loads(tmp_path):
    (tmp_path / "taken").mkdir()
    code = f"""
import sys
from tfgen.cli import main
codes = [main(["latent", {str(tmp_path)!r}, "--out", {str(tmp_path / 'taken')!r}]),
         main(["latent", {str(tmp_path / 'none')!r}, "--out", {str(tmp_path / 'o')!r}])]
print(codes, sorted(m for m in ("tensorflow", "keras", "tensorflow_probability")
                    if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[2, 2] []"
    assert "`--out`" in result.stderr and "holds no model.keras" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["taken"]
