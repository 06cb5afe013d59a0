"""Old home of PPO's answers and helpers, kept as a re-export for code written against it.

The answers are in :mod:`course_utils.answers.surrogates`, the helpers in
:mod:`course_utils.trainers.kit`, the vector env in :func:`course_utils.rl.rollout.make_vector_env`.
"""
from course_utils.answers.surrogates import adaptive_kl_beta, approx_kl, clipped_value_loss, ppo_clip_loss
from course_utils.trainers.kit import RunningMeanStd, clip_grad_norm, evaluate_policy

__all__ = ["ppo_clip_loss", "approx_kl", "clipped_value_loss", "adaptive_kl_beta", "RunningMeanStd",
           "clip_grad_norm", "evaluate_policy"]
