"""Distances between distributions from samples or moments, in NumPy float64.

    frechet_distance   d^2 between Gaussians N(m_a, C_a), N(m_b, C_b) (FID's formula)
    energy_distance    squared energy distance of two samples
    mmd                unbiased squared MMD, Gaussian kernel
    polynomial_mmd     unbiased squared MMD, kernel (x.y / d + 1)^3 (KID's)

The three sample statistics are one computation: an unbiased (U-statistic)
estimate of the squared MMD for a kernel k,

    MMD^2_u = sum_{i != j} k(a_i, a_j) / (n (n - 1))
            + sum_{i != j} k(b_i, b_j) / (m (m - 1))
            - 2 sum_{i, j} k(a_i, b_j) / (n m),

which is 0 in expectation when a and b come from one distribution (and may
then be negative). The energy distance is the case k(x, y) = -|x - y|.
Kernel matrices are summed in row blocks of at most 2^22 entries, so 10k x
10k samples need tens of MB. With `return_stderr=True` each also returns the
two-sample jackknife standard error (Arvesen 1969) from the same row sums; it
errs on the large side (Efron & Stein 1981), most near 0, where the estimate
is a degenerate U-statistic.

References:
  Arvesen, "Jackknifing U-statistics", Ann. Math. Statist. 1969; Efron &
  Stein, "The jackknife estimate of variance", Ann. Statist. 1981.
"""

import numpy as np
import scipy.spatial.distance

__all__ = ["energy_distance", "frechet_distance", "median_bandwidth", "mmd", "polynomial_mmd"]

# Entries of one block of a kernel matrix: 2^22 float64 = 32 MiB.
_BLOCK_ENTRIES = 2 ** 22
# The median heuristic looks at the pairs of at most this many rows.
_MEDIAN_ROWS = 2000


def _check_samples(name, x, min_rows):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < min_rows:
        raise ValueError(
            f"`{name}` must be a sample [n, d] with n >= {min_rows}; received shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` holds non-finite values (NaN or Inf).")
    return x


def _check_pair(a, b, min_rows=2):
    a, b = _check_samples("a", a, min_rows), _check_samples("b", b, min_rows)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`b` must have the dimension of `a` ({a.shape[1]}); received shape {b.shape}.")
    return a, b


def _squared_distances(x, y):
    # |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, clipped at 0 against rounding.
    d2 = np.sum(x * x, 1)[:, None] + np.sum(y * y, 1)[None, :] - 2.0 * x @ y.T
    return np.maximum(d2, 0.0)


def _negative_distance(x, y):
    return -np.sqrt(_squared_distances(x, y))


