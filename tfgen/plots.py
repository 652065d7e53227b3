"""Pictures people look at: sample grids, scatter plots, density maps (PNG)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["density_png", "image_grid_png", "scatter_png"]


def image_grid_png(images, path, columns=None):
    """Saves images `[n, h, w, c]` with values in [0, 1] as one grid PNG."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.ones(((h + 1) * rows + 1, (w + 1) * columns + 1, c), np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h,
             1 + col * (w + 1):1 + col * (w + 1) + w] = image
    scale = max(1, 256 // max(grid.shape[:2]))
    grid = np.kron(grid, np.ones((scale, scale, 1), np.float32))
    plt.imsave(path, grid[..., 0] if c == 1 else grid, cmap="gray", vmin=0, vmax=1)


def scatter_png(samples, path, reference=None, bounds=(-4, 4), title="model samples",
                labels=None):
    """Scatter plot of 2D samples, beside `reference` data if given; with
    int `labels` (one per sample) the samples are colored by label, with a
    legend."""
    panels = [(samples, title, labels)] + (
        [(reference, "data", None)] if reference is not None else [])
    width = 4 * len(panels) + (1 if labels is not None else 0)  # room for the legend
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 4), squeeze=False)
    for ax, (points, name, classes) in zip(axes[0], panels):
        points = np.asarray(points)
        if classes is None:
            ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4)
        else:
            classes = np.asarray(classes)
            for k, label in enumerate(np.unique(classes)):
                ax.scatter(*points[classes == label].T, s=8, alpha=0.7, label=str(label),
                           color=plt.cm.tab10(k % 10))
            ax.legend(title="label", loc="center left", bbox_to_anchor=(1.02, 0.5),
                      markerscale=2, frameon=False)
        ax.set(xlim=bounds, ylim=bounds, aspect="equal", title=name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def density_png(log_prob_fn, path, bounds=(-4, 4), true_log_prob=None, resolution=200):
    """Heat map of `exp(log_prob_fn(points))` on a grid, beside the true
    density if `true_log_prob` is given."""
    grid = np.linspace(bounds[0], bounds[1], resolution)
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
    panels = [(log_prob_fn, "model density")]
    if true_log_prob is not None:
        panels.append((true_log_prob, "true density"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (fn, name) in zip(axes[0], panels):
        density = np.exp(np.asarray(fn(points), dtype=np.float64)).reshape(xx.shape)
        ax.imshow(density, origin="lower", extent=(*bounds, *bounds), cmap="viridis")
        ax.set(title=name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
