"""Chapter 10's RLHF in miniature, cached over seeds: a reward model from preferences, PPO on it with
the KL in the reward or in the loss, and DPO on the same preferences.

    python -m course_utils experiments llm_rlhf --seeds 0 1 2 3 4

Per seed: 2,048 preference pairs of SFT answers labelled by the hidden gold rater, a reward model
trained on them (its pair accuracy on 1,024 fresh pairs), then three runs from the SFT model, each
recording every few updates the proxy score, the gold score and the KL from the SFT model of 256
fresh samples: PPO with the KL folded into the reward ("ppo_reward"), PPO with k3 in the loss
("ppo_loss"), and DPO ("dpo").
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from course_utils.experiments import store

__all__ = ["FILE", "METHODS", "PAIRS", "cache_path", "load", "seed_record", "run", "curves", "peak_kl", "final_values",
           "at_kl"]

FILE = "llm_rlhf.json"
PAIRS = 2048
METHODS = {"ppo_reward": "PPO, KL in the reward (InstructGPT)", "ppo_loss": "PPO, k3 in the loss",
           "dpo": "DPO on the same pairs"}


def cache_path() -> Path:
    return store.path(FILE)


def load() -> dict:
    return store.read(FILE)


def seed_record(seed: int, rlhf: Any, progress: bool = False) -> dict[str, Any]:
    """One seed: pairs, reward model, the three runs. ``rlhf`` is :mod:`course_utils.trainers.llm_rlhf`
    (passed by the command: experiments import no trainer)."""
    import time

    import torch

    task, sft = rlhf.AdditionTask(), rlhf.load_sft_policy()
    pairs = rlhf.preference_pairs(sft, task, PAIRS, torch.Generator().manual_seed(seed))
    fresh = rlhf.preference_pairs(sft, task, 1024, torch.Generator().manual_seed(10_000 + seed))
    start = time.perf_counter()
    reward_model = rlhf.train_reward_model(pairs, seed=seed, progress=progress)
    record: dict[str, Any] = {"reward_model": {"seconds": round(time.perf_counter() - start, 1),
                                               "pair_accuracy_fresh": rlhf.pair_accuracy(reward_model, fresh),
                                               "pair_accuracy_train": rlhf.pair_accuracy(reward_model, pairs)}}
    histories = {"ppo_reward": rlhf.train_llm_ppo(reward_model, kl_in="reward", seed=seed, progress=progress),
                 "ppo_loss": rlhf.train_llm_ppo(reward_model, kl_in="loss", seed=seed, progress=progress),
                 "dpo": rlhf.train_dpo(pairs, reward_model, seed=seed, progress=progress)}
    for name, history in histories.items():
        record[name] = {"config": history.config, "seconds": round(history.wall_time[-1], 1),
                        "measures": history.measures}
    return record


def run(seeds: list[int], rlhf: Any, progress: bool = False) -> dict:
    """Every seed's :func:`seed_record`, with the file's metadata."""
    out: dict = {"seeds": seeds, "methods": METHODS, "pairs": PAIRS, "runs": [],
                 "meta": store.meta("python -m course_utils experiments llm_rlhf --seeds " + " ".join(map(str, seeds)))}
    for seed in seeds:
        record = seed_record(seed, rlhf, progress)
        out["runs"].append({"seed": seed, **record})
        print(f"seed {seed}: reward model {record['reward_model']}; " + ", ".join(
            f"{m} gold {record[m]['measures']['gold'][-1]:.2f} kl {record[m]['measures']['kl'][-1]:.2f}"
            for m in METHODS), file=sys.stderr)
    return out


def curves(data: dict, method: str, key: str) -> np.ndarray:
    """(seeds, points): ``key`` ("proxy", "gold", "kl", "accuracy", "fillers") at each measuring point."""
    return np.array([run[method]["measures"][key] for run in data["runs"]], dtype=float)


def peak_kl(data: dict, method: str) -> list[float]:
    """One number per seed: the KL (nats) at the measuring point where the gold score was highest."""
    gold, kl = curves(data, method, "gold"), curves(data, method, "kl")
    return [float(k[np.argmax(g)]) for g, k in zip(gold, kl)]


def final_values(data: dict, method: str, key: str) -> list[float]:
    """One number per seed: ``key`` at the last measuring point."""
    return [float(v) for v in curves(data, method, key)[:, -1]]


def at_kl(data: dict, method: str, key: str, target: float) -> list[float | None]:
    """One number per seed: ``key`` where the run's KL from the SFT model first reached ``target`` nats,
    interpolated linearly between the two measuring points around it (None if it never did): the
    comparison of methods at matched KL."""
    out: list[float | None] = []
    for kl, values in zip(curves(data, method, "kl"), curves(data, method, key)):
        above = np.nonzero(kl >= target)[0]
        if len(above) == 0:
            out.append(None)
            continue
        i = int(above[0])
        if i == 0:
            out.append(float(values[0]))
            continue
        w = (target - kl[i - 1]) / (kl[i] - kl[i - 1])
        out.append(float(values[i - 1] + w * (values[i] - values[i - 1])))
    return out
