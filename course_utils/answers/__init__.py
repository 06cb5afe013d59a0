"""The answer key: every exercise's answer, in one package, one module per topic.

    episodes         undiscounted_return, run_episode                               (ch. 00)
    log_probs        categorical_log_prob, gaussian_log_prob, softmax_score,
                     score_gradient_gaussian_mean                                   (ch. 01)
    returns          discounted_return, reward_to_go, bootstrapped_returns,
                     lambda_returns                                                 (ch. 02-05)
    policy_gradient  sample_actions, pg_loss, optimal_baseline, two_action_optimal_baseline,
                     value_loss, a2c_loss                                            (ch. 02-04)
    advantages       td_residuals, gae, k_step_advantage, normalize_advantages,
                     group_relative_advantages, lambda_for_horizon                  (ch. 03-05, 09)
    exact_mdp        tabular_policy_evaluation, advantage_table, discounted_visitation,
                     trust_region_iteration (the bug lab)                            (ch. 06)
    trust_region     kl_categorical, conjugate_gradient, fisher_vector_product,
                     trust_region_step, softmax_fisher                              (ch. 06-07)
    surrogates       ppo_clip_loss, approx_kl, adaptive_kl_beta, clipped_value_loss,
                     explained_variance, grpo_loss                                  (ch. 08-09)
    ppo_loop         ppo_update, ppo_capstone (PPO's update; a whole PPO)            (ch. 08)
    reinforce_loop   reinforce_step (loop)                                          (ch. 02)
    a2c_loop         a2c_rollout, a2c_update (loop), n_step_targets                 (ch. 04)
    trpo_loop        trpo_update (loop)                                             (ch. 07)
    grpo_loop        grpo_update (loop)                                             (ch. 09)
    language_models  sequence_log_prob, answer_mask, grpo_token_loss, kl_shaped_rewards, bradley_terry_loss,
                     dpo_loss (ch. 10)

Each function is named after its exercise id (the two exceptions of chapter 06 have an alias
here: ``tabular_policy_evaluation`` and ``advantage_table``). The checks in
:mod:`course_utils.checks` grade a learner's function against these; the trainers in
:mod:`course_utils.trainers` run these when a learner passes nothing. This package imports
only torch, NumPy and Gymnasium: never a check, a grader or a trainer.
"""
from course_utils.answers.advantages import (
    gae,
    group_relative_advantages,
    k_step_advantage,
    lambda_for_horizon,
    normalize_advantages,
    td_residuals,
)
from course_utils.answers.episodes import run_episode, undiscounted_return
from course_utils.answers.exact_mdp import discounted_visitation, policy_evaluation, q_values, trust_region_iteration
from course_utils.answers.exact_mdp import advantages as advantage_table
from course_utils.answers.language_models import (answer_mask, bradley_terry_loss, dpo_loss, grpo_token_loss,
                                                  kl_shaped_rewards, sequence_log_prob)
from course_utils.answers.grpo_loop import grpo_update
from course_utils.answers.log_probs import (
    categorical_log_prob,
    gaussian_log_prob,
    score_gradient_gaussian_mean,
    softmax_score,
)
from course_utils.answers.policy_gradient import (
    a2c_loss,
    optimal_baseline,
    pg_loss,
    sample_actions,
    two_action_optimal_baseline,
    value_loss,
)
from course_utils.answers.reinforce_loop import reinforce_step
from course_utils.answers.a2c_loop import a2c_rollout, a2c_update, n_step_targets
from course_utils.answers.returns import bootstrapped_returns, discounted_return, lambda_returns, reward_to_go
from course_utils.answers.ppo_loop import ppo_capstone, ppo_update
from course_utils.answers.surrogates import (
    adaptive_kl_beta,
    approx_kl,
    clipped_value_loss,
    explained_variance,
    grpo_loss,
    ppo_clip_loss,
)
from course_utils.answers.trust_region import (
    conjugate_gradient,
    fisher_vector_product,
    kl_categorical,
    kl_diag_gaussian,
    softmax_fisher,
    trust_region_step,
)
from course_utils.answers.trpo_loop import trpo_update

tabular_policy_evaluation = policy_evaluation

__all__ = [
    "undiscounted_return", "run_episode",
    "categorical_log_prob", "gaussian_log_prob", "softmax_score", "score_gradient_gaussian_mean",
    "discounted_return", "sample_actions", "pg_loss", "reinforce_step",
    "reward_to_go", "optimal_baseline", "two_action_optimal_baseline", "value_loss", "normalize_advantages",
    "td_residuals", "bootstrapped_returns", "a2c_loss", "a2c_rollout", "a2c_update",
    "gae", "k_step_advantage", "lambda_returns", "lambda_for_horizon",
    "tabular_policy_evaluation", "advantage_table", "discounted_visitation", "kl_categorical", "softmax_fisher",
    "trust_region_iteration",
    "conjugate_gradient", "fisher_vector_product", "trust_region_step", "trpo_update",
    "ppo_clip_loss", "approx_kl", "adaptive_kl_beta", "clipped_value_loss", "explained_variance",
    "ppo_update", "ppo_capstone",
    "group_relative_advantages", "grpo_loss", "grpo_update",
    "sequence_log_prob", "answer_mask", "grpo_token_loss", "kl_shaped_rewards", "bradley_terry_loss", "dpo_loss",
    # helpers of the answers above (not exercises)
    "policy_evaluation", "q_values", "kl_diag_gaussian", "n_step_targets",
]  # fmt: skip
