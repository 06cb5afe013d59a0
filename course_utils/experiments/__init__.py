"""The cached experiments: runs too long for a lesson, made once, shipped as JSON, loaded by lessons.

    reference_curves   one learning curve per trainer configuration, 8 seeds (chapters 02-08)
    lambda_sweep       actor-critic + GAE on Acrobot-v1 for several lam (chapter 05)
    ppo_ablation       which of PPO's details matter (chapter 08)
    ppo_diagnostics    a healthy PPO run and three broken on purpose, with diagnostics (chapter 08)
    grpo_comparison    GRPO against PPO + critic on the sorting task (chapter 09)

One store (:mod:`course_utils.experiments.store`: paths under ``course_utils/data``, metadata)
and one command (:mod:`course_utils.experiments.command`)::

    python -m course_utils experiments NAME [NAME ...] [--seeds 0 1 2 ...]

The modules here load and describe the caches and say how to make them; only the command
imports the trainers, so that the trainers may re-export what lessons load from them.
"""
