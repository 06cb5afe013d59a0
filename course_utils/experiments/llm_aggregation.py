"""Chapter 10's cached runs: the SFT model of the addition task, and GRPO from it with three ways
of aggregating the per-token loss.

    python -m course_utils experiments llm_sft                     # data/llm_sft.pt and llm_sft.json
    python -m course_utils experiments llm_aggregation --seeds 0 1 2 3 4 5

``llm_aggregation.json`` holds, per aggregation ("sequence": GRPO's per-answer mean, "token":
DAPO's per-token mean, "constant": Dr. GRPO's constant normaliser) and per seed, the batch
accuracy and the mean length of the right and of the wrong answers at every iteration, and an
evaluation of the final policy on 1,000 fresh prompts.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from course_utils.experiments import store

__all__ = ["FILE", "SFT_FILE", "AGGREGATIONS", "cache_path", "load", "load_sft_record", "make_sft", "run",
           "final_values"]

FILE = "llm_aggregation.json"
SFT_FILE = "llm_sft.json"  # the SFT run's record; its weights are data/llm_sft.pt
AGGREGATIONS = {"sequence": "per-answer mean (GRPO)", "token": "per-token mean (DAPO)",
                "constant": "constant normaliser (Dr. GRPO)"}


def cache_path() -> Path:
    return store.path(FILE)


def load() -> dict:
    return store.read(FILE)


def load_sft_record() -> dict:
    return store.read(SFT_FILE)


def make_sft(train_sft: Callable[..., Any], evaluate: Callable[..., dict], save: Callable[[Any], Path],
             progress: bool = False) -> dict:
    """Train the SFT model, save its weights with ``save``, and return its record (time, size, evaluation)."""
    import torch


    start = time.perf_counter()
    policy = train_sft(progress=progress)
    seconds = time.perf_counter() - start
    target = save(policy)
    record = {"seconds": round(seconds, 1), "parameters": sum(p.numel() for p in policy.parameters()),
              "bytes": target.stat().st_size, "evaluation": evaluate(policy),
              "meta": store.meta("python -m course_utils experiments llm_sft", torch_version=torch.__version__)}
    print(f"SFT: {seconds:.0f} s, {record['evaluation']}", file=sys.stderr)
    return record


def run(seeds: list[int], iterations: int, train: Callable[..., Any], evaluate: Callable[..., dict],
        progress: bool = False) -> dict:
    """GRPO from the shipped SFT model, each aggregation on each seed (``train`` and ``evaluate``
    from :mod:`course_utils.trainers.llm_grpo`, passed by the command)."""
    out: dict = {"seeds": seeds, "iterations": iterations, "runs": {name: [] for name in AGGREGATIONS},
                 "meta": store.meta(f"python -m course_utils experiments llm_aggregation --seeds "
                                    f"{' '.join(map(str, seeds))} --llm-iterations {iterations}")}
    for seed in seeds:
        for name in AGGREGATIONS:
            history = train(aggregation=name, iterations=iterations, seed=seed, progress=progress)
            final = evaluate(history.policy)
            out["runs"][name].append({"seed": seed, "config": history.config, "final": final,
                                      "seconds": round(history.wall_time[-1], 1),
                                      **{k: [round(v, 4) for v in vals] for k, vals in history.stats.items()}})
            print(f"{name} seed {seed}: {history.wall_time[-1]:.0f} s, final {final}", file=sys.stderr)
    return out


def final_values(data: dict, aggregation: str, key: str) -> list[float]:
    """One number per seed: ``key`` ("accuracy", "length_wrong", ...) of the final evaluation."""
    return [run["final"][key] for run in data["runs"][aggregation]]
