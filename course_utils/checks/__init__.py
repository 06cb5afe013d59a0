"""The checks of every exercise, one module per chapter.

Each module describes its exercises (test cases, including cases worked out by hand, the
catalogue of classic mistakes with their diagnoses, tiered hints) in a list ``EXERCISES``;
the answers they compare with come from :mod:`course_utils.answers`. The course's catalogue,
:mod:`course_utils.catalogue`, imports these modules in course order (:data:`CHAPTERS`).
"""
CHAPTERS = [
    "ch00_setup",
    "ch01_log_derivative_trick",
    "ch02_reinforce",
    "ch03_baselines",
    "ch04_actor_critic",
    "ch05_gae",
    "ch06_trust_regions",
    "ch07_trpo",
    "ch08_ppo",
    "ch09_grpo",
]
