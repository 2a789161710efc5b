"""Deterministic synthetic images for tests."""

import numpy as np


def synthetic_image(height, width, channels=3):
  """A deterministic, photo-like uint8 image: gradients plus texture."""
  i, j, c = np.meshgrid(np.arange(height), np.arange(width),
                        np.arange(channels), indexing="ij")
  value = (96 + 60 * np.sin(i / 7.0 + c) + 50 * np.cos(j / 11.0 - c)
           + 20 * np.sin((i * j) / 37.0))
  return np.clip(value, 0, 255).astype(np.uint8)


def integer_image(height, width, channels=3):
  """A deterministic image from integer arithmetic only (for golden hashes:
  no floating-point function whose last bit could differ between builds)."""
  i, j, c = np.meshgrid(np.arange(height), np.arange(width),
                        np.arange(channels), indexing="ij")
  value = (i * j) // 9 + 2 * i + 3 * j + 60 * c + (i // 8 + j // 8) % 3 * 40
  return (value % 256).astype(np.uint8)
