"""Benchmark the course's reference PPO and A2C against Stable-Baselines3 on one machine, in one run.

    pip install -e ".[bench]"          # stable-baselines3, only for this benchmark
    python -m benchmarks.run           # writes benchmarks/RESULTS.md, results.json, results.png
    python -m benchmarks.run --seeds 0 --tasks ppo-cartpole     # a quick subset

Same hyperparameters (rl-baselines3-zoo) and seeds for both systems, one torch thread, and the
systems interleaved (seed by seed, alternating which goes first) so that a change in the
machine's load hits both. Per run it records environment steps per second over the whole
training, the environment steps and wall-clock seconds until the mean return of the last 20
training episodes first reaches the target, and the mean return of 10 greedy evaluation
episodes played on the same seeded environments. See benchmarks/README.md for the method.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from course_utils.trainers.history import History
from course_utils.trainers.kit import play_episodes

HERE = Path(__file__).resolve().parent
WINDOW = 20
EVAL_SEED = 10_000

# task -> target, zoo hyperparameters in SB3's names (the course's trainers get the same values)
TASKS = {
    "ppo-cartpole": dict(algo="PPO", env_id="CartPole-v1", target=475.0, steps=100_000,
                         sb3=dict(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                                  ent_coef=0.0, learning_rate="lin_1e-3", clip_range="lin_0.2")),
    "ppo-pendulum": dict(algo="PPO", env_id="Pendulum-v1", target=-200.0, steps=100_000,
                         sb3=dict(n_envs=4, n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                                  learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4)),
    "a2c-cartpole": dict(algo="A2C", env_id="CartPole-v1", target=475.0, steps=200_000,
                         sb3=dict(n_envs=8, ent_coef=0.0),  # SB3 defaults: n_steps 5, lr 7e-4, RMSprop, gamma 0.99
                         variants={"course-adam": dict(optimizer="adam")}),  # the course's default optimizer too
}  # fmt: skip

# the systems of a task: the course with identical settings, any course variants, Stable-Baselines3
def _systems(task: dict) -> list[str]:
    return ["course", *task.get("variants", {}), "sb3"]


NOTES = [
    "Env steps count transitions. The course's PPO uses Gymnasium's next-step autoreset and does not count "
    "(or learn from) the reset steps it spends between episodes; SB3 resets inside the step.",
    "Pendulum: SB3 runs its zoo settings including gSDE exploration (use_sde, sde_sample_freq 4); the course's "
    "PPO has no gSDE and uses a state-independent log-std with every other hyperparameter the same.",
    "A2C: identical settings in both (the row `course`): RMSprop (alpha 0.99, eps 1e-5), n_steps 5, lr 7e-4, "
    "gamma 0.99, n-step returns (GAE lambda 1), value coefficient 0.5, no entropy bonus, gradient norm 0.5, "
    "orthogonal initialisation, separate 64-64 tanh actor and critic. The row `course-adam` is the course's "
    "default optimizer, Adam (eps 1e-5), with everything else the same. Runs stop at 200k steps instead of the "
    "zoo's 500k (the target is reached near 100k).",
    "SB3 episode returns come from its Monitor wrapper through a callback; evaluation is greedy (argmax or the "
    "Gaussian mean) on the same seeded environments for both systems.",
    "Timings include building the environments and the networks, for both systems; imports happen before.",
]


def _linear(value: str | float):
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress_remaining: progress_remaining * start
    return value


def _episode_stats(history: History, target: float) -> dict:
    """Steps and seconds to ``target`` and the rolling-20 curve, by the library's own definitions
    (:meth:`History.rolling_return`, :meth:`History.steps_to_reach`), for both systems."""
    steps, rolling = history.rolling_return(WINDOW)
    reached = history.steps_to_reach(target, WINDOW)
    times = [float(np.interp(s, [0, *history.env_steps], [0.0, *history.wall_time])) for s in history.episode_end_steps]
    return {"steps_to_target": reached[0] if reached else None,
            "seconds_to_target": round(reached[1], 2) if reached else None,
            "curve_steps": [int(s) for s in steps], "curve_seconds": [round(t, 3) for t in times],
            "curve_rolling": [round(float(v), 2) for v in rolling]}  # fmt: skip


def _evaluate(act, env_id: str, episodes: int = 10) -> float:
    """Mean return of ``episodes`` greedy episodes on environments seeded EVAL_SEED, EVAL_SEED + 1, ..."""
    return float(np.mean(play_episodes(act, env_id, episodes, seed=EVAL_SEED)))


# ----------------------------------------------------------------------------- the course
def run_course(task: dict, seed: int, optimizer: str = "rmsprop") -> dict:
    sb3 = task["sb3"]
    start, cpu_start = time.perf_counter(), time.process_time()
    if task["algo"] == "PPO":
        from course_utils.trainers.ppo import ppo_config, train_ppo

        cfg = ppo_config(task["env_id"], total_steps=task["steps"], seed=seed)
        history = train_ppo(config=cfg, progress=False)
        agent = history.policy

        def act(obs):
            a = agent.act(agent.normalize(obs[None]), deterministic=True)[0].numpy()
            return np.clip(a, -2.0, 2.0) if agent.continuous else a
    else:
        from course_utils.trainers.a2c import train_a2c

        history = train_a2c(task["env_id"], advantage="n_step", total_steps=task["steps"], num_envs=sb3["n_envs"],
                            num_steps=5, lr=7e-4, gamma=0.99, value_coef=0.5, entropy_coef=sb3["ent_coef"],
                            max_grad_norm=0.5, optimizer=optimizer, seed=seed, progress=False)
        agent = history.policy

        def act(obs):
            with torch.no_grad():
                return int(agent.logits(torch.as_tensor(obs, dtype=torch.float32)[None]).argmax(-1)[0])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    out = {"env_steps": history.env_steps[-1], "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
           "steps_per_s": round(history.env_steps[-1] / wall, 1), "steps_per_cpu_s": round(history.env_steps[-1] / cpu, 1),
           "final_eval": _evaluate(act, task["env_id"])}
    out.update(_episode_stats(history, task["target"]))
    return _with_cpu(out)


# ----------------------------------------------------------------------------- Stable-Baselines3
def run_sb3(task: dict, seed: int) -> dict:
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class EpisodeLog(BaseCallback):
        """Records each finished training episode (Monitor's info["episode"]) with the step and time."""

        def __init__(self) -> None:
            super().__init__()
            self.returns, self.steps, self.times, self.start = [], [], [], time.perf_counter()

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.returns.append(float(info["episode"]["r"]))
                    self.steps.append(int(self.num_timesteps))
                    self.times.append(time.perf_counter() - self.start)
            return True

    kwargs = {k: _linear(v) for k, v in task["sb3"].items() if k != "n_envs"}
    start, cpu_start = time.perf_counter(), time.process_time()
    env = make_vec_env(task["env_id"], n_envs=task["sb3"]["n_envs"], seed=seed)
    model = (PPO if task["algo"] == "PPO" else A2C)("MlpPolicy", env, seed=seed, device="cpu", **kwargs)
    log = EpisodeLog()
    log.start = start
    model.learn(task["steps"], callback=log)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    env.close()
    out = {"env_steps": int(model.num_timesteps), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
           "steps_per_s": round(model.num_timesteps / wall, 1), "steps_per_cpu_s": round(model.num_timesteps / cpu, 1),
           "final_eval": _evaluate(lambda obs: model.predict(obs, deterministic=True)[0], task["env_id"])}
    # SB3's finished episodes as a History: episode ends are also the points of its wall-clock record
    run = History(env_steps=log.steps, wall_time=log.times, episode_returns=log.returns, episode_end_steps=log.steps)
    out.update(_episode_stats(run, task["target"]))
    return _with_cpu(out)


def _with_cpu(out: dict) -> dict:
    """CPU-seconds to target, estimated as the wall-clock time to target times the run's CPU/wall ratio."""
    reached = out["seconds_to_target"]
    out["cpu_seconds_to_target"] = None if reached is None else round(reached * out["cpu_s"] / out["wall_s"], 2)
    return out


# ----------------------------------------------------------------------------- report
def _summary(values: list[float | None], fmt: str) -> str:
    """median [min - max] over seeds; runs that never reached the target are counted as missing."""
    got = [v for v in values if v is not None]
    if not got:
        return "not reached"
    text = f"{fmt.format(statistics.median(got))} ({fmt.format(min(got))} to {fmt.format(max(got))})"
    return text + (f" ({len(values) - len(got)} of {len(values)} never)" if len(got) < len(values) else "")


def _ratio(a: list, b: list) -> str:
    a, b = [v for v in a if v is not None], [v for v in b if v is not None]
    return f"{statistics.median(a) / statistics.median(b):.2f}x" if a and b else "-"


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import gymnasium
    import stable_baselines3

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "gymnasium": gymnasium.__version__, "stable_baselines3": stable_baselines3.__version__,
            "numpy": np.__version__, "torch_threads": torch.get_num_threads()}  # fmt: skip


