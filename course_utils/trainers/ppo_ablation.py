"""Old home of lesson 08's PPO ablation, kept for ``from course_utils.trainers.ppo_ablation import load``;
it lives in :mod:`course_utils.experiments.ppo_ablation`. ``python -m course_utils.trainers.ppo_ablation``
still works and runs ``python -m course_utils experiments ppo_ablation``.
"""
from __future__ import annotations

from course_utils.experiments.ppo_ablation import TARGETS, VARIANTS, default_path, load, run  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    import sys

    from course_utils.experiments.command import main as experiments

    return experiments(["ppo_ablation", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
