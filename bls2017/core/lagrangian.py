"""A Keras model trained on named loss terms, by default R + lambda * D.

Shared by every system and the MNIST tutorial. A model names its terms in
`term_names` (the total, "loss", first) and returns them from
`loss_terms(x, training)` as {name: scalar}; the shared steps minimise
"loss" alone and log every term under its name (Keras history, TensorBoard,
the model file's `final_train_*` figures).

The rate-distortion models only implement `call(x, training)` ->
(rate, distortion); the default terms are then

    loss = rate + lmbda * distortion,  named "loss", rate_name,
                                       distortion_name
"""

import tensorflow as tf


class LagrangianModel(tf.keras.Model):
  """Base for models trained on the named terms of `loss_terms`."""

  rate_name = "rate"
  distortion_name = "distortion"

  def __init__(self, lmbda, **kwargs):
    super().__init__(**kwargs)
    self.lmbda = float(lmbda)

  @property
  def term_names(self):
    """The names `loss_terms` returns, "loss" (the total) first."""
    return ("loss", self.rate_name, self.distortion_name)

  def loss_terms(self, x, training=False):
    """{name: scalar} for a batch x; "loss" is what training minimises."""
    rate, distortion = self(x, training=training)
    return {"loss": rate + self.lmbda * distortion, self.rate_name: rate,
            self.distortion_name: distortion}

  def compile(self, **kwargs):
    super().compile(loss=None, metrics=None, loss_weights=None,
                    weighted_metrics=None, **kwargs)
    self.trackers = {name: tf.keras.metrics.Mean(name=name)
                     for name in self.term_names}

  @property
  def metrics(self):
    return list(getattr(self, "trackers", {}).values())

  def train_step(self, x):
    with tf.GradientTape() as tape:
      terms = self.loss_terms(x, training=True)
      # Replicas' gradients are summed; scale so that they average instead.
      replicas = tf.distribute.get_strategy().num_replicas_in_sync
      scaled_loss = terms["loss"] / tf.cast(replicas, terms["loss"].dtype)
    grads = tape.gradient(scaled_loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    return self.track(terms)

  def test_step(self, x):
    return self.track(self.loss_terms(x, training=False))

  def track(self, terms):
    """Adds a batch's terms to the running means; returns the means."""
    for name, tracker in self.trackers.items():
      tracker.update_state(terms[name])
    return {name: tracker.result() for name, tracker in self.trackers.items()}