def write_report(results: dict, meta: dict, path: Path) -> None:
    lines = ["# Benchmark: the course's reference agents vs Stable-Baselines3", "",
             f"Command: `{meta['command']}` ({meta['date']}, {meta['duration_min']:.0f} min in all).", "",
             f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, one torch thread; Python "
             f"{meta['machine']['python']}, torch {meta['machine']['torch']}, Gymnasium {meta['machine']['gymnasium']}, "
             f"Stable-Baselines3 {meta['machine']['stable_baselines3']}.", "",
             f"Load average (1, 5, 15 min) before: {meta['load_before']}, after: {meta['load_after']}. On a 2-core "
             "machine a load above 2 means other processes shared the CPU: absolute timings are inflated, the "
             "systems were interleaved so that the ratios are fairer than the absolute numbers. CPU time (the "
             "process's own, `time.process_time`) is much less affected by other processes than wall-clock time, "
             "so the CPU columns are the better comparison on a shared machine.", "",
             "Median (min to max) over seeds " + ", ".join(map(str, meta["seeds"])) + ". Steps to target are "
             "deterministic for a seed and a thread count; seconds are not (+-15-35% between identical runs).", "",
             "| task | system | env steps/s | env steps to target | seconds to target | final eval (10 ep.) "
             "| env steps per CPU-second | CPU-seconds to target |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    ratios = ["", "Ratios of medians, course / SB3:", "",
              "| task | steps/s | seconds to target | steps to target | steps per CPU-second | CPU-seconds to target |",
              "|---|---|---|---|---|---|"]
    for name, by_system in results.items():
        target = TASKS[name]["target"]
        for system, runs in by_system.items():
            runs = list(runs.values())
            if not runs:
                continue
            lines.append(f"| {name} ({target:g}) | {system} | {_summary([r['steps_per_s'] for r in runs], '{:,.0f}')} | "
                         f"{_summary([r['steps_to_target'] for r in runs], '{:,.0f}')} | "
                         f"{_summary([r['seconds_to_target'] for r in runs], '{:.1f}')} | "
                         f"{_summary([r['final_eval'] for r in runs], '{:.1f}')} | "
                         f"{_summary([r['steps_per_cpu_s'] for r in runs], '{:,.0f}')} | "
                         f"{_summary([r['cpu_seconds_to_target'] for r in runs], '{:.1f}')} |")
        for course in [system for system in by_system if system.startswith("course") and by_system[system]]:
            if not by_system.get("sb3"):
                continue
            c, s = list(by_system[course].values()), list(by_system["sb3"].values())
            shown = name if course == "course" else f"{name} ({course})"
            ratios.append(f"| {shown} | {_ratio([r['steps_per_s'] for r in c], [r['steps_per_s'] for r in s])} | "
                          f"{_ratio([r['seconds_to_target'] for r in c], [r['seconds_to_target'] for r in s])} | "
                          f"{_ratio([r['steps_to_target'] for r in c], [r['steps_to_target'] for r in s])} | "
                          f"{_ratio([r['steps_per_cpu_s'] for r in c], [r['steps_per_cpu_s'] for r in s])} | "
                          f"{_ratio([r['cpu_seconds_to_target'] for r in c], [r['cpu_seconds_to_target'] for r in s])} |")
    lines += ratios + ["", "Target of the course: steps/s ratio >= 2, seconds-to-target ratio <= 0.5, steps-to-target "
                       "ratio <= 1 (no worse sample efficiency).", "", "Notes:"] + [f"- {n}" for n in meta["notes"]]
    lines += ["", "![results](results.png)", ""]
    path.write_text("\n".join(lines))


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(11, 3.3 * len(results)), squeeze=False)
    colors = {"course": "tab:blue", "course-adam": "tab:green", "sb3": "tab:orange"}
    names = {"course": "course", "course-adam": "course, Adam", "sb3": "Stable-Baselines3"}
    for row, (name, by_system) in enumerate(results.items()):
        for system, runs in by_system.items():
            for i, run in enumerate(runs.values()):
                label = names.get(system, system) if i == 0 else None
                axes[row, 0].plot(run["curve_steps"], run["curve_rolling"], color=colors[system], alpha=0.7, label=label)
                axes[row, 1].plot(run["curve_seconds"], run["curve_rolling"], color=colors[system], alpha=0.7,
                                  label=label)
        for ax, xlabel in zip(axes[row], ["environment steps", "wall-clock seconds"]):
            ax.axhline(TASKS[name]["target"], color="grey", linestyle=":", linewidth=0.8)
            ax.set(xlabel=xlabel, ylabel="mean return, last 20 episodes", title=name)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every budget (0.05: a smoke test)")
    args = parser.parse_args(argv)
    for task in TASKS.values():
        task["steps"] = int(task["steps"] * args.scale)
    torch.set_num_threads(1)
    import stable_baselines3  # noqa: F401  (imports before timing, for both systems)

    import course_utils.trainers.a2c  # noqa: F401
    import course_utils.trainers.ppo  # noqa: F401

    # The first optimizer a process builds imports torch._dynamo (seconds): pay it before timing anyone
    for make in (lambda p: torch.optim.Adam(p, fused=True), lambda p: torch.optim.RMSprop(p, foreach=True)):
        weight = torch.zeros(2, requires_grad=True)
        weight.sum().backward()
        make([weight]).step()

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    began = time.perf_counter()
    results: dict = {name: {system: {} for system in _systems(TASKS[name])} for name in args.tasks}

    def train(system: str, task: dict, seed: int) -> dict:
        if system == "sb3":
            return run_sb3(task, seed)
        return run_course(task, seed, **task.get("variants", {}).get(system, {}))

    def save(complete: bool) -> None:  # after every run, so that an interrupted benchmark leaves its results
        notes = list(NOTES)
        if any(name.startswith("a2c") for name in args.tasks) and not _has_a2c():
            notes.append("The course's A2C trainer was not available: A2C rows show SB3 only.")
        if not complete:
            notes.insert(0, "PARTIAL: the run was still going or was stopped; rows show the seeds finished so far.")
        shown_args = sys.argv[1:] if argv is None else argv
        meta = {"command": " ".join(["python -m benchmarks.run", *shown_args]), "complete": complete,
                "date": time.strftime("%Y-%m-%d %H:%M"), "seeds": args.seeds, "machine": machine(),
                "load_before": load_before, "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                "duration_min": (time.perf_counter() - began) / 60, "notes": notes}  # fmt: skip
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": results}) + "\n")
        write_report(results, meta, args.out / "RESULTS.md")
        plot(results, args.out / "results.png")

    for i, seed in enumerate(args.seeds):
        for j, name in enumerate(args.tasks):
            order = _systems(TASKS[name])
            order = order if (i + j) % 2 == 0 else order[::-1]  # alternate who goes first
            for system in order:
                if name.startswith("a2c") and system.startswith("course") and not _has_a2c():
                    continue
                run = train(system, TASKS[name], seed)
                results[name][system][str(seed)] = run
                print(f"{name} {system} seed {seed}: {run['steps_per_s']:,.0f} steps/s, target after "
                      f"{run['steps_to_target']} steps / {run['seconds_to_target']} s, eval {run['final_eval']:.1f}",
                      file=sys.stderr, flush=True)
                save(complete=False)
    save(complete=True)
    print(f"wrote {args.out / 'RESULTS.md'}", file=sys.stderr)


def _has_a2c() -> bool:
    try:
        from course_utils.trainers.a2c import train_a2c  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(HERE.parent))
    main()
