"""Figures of the MNIST tutorial, saved as PNG files."""

# Figures are built with matplotlib's object API, not pyplot, so that
# importing this module never changes the global backend (notebooks keep
# their inline figures).
from matplotlib.figure import Figure
import numpy as np

from bls2017.core.plots import save as _save


def codec_grid(path, originals, strings, bits, reconstructions):
  """Each digit: original, its bit string in hex, bits, reconstruction."""
  count = len(originals)
  figure = Figure(figsize=(6.5, 1.1 * count))
  axes = figure.subplots(count, 3)
  for row, (x, s, b, x_hat) in enumerate(zip(originals, strings, bits,
                                             reconstructions)):
    axes[row, 0].imshow(x[..., 0], cmap="gray", vmin=0, vmax=255)
    axes[row, 1].text(0.5, 0.5, f"0x{s.hex()}\n{8 * len(s)} bits "
                      f"({b:.1f} information)", ha="center", va="center",
                      family="monospace", fontsize=7)
    axes[row, 2].imshow(x_hat[..., 0], cmap="gray", vmin=0, vmax=255)
    for axis in axes[row]:
      axis.axis("off")
  axes[0, 0].set_title("original")
  axes[0, 1].set_title("bit string")
  axes[0, 2].set_title("decoded")
  return _save(figure, path)


def prior_densities(path, trainer, latents=None):
  """The learned prior's densities (noisy logistic) per latent dimension."""
  grid = np.linspace(-6, 6, 241, dtype=np.float32)[:, None]
  density = trainer.prior.prob(grid).numpy()
  order = np.argsort(trainer.prior_log_scales.numpy())[::-1]
  figure = Figure(figsize=(7, 4))
  axis = figure.subplots()
  for k in order[:latents or len(order)]:
    axis.plot(grid[:, 0], density[:, k], lw=0.8)
  axis.set_xlabel("latent value")
  axis.set_ylabel("density p(y_tilde)")
  axis.set_title(f"Learned priors of the {density.shape[1]} latents")
  return _save(figure, path)


def tradeoff(path, points):
  """Rate vs distortion per lambda: information content and real lengths.

  points: list of dicts with lmbda, information_bits, string_bits,
  distortion.
  """
  points = sorted(points, key=lambda p: p["information_bits"])
  figure = Figure(figsize=(6, 4))
  axis = figure.subplots()
  distortion = [p["distortion"] for p in points]
  axis.plot([p["information_bits"] for p in points], distortion, "o-",
            label="information content")
  axis.plot([p["string_bits"] for p in points], distortion, "s--",
            label="real string length")
  for p in points:
    axis.annotate(f"λ={p['lmbda']:g}", (p["information_bits"],
                                        p["distortion"]),
                  textcoords="offset points", xytext=(5, 5), fontsize=8)
  axis.set_xlabel("rate (bits per digit)")
  axis.set_ylabel("distortion (mean absolute pixel error)")
  axis.set_title("MNIST rate-distortion trade-off")
  axis.legend()
  axis.grid(alpha=0.3)
  return _save(figure, path)


def digit_grid(path, digits, title, columns=8):
  rows = -(-len(digits) // columns)
  figure = Figure(figsize=(columns, rows + 0.4))
  axes = figure.subplots(rows, columns, squeeze=False)
  for axis in np.ravel(axes):
    axis.axis("off")
  for axis, digit in zip(np.ravel(axes), digits):
    axis.imshow(digit[..., 0], cmap="gray", vmin=0, vmax=255)
  figure.suptitle(title)
  return _save(figure, path)