def _cubic_polynomial(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _gaussian(bandwidth):
    def kernel(x, y):
        return np.exp(-_squared_distances(x, y) / (2.0 * bandwidth ** 2))
    return kernel


def _kernel_sums(kernel, a, b, same):
    """Row and column sums of the matrix k(a_i, b_j), built in row blocks;
    `same` (b is a) leaves out the diagonal i == j."""
    rows, cols = np.zeros(len(a)), np.zeros(len(b))
    step = max(1, _BLOCK_ENTRIES // len(b))
    for start in range(0, len(a), step):
        block = kernel(a[start:start + step], b)
        if same:
            index = np.arange(len(block))
            block[index, start + index] = 0.0
        rows[start:start + step] = block.sum(1)
        cols += block.sum(0)
    return rows, cols


def _mmd2(kernel, a, b, return_stderr):
    n, m = len(a), len(b)
    aa, _ = _kernel_sums(kernel, a, a, same=True)
    bb, _ = _kernel_sums(kernel, b, b, same=True)
    ab, ba = _kernel_sums(kernel, a, b, same=False)
    estimate = aa.sum() / (n * (n - 1)) + bb.sum() / (m * (m - 1)) - 2.0 * ab.sum() / (n * m)
    if not return_stderr:
        return float(estimate)
    # Leaving out a_i changes the estimate by g_i + const, where
    #   g_i = -2 aa_i / ((n - 1)(n - 2)) + 2 ab_i / ((n - 1) m);
    # jackknife variance (Arvesen 1969):
    #   (n - 1)/n sum_i (g_i - mean g)^2 + (m - 1)/m sum_j (h_j - mean h)^2.
    g = -2.0 * aa / ((n - 1) * (n - 2)) + 2.0 * ab / ((n - 1) * m)
    h = -2.0 * bb / ((m - 1) * (m - 2)) + 2.0 * ba / (n * (m - 1))
    variance = (n - 1) * np.var(g) + (m - 1) * np.var(h)
    return float(estimate), float(np.sqrt(variance))


def energy_distance(a, b, return_stderr=False):
    """Squared energy distance of samples `a` `[n, d]` and `b` `[m, d]`.

    D^2 = 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Euclidean norms), estimated
    without the i == j terms of the last two means, so the estimate is 0 in
    expectation when both samples come from one distribution. This is the
    square of what `scipy.stats.energy_distance` returns in 1D, up to its
    biased (i == j included) means.

    Args:
      a, b: float samples `[n, d]`, `[m, d]`, n, m >= 2.
      return_stderr: also return the jackknife standard error (module
        docstring); needs n, m >= 3.

    Returns:
      The estimate, or `(estimate, stderr)`.

    Example:

    ```python
    energy_distance(model.sample(2000), test_points)
    ```

    References:
      Szekely & Rizzo, "Energy statistics: A class of statistics based on
      distances", J. Stat. Planning and Inference 2013.
    """
    a, b = _check_pair(a, b, 3 if return_stderr else 2)
    return _mmd2(_negative_distance, a, b, return_stderr)


def median_bandwidth(x):
    """Median heuristic: the median Euclidean distance between distinct rows
    of `x` `[n, d]`; of 2000 rows drawn by `np.random.default_rng(0)` when
    `x` has more."""
    x = _check_samples("x", x, 2)
    if len(x) > _MEDIAN_ROWS:
        x = x[np.random.default_rng(0).choice(len(x), _MEDIAN_ROWS, replace=False)]
    bandwidth = float(np.median(scipy.spatial.distance.pdist(x)))
    if bandwidth == 0.0:
        raise ValueError(
            "`x`: the median distance between its rows is 0 (mostly repeated rows); "
            "pass a `bandwidth`.")
    return bandwidth


def mmd(a, b, bandwidth=None, return_stderr=False):
    """Unbiased squared maximum mean discrepancy with a Gaussian kernel.

    k(x, y) = exp(-|x - y|^2 / (2 bandwidth^2)); see the module docstring
    for the estimate (0 in expectation for one distribution).

    Args:
      a, b: float samples `[n, d]`, `[m, d]`, n, m >= 2.
      bandwidth: the kernel's length scale; by default the median heuristic
        on the pooled sample, `median_bandwidth(concatenate([a, b]))`. Pass
        one fixed value to compare several MMDs with each other.
      return_stderr: also return the jackknife standard error (module
        docstring); needs n, m >= 3.

    Returns:
      The estimate, or `(estimate, stderr)`.

    Example:

    ```python
    width = median_bandwidth(test_points)
    mmd(model.sample(2000), test_points, bandwidth=width)
    ```

    References:
      Gretton et al., "A Kernel Two-Sample Test", JMLR 2012.
    """
    a, b = _check_pair(a, b, 3 if return_stderr else 2)
    if bandwidth is None:
        bandwidth = median_bandwidth(np.concatenate([a, b]))
    elif isinstance(bandwidth, bool) or not np.isscalar(bandwidth) \
            or not np.isfinite(bandwidth) or bandwidth <= 0:
        raise ValueError(f"`bandwidth` must be a finite number > 0; received {bandwidth!r}.")
    return _mmd2(_gaussian(float(bandwidth)), a, b, return_stderr)


def polynomial_mmd(a, b, return_stderr=False):
    """Unbiased squared MMD with the kernel k(x, y) = (x.y / d + 1)^3.

    On classifier features this is the kernel inception distance of one
    subset (`tfgen.metrics.KID` averages it over subsets).

    Args:
      a, b: float samples `[n, d]`, `[m, d]`, n, m >= 2.
      return_stderr: also return the jackknife standard error (module
        docstring); needs n, m >= 3.

    Returns:
      The estimate, or `(estimate, stderr)`.

    References:
      Binkowski et al., "Demystifying MMD GANs", ICLR 2018.
    """
    a, b = _check_pair(a, b, 3 if return_stderr else 2)
    return _mmd2(_cubic_polynomial, a, b, return_stderr)


def _check_gaussian(mean_name, mean, cov_name, cov, dim=None):
    mean, cov = np.asarray(mean, np.float64), np.asarray(cov, np.float64)
    dim = len(mean) if dim is None else dim
    if mean.shape != (dim,):
        raise ValueError(f"`{mean_name}` must be a vector [{dim}]; received shape {mean.shape}.")
    if cov.shape != (dim, dim):
        raise ValueError(
            f"`{cov_name}` must be a matrix [{dim}, {dim}]; received shape {cov.shape}.")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise ValueError(f"`{mean_name}` or `{cov_name}` holds non-finite values.")
    scale = max(np.abs(cov).max(initial=0.0), np.finfo(np.float64).tiny)
    if not np.allclose(cov, cov.T, rtol=0.0, atol=1e-8 * scale):
        raise ValueError(f"`{cov_name}` must be symmetric.")
    cov = (cov + cov.T) / 2
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    # Rounding, relative to the entries, and absolute for a covariance of
    # (nearly) identical samples, whose entries are themselves rounding.
    if eigenvalues.min(initial=0.0) < -(1e-8 * scale + 1e-9):
        raise ValueError(f"`{cov_name}` must be positive semi-definite; its smallest "
                         f"eigenvalue is {eigenvalues.min():.3g}.")
    return mean, cov, np.maximum(eigenvalues, 0.0), eigenvectors


def frechet_distance(mean_a, cov_a, mean_b, cov_b):
    """Squared Frechet (2-Wasserstein) distance between two Gaussians.

    d^2 = |m_a - m_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)). The trace of the
    square root is sum_k sqrt(lambda_k) over the eigenvalues of the
    symmetric S C_b S, S = C_a^(1/2) (same eigenvalues as C_a C_b), both
    taken by `eigh` with eigenvalues clipped at 0: exact for singular
    covariances too, where `scipy.linalg.sqrtm` needs an offset. The result
    is clipped at 0 (a negative value is rounding).

    Args:
      mean_a, mean_b: means `[d]`.
      cov_a, cov_b: symmetric positive semi-definite covariances `[d, d]`.

    Returns:
      d^2 as a float (FID is this in classifier features).

    Example:

    ```python
    frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))  # 2 + 2
    ```

    References:
      Dowson & Landau, "The Frechet distance between multivariate normal
      distributions", J. Multivariate Analysis 1982; Heusel et al., "GANs
      Trained by a Two Time-Scale Update Rule Converge to a Local Nash
      Equilibrium", NeurIPS 2017.
    """
    mean_a, cov_a, eigenvalues, eigenvectors = _check_gaussian(
        "mean_a", mean_a, "cov_a", cov_a)
    mean_b, cov_b, _, _ = _check_gaussian("mean_b", mean_b, "cov_b", cov_b, len(mean_a))
    sqrt_a = (eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T
    middle = sqrt_a @ cov_b @ sqrt_a
    trace_sqrt = np.sum(np.sqrt(np.maximum(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0)))
    d2 = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return float(max(d2, 0.0))
