"""The checks of every exercise, one module per chapter, imported in course order.

Each module defines the reference answer, the test cases (including cases worked out by hand),
the catalogue of classic mistakes with their diagnoses, and tiered hints, then registers them.
"""
from course_utils.checks import (  # noqa: F401
    ch00_setup,
    ch01_log_derivative_trick,
    ch02_reinforce,
    ch03_baselines,
    ch04_actor_critic,
    ch05_gae,
    ch06_trust_regions,
    ch07_trpo,
    ch08_ppo,
    ch09_grpo,
)
