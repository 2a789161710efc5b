"""Rate-distortion plots and visual comparisons, saved as PNG."""

# Figures are built with matplotlib's object API, not pyplot, so that
# importing this module never changes the global backend (notebooks keep
# their inline figures).
from matplotlib.figure import Figure
import numpy as np

from bls2017.core import images


def save(figure, path, dpi=110):
  """Writes a matplotlib Figure as PNG atomically; returns path."""
  figure.tight_layout()
  with images.atomic_output(path) as f:
    figure.savefig(f, format="png", dpi=dpi)
  return path


def rd_curves(path, curves, key, ylabel, title):
  """One line per method: mean bpp against mean `key` per rate point.

  curves: {label: list of summaries (dicts with "bpp" and `key`)}.
  """
  figure = Figure(figsize=(6.4, 4.6))
  axis = figure.subplots()
  for label, summaries in curves.items():
    points = sorted((s["bpp"], s[key]) for s in summaries)
    style = "o-" if len(points) > 1 else "*"
    axis.plot(*zip(*points), style, label=label,
              markersize=12 if len(points) == 1 else 4)
  axis.set_xlabel("bits per pixel (file size)")
  axis.set_ylabel(ylabel)
  axis.set_title(title)
  axis.grid(alpha=0.3)
  axis.legend(fontsize=8)
  return save(figure, path)


def visual_comparison(path, panels, crop=192):
  """Centre crops side by side; panels: list of (label, uint8 image)."""
  figure = Figure(figsize=(3.2 * len(panels), 3.6))
  axes = figure.subplots(1, len(panels))
  for axis, (label, x) in zip(np.atleast_1d(axes), panels):
    height, width = x.shape[:2]
    top, left = max(0, (height - crop) // 2), max(0, (width - crop) // 2)
    patch = x[top:top + crop, left:left + crop]
    axis.imshow(patch.squeeze(), cmap="gray" if x.shape[-1] == 1 else None,
                vmin=0, vmax=255, interpolation="nearest")
    axis.set_title(label, fontsize=8)
    axis.axis("off")
  return save(figure, path)


def scatter(path, x, y, xlabel, ylabel, title):
  """Scatter of paired values with the identity line."""
  figure = Figure(figsize=(4.8, 4.6))
  axis = figure.subplots()
  axis.scatter(x, y, s=6, alpha=0.5)
  low, high = min(np.min(x), np.min(y)), max(np.max(x), np.max(y))
  axis.plot([low, high], [low, high], "k--", lw=0.8, label="y = x")
  axis.set_xlabel(xlabel)
  axis.set_ylabel(ylabel)
  axis.set_title(title)
  axis.legend()
  return save(figure, path)
