"""Deterministic synthetic images for tests."""

import numpy as np


def synthetic_image(height, width, channels=3):
  """A deterministic, photo-like uint8 image: gradients plus texture."""
  i, j, c = np.meshgrid(np.arange(height), np.arange(width),
                        np.arange(channels), indexing="ij")
  value = (96 + 60 * np.sin(i / 7.0 + c) + 50 * np.cos(j / 11.0 - c)
           + 20 * np.sin((i * j) / 37.0))
  return np.clip(value, 0, 255).astype(np.uint8)
