"""A Keras model trained on the rate-distortion Lagrangian R + lambda * D.

Shared by the image codec and the MNIST tutorial: a subclass's `call(x,
training)` returns (rate, distortion) as scalars; `fit` minimises
rate + lmbda * distortion and reports both.
"""

import tensorflow as tf


class LagrangianModel(tf.keras.Model):
  """Base for models whose `call` returns (rate, distortion)."""

  rate_name = "rate"
  distortion_name = "distortion"

  def __init__(self, lmbda, **kwargs):
    super().__init__(**kwargs)
    self.lmbda = float(lmbda)

  def compile(self, **kwargs):
    super().compile(loss=None, metrics=None, loss_weights=None,
                    weighted_metrics=None, **kwargs)
    self.trackers = [tf.keras.metrics.Mean(name=name) for name in
                     ("loss", self.rate_name, self.distortion_name)]

  @property
  def metrics(self):
    return getattr(self, "trackers", [])

  def train_step(self, x):
    with tf.GradientTape() as tape:
      rate, distortion = self(x, training=True)
      loss = rate + self.lmbda * distortion
      # Replicas' gradients are summed; scale so that they average instead.
      replicas = tf.distribute.get_strategy().num_replicas_in_sync
      scaled_loss = loss / tf.cast(replicas, loss.dtype)
    grads = tape.gradient(scaled_loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    return self._track(loss, rate, distortion)

  def test_step(self, x):
    rate, distortion = self(x, training=False)
    return self._track(rate + self.lmbda * distortion, rate, distortion)

  def _track(self, *values):
    for tracker, value in zip(self.trackers, values):
      tracker.update_state(value)
    return {t.name: t.result() for t in self.trackers}
