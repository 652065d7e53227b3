"""Flow layers against closed forms: the LU-parametrized linear layer."""

import numpy as np
import pytest

from tfgen import flows
from tfgen.testing import check_bijector

from tests.helpers import perturb


@pytest.mark.parametrize("event_shape", [[4], [2, 3, 4]])
def test_linear_lu_layer_is_exact_and_starts_at_identity(event_shape):
    layer = flows.LinearLULayer(event_shape)
    x = np.random.default_rng(0).normal(size=(5, *event_shape)).astype(np.float32)
    np.testing.assert_array_equal(layer.bijector().forward(x), x)
    perturb(layer, scale=0.3)
    report = check_bijector(layer.bijector(), x, jacobian=False)
    assert report.ok, report.failures
    # O(d) log-det: sum(log_diag) per pixel.
    pixels = int(np.prod(event_shape[:-1]))
    np.testing.assert_allclose(
        layer.bijector().forward_log_det_jacobian(x, event_ndims=len(event_shape)),
        pixels * np.sum(layer.log_diag.numpy()), rtol=1e-5)


def test_linear_lu_layer_matches_explicit_matrix_and_serializes():
    layer = perturb(flows.LinearLULayer([3]), scale=0.5)
    lower_upper = layer.lower_upper().numpy().astype(np.float64)
    lower = np.tril(lower_upper, -1) + np.eye(3)
    upper = np.triu(lower_upper)
    # tf.linalg.lu's convention: W = P^T L U with P = eye[permutation].
    matrix = np.eye(3)[layer.permutation.numpy()].T @ lower @ upper
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(layer.bijector().forward(x), x @ matrix.T, rtol=1e-5, atol=1e-5)
    sign, log_det = np.linalg.slogdet(matrix)
    np.testing.assert_allclose(layer.bijector().forward_log_det_jacobian(x, 1), log_det, rtol=1e-5)
    clone = flows.LinearLULayer.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert len(layer.trainable_weights) == 3 and len(layer.non_trainable_weights) == 2
