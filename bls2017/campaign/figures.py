"""The convergence figure: each model's validation figures against steps."""

from matplotlib.figure import Figure

from bls2017.core import plots


def convergence(plan, content, path):
  """Three panels (R + lambda D, bpp, PSNR on the validation set) against
  training steps, one line per model with validation figures."""
  figure = Figure(figsize=(12, 3.8))
  axes = figure.subplots(1, 3)
  for model in plan.models:
    points = content.get("models", {}).get(model.name, {}).get(
        "validation", [])
    if not points:
      continue
    steps = [p["step"] for p in points]
    label = f"{model.name} (lambda {model.lmbda:g})"
    for axis, key in zip(axes, ("loss", "bpp", "psnr")):
      axis.plot(steps, [p[key] for p in points], "o-", markersize=3,
                label=label)
  for axis, title in zip(axes, ("R + lambda D (bpp + lambda MSE)",
                                "bits per pixel", "PSNR (dB)")):
    axis.set_xscale("log")
    axis.set_xlabel("training steps")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
  axes[0].legend(fontsize=7)
  figure.suptitle("Validation set, real bitstreams; at each point the "
                  "better of the training weights and their average",
                  fontsize=10)
  return plots.save(figure, path)
