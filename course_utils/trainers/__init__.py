"""Trainers that run the learner's own functions inside a complete, readable training loop."""
from course_utils.trainers.history import History
from course_utils.trainers.reinforce import mse_value_loss, train_reinforce

__all__ = ["History", "train_reinforce", "mse_value_loss"]
