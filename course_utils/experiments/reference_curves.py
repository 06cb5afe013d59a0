"""Reference learning curves: the course's own runs of each trainer, cached, with their bands over seeds.

    python -m course_utils experiments reference_curves             # all of them, seeds 0 to 7
    python -m course_utils experiments reinforce_cartpole --seeds 0 1 2
    python -m course_utils experiments ppo_halfcheetah --seeds 0    # optional: needs ".[mujoco]"

Each curve is the rolling mean return over the last 20 episodes, read on a common grid of
environment steps for every seed, then summarised as median, mean, std, min and max over seeds.
Training uses one torch thread (the thread count changes the trajectory). A file holds the
exact trainer arguments, the library versions and, per seed, the steps and seconds until the
rolling mean first reached each target, so that the numbers quoted in the lessons can be
traced back to a run. :func:`describe_run` places a learner's run in a reference's band.
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from course_utils.bands import Band, band, fmt, reached_range
from course_utils.experiments import store

if TYPE_CHECKING:
    from course_utils.trainers.history import History

__all__ = ["REFERENCES", "OPTIONAL", "ReferenceCurve", "load_reference", "reference_names", "make_reference",
           "describe_run", "place_steps", "place_not_reached", "place_return", "return_cap", "RETURN_CAP"]

FOLDER = "reference_curves"
WINDOW = 20  # episodes in the rolling mean

# name -> (what it shows, train_reinforce arguments)
REFERENCES: dict[str, tuple[str, dict[str, Any]]] = {
    "reinforce_cartpole": (
        "Chapter 2: plain REINFORCE, every step weighted by the episode's discounted return.",
        dict(env_id="CartPole-v1", weights_fn="return", baseline=None, advantage_normalise=False,
             total_steps=200_000, batch_steps=2_000, lr=1e-2, gamma=0.99),
    ),
    "reinforce_rtg_cartpole": (
        "Chapter 3: REINFORCE with reward-to-go weights, no baseline.",
        dict(env_id="CartPole-v1", weights_fn="reward_to_go", baseline=None, advantage_normalise=False,
             total_steps=200_000, batch_steps=2_000, lr=1e-2, gamma=0.99),
    ),
    "reinforce_rtg_baseline_cartpole": (
        "Chapter 3: reward-to-go minus a learned value baseline, advantages normalised.",
        dict(env_id="CartPole-v1", weights_fn="reward_to_go", baseline="value", advantage_normalise=True,
             total_steps=100_000, batch_steps=2_000, lr=1e-2, value_lr=1e-2, value_iters=10, gamma=0.99),
    ),
    "trpo_cartpole": (
        "Chapter 7: TRPO with GAE, delta = 0.01, 8 envs x 256 steps per update.",
        dict(trainer="trpo", env_id="CartPole-v1", total_steps=100_000, num_envs=8, num_steps=256, gamma=0.99,
             lam=0.97, max_kl=0.01, damping=0.1, cg_iters=10),
    ),
    "trpo_pendulum": (
        "Chapter 7: TRPO with GAE on Pendulum-v1 (Gaussian policy), delta = 0.01, gamma = 0.95.",
        dict(trainer="trpo", env_id="Pendulum-v1", total_steps=150_000, num_envs=8, num_steps=256, gamma=0.95,
             lam=0.95, max_kl=0.01, damping=0.1, cg_iters=10),
    ),
    "a2c_cartpole": (
        "Chapter 4: A2C, n-step returns bootstrapped at the end of 5-step rollouts, 8 environments.",
        dict(trainer="a2c", env_id="CartPole-v1", advantage="n_step", total_steps=150_000, num_envs=8, num_steps=5,
             lr=1e-3, gamma=0.99, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5),
    ),
    "a2c_td_cartpole": (
        "Chapter 4: one-step actor-critic (advantage = TD residual, critic on TD(0) targets), otherwise as a2c_cartpole.",
        dict(trainer="a2c", env_id="CartPole-v1", advantage="td", total_steps=150_000, num_envs=8, num_steps=5,
             lr=1e-3, gamma=0.99, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5),
    ),
    "a2c_gae_acrobot": (
        "Chapter 5: actor-critic with GAE (lam = 0.95) on Acrobot-v1, 8 environments x 32 steps per update.",
        dict(trainer="a2c", env_id="Acrobot-v1", advantage="gae", total_steps=100_000, num_envs=8, num_steps=32,
             lr=1e-3, gamma=0.99, lam=0.95, value_coef=0.5, entropy_coef=0.0, max_grad_norm=0.5),
    ),
    "ppo_cartpole": (
        "Chapter 8: PPO-clip with the rl-baselines3-zoo settings (8 envs x 32 steps, 20 epochs, lr and clip "
        "annealed linearly).",
        dict(trainer="ppo", env_id="CartPole-v1", total_steps=100_000, num_envs=8, num_steps=32, num_minibatches=1,
             update_epochs=20, gamma=0.98, gae_lambda=0.8, lr=1e-3, anneal_lr=True, clip_eps=0.2, anneal_clip=True,
             objective="clip"),
    ),
    "ppo_kl_cartpole": (
        "Chapter 8: PPO-penalty, the same settings with beta * KL (adaptive beta, target 0.01) instead of clipping.",
        dict(trainer="ppo", env_id="CartPole-v1", total_steps=100_000, num_envs=8, num_steps=32, num_minibatches=1,
             update_epochs=20, gamma=0.98, gae_lambda=0.8, lr=1e-3, anneal_lr=True, objective="kl_penalty",
             kl_target=0.01, kl_beta=1.0),
    ),
    "ppo_pendulum": (
        "Chapter 8: PPO-clip on Pendulum-v1 with the zoo settings (4 envs x 1024 steps, 10 epochs of 64 "
        "minibatches, gamma 0.9), without gSDE.",
        dict(trainer="ppo", env_id="Pendulum-v1", total_steps=100_000, num_envs=4, num_steps=1024,
             num_minibatches=64, update_epochs=10, gamma=0.9, gae_lambda=0.95, lr=1e-3, anneal_lr=False,
             clip_eps=0.2, anneal_clip=False, objective="clip"),
    ),
    "ppo_halfcheetah": (
        "Chapter 8, optional: PPO-clip on MuJoCo HalfCheetah-v5 with CleanRL's continuous-control settings "
        "(1 env x 2048 steps, 10 epochs of 32 minibatches, value clipping, observation and reward "
        "normalisation), 1M steps, one seed.",
        dict(trainer="ppo", env_id="HalfCheetah-v5", total_steps=1_000_000, num_envs=1, num_steps=2048,
             num_minibatches=32, update_epochs=10, gamma=0.99, gae_lambda=0.95, lr=3e-4, anneal_lr=True,
             clip_eps=0.2, anneal_clip=False, clip_value=0.2, ent_coef=0.0, norm_obs=True, norm_reward=True,
             log_std_init=0.0, objective="clip"),
    ),
}  # fmt: skip

# curves that need an optional extra (pip install -e ".[mujoco]") and long runs: made only on request,
#     python -m course_utils experiments ppo_halfcheetah --seeds 0
OPTIONAL = {"ppo_halfcheetah"}


@dataclass
class ReferenceCurve:
    """A shipped learning curve: every seed's curve and statistics over seeds on a common grid.

    The band the course draws and quotes is the median over seeds with the range of the seeds
    (see :mod:`course_utils.bands`); mean and std are kept for reference.
    """

    name: str
    description: str
    env_steps: np.ndarray  # (G,) grid of environment steps
    mean: np.ndarray  # (G,) mean over seeds of the rolling-20 mean return (NaN: no episode yet)
    std: np.ndarray  # (G,)
    min: np.ndarray  # (G,)
    max: np.ndarray  # (G,)
    seeds: list[int]
    config: dict[str, Any]  # the train_reinforce arguments
    per_seed: dict[str, dict[str, Any]]  # seed -> steps/seconds to 475 and 500, wall time...
    meta: dict[str, Any]  # command, versions, date
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # seed -> (G,) rolling-20 mean return
    median: np.ndarray | None = None  # (G,) median over seeds

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def steps_to(self, target: float) -> list[int | None]:
        """Per seed, the env steps when the rolling-20 mean first reached ``target`` (None: never).

        Exact (recorded at training time) for the targets in ``per_seed``, else read off the
        stored curves (to the grid's resolution)."""
        key = f"steps_to_{target:g}"
        if all(key in stats for stats in self.per_seed.values()) and self.per_seed:
            return [self.per_seed[str(seed)][key] for seed in self.seeds]
        out: list[int | None] = []
        for seed in self.seeds:
            curve = self.curves[str(seed)]
            hits = np.flatnonzero(curve >= target)
            out.append(int(self.env_steps[hits[0]]) if len(hits) else None)
        return out

    def summary(self, target: float) -> str:
        """The band in one line: when the seeds first reached ``target``, and where they ended.

        e.g. "8 seeds: 475 first reached after 36,122 to 51,200 steps (median 44,000; 8 of 8 seeds);
        rolling-20 mean after 100,000 steps 480.1 to 500.0 (median 500.0)"
        """
        steps = band(self.steps_to(target))
        finite, median = reached_range(steps)
        if finite:
            reached = (f"{fmt(target)} first reached after {fmt(finite[0])} to {fmt(finite[-1])} steps "
                       f"({len(finite)} of {steps.n} seeds; {median})")
        else:
            reached = f"no seed reached {fmt(target)}"
        end = band([stats["final_rolling_return"] for stats in self.per_seed.values()])
        return (f"{self.name}, {steps.n} seeds: {reached}; rolling-20 mean after {fmt(self.env_steps[-1])} steps "
                f"{fmt(end.low, 1)} to {fmt(end.high, 1)} (median {fmt(end.median, 1)})")

    def band_at(self, step: float) -> Band | None:
        """The band over seeds of the rolling-20 mean return at ``step`` (None if no seed has one)."""
        j = int(np.searchsorted(self.env_steps, step, side="right")) - 1
        if j < 0 or not self.curves:
            return None
        values = [c[j] for c in self.curves.values() if not np.isnan(c[j])]
        return band(values) if values else None


def reference_names() -> list[str]:
    return list(REFERENCES)


def load_reference(name: str) -> ReferenceCurve:
    """Load ``course_utils/data/reference_curves/<name>.json`` (see :data:`REFERENCES`)."""
    if not store.path(f"{FOLDER}/{name}.json").exists():
        shipped = sorted(p.stem for p in store.path(FOLDER).glob("*.json"))
        raise FileNotFoundError(f"no reference curve {name!r}; shipped: {shipped}. "
                                f"Make it with: python -m course_utils experiments {name}")
    data = store.read(f"{FOLDER}/{name}.json")
    array = store.nan_array

    arrays = {k: array(data[k]) for k in ["env_steps", "mean", "std", "min", "max"]}
    curves = {seed: array(curve) for seed, curve in data.get("curves", {}).items()}
    median = array(data["median"]) if "median" in data else arrays["mean"]  # one-seed files: the run itself
    return ReferenceCurve(
        name=data["name"], description=data["description"], seeds=data["seeds"],
        config=data["config"], per_seed=data["per_seed"], meta=data["meta"], curves=curves, median=median,
        **arrays,
    )  # fmt: skip


def make_reference(name: str, seeds: list[int], trainers: dict[str, Callable[..., Any]], grid_step: int = 1_000,
                   progress: bool = True) -> dict[str, Any]:
    """Train ``name``'s configuration once per seed and summarise the curves (a JSON dict).

    ``trainers`` maps "reinforce", "a2c", "trpo" and "ppo" to their train functions (the
    command of :mod:`course_utils.experiments.command` passes them).
    """
    description, config = REFERENCES[name]
    train = trainers[config.get("trainer", "reinforce")]  # entries without "trainer" are REINFORCE runs
    grid = np.arange(0, config["total_steps"] + 1, grid_step)
    curves, per_seed = [], {}
    for seed in seeds:
        history = train(**{k: v for k, v in config.items() if k != "trainer"}, seed=seed, progress=progress)
        curves.append(history.curve(grid, WINDOW))
        best = np.nanmax(history.rolling_return(WINDOW)[1]) if history.episode_returns else np.nan
        stats: dict[str, Any] = {
            "env_steps": history.env_steps[-1],
            "wall_time_s": round(history.wall_time[-1], 2),
            "steps_per_second": round(history.env_steps[-1] / history.wall_time[-1]),
            "final_rolling_return": round(float(history.rolling_return(WINDOW)[1][-1]), 2),
            "best_rolling_return": round(float(best), 2),
        }
        targets = {"Pendulum-v1": (-400, -200), "Acrobot-v1": (-150, -100),
                   "HalfCheetah-v5": (1000, 1500)}.get(config.get("env_id"), (475, 500))
        for target in targets:
            reached = history.steps_to_reach(target, WINDOW)
            stats[f"steps_to_{target}"] = reached[0] if reached else None
            stats[f"seconds_to_{target}"] = round(reached[1], 2) if reached else None
        per_seed[str(seed)] = stats
        print(f"{name} seed {seed}: {stats}", file=sys.stderr)

    curves = np.array(curves)  # (seeds, G)

    def column(values: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else round(float(v), 3) for v in values]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before any episode ends
        summary = {"median": np.nanmedian(curves, 0), "mean": np.nanmean(curves, 0), "std": np.nanstd(curves, 0),
                   "min": np.nanmin(curves, 0), "max": np.nanmax(curves, 0)}  # fmt: skip
    return {
        "name": name,
        "description": description,
        "config": config,
        "seeds": seeds,
        "window": WINDOW,
        "env_steps": grid.tolist(),
        **{k: column(v) for k, v in summary.items()},
        "per_seed": per_seed,
        "curves": {str(seed): column(curve) for seed, curve in zip(seeds, curves)},
        "meta": store.meta(f"python -m course_utils experiments {name} --seeds {' '.join(map(str, seeds))}",
                           curve=f"rolling mean return over the last {WINDOW} training episodes, per seed, at each "
                                 "grid step"),
    }  # fmt: skip


# The most a rolling mean of episode returns can reach, per environment (CartPole-v1 stops an
# episode at 500 steps, one reward each). Runs and seeds pile up at a cap, so their order there
# is decided by a single shorter episode, not by learning.
RETURN_CAP: dict[str, float] = {"CartPole-v1": 500.0}


def return_cap(ref: ReferenceCurve) -> float | None:
    """The cap on ``ref``'s returns (None: its environment has none)."""
    return RETURN_CAP.get(str(ref.config.get("env_id", "")))


def _far_later(steps_ref: Band) -> float:
    """Steps beyond which reaching the target (or still not having reached it) is far outside the
    seeds: the slowest seed's steps plus the seeds' whole spread, and at least half as much again."""
    return steps_ref.high + max(steps_ref.high - steps_ref.low, 0.5 * steps_ref.high)


def place_steps(step: float, steps_ref: Band) -> str:
    """Where a run's steps-to-target fall among the reference seeds' (fewer is better).

    With n seeds, a new run of the same code is later than all of them one time in n + 1 by
    chance (1 in 9 for 8 seeds), so just beyond the slowest seed is said to be ordinary; only a
    run later than the slowest seed by more than the seeds' whole spread, and by half the slowest
    seed's steps, is called far outside. Sooner than every seed is good news and said plainly.
    """
    if steps_ref.contains(step):
        return "inside their range"
    if step < steps_ref.low:
        return "sooner than every reference seed"
    if step <= _far_later(steps_ref):
        return (f"a little later than the slowest of them, which a correct run is about one time in "
                f"{steps_ref.n + 1} by chance")
    return "far later than every reference seed: if another seed is as slow, look for a bug"


def place_not_reached(budget: float, steps_ref: Band) -> str:
    """What it means that a run of ``budget`` steps has not reached the target yet.

    Only when every seed had reached it, and the run is past the point where reaching it would
    be called far later (:func:`place_steps`), is it a sign of a bug; otherwise it says how many
    seeds had reached it in as many steps."""
    in_time = sum(v <= budget for v in steps_ref.values)
    if steps_ref.finite == steps_ref.n and budget > _far_later(steps_ref):
        return (f"every reference seed had reached it long before: it looks as if it is not learning; if "
                "another seed does the same, look for a bug")
    return f"{in_time} of {steps_ref.n} reference seeds had reached it by then"


def place_return(value: float, at: Band, cap: float | None, window: int = WINDOW) -> str:
    """Where a run's rolling-``window`` mean return falls among the reference seeds' at the same step.

    ``cap``: the most a return can be (None: no cap). A rolling mean within one episode's worth of
    the cap (``cap * (1 - 1/window)``: one short episode among the last ``window`` costs up to
    that much) counts as *at the cap*, level with every seed that is there too, whatever the
    decimals say. Below the lowest seed is said without alarm: a correct run is lowest about one
    time in n + 1 with n seeds, and a correct seed can collapse for a while and recover (PPO with a
    KL penalty did so in the cache), so one step's return is no verdict; whether the run learned at
    all is judged by when it reached the target (:func:`place_steps`, :func:`place_not_reached`).
    """
    n = at.n
    if cap is not None:
        near = cap * (1 - 1 / window)
        at_cap = sum(v >= near for v in at.values)
        if value >= near and at_cap:
            were = "was" if at_cap == 1 else "were"
            return (f"at the cap of {fmt(cap)}, where {at_cap} of the {n} reference seeds {were} too (within one "
                    f"episode of it: a single shorter episode among the last {window} lowers the mean by up to "
                    f"{fmt(cap / window)})")
    if at.contains(value):
        return "inside their range"
    if value > at.high:
        return "above every reference seed"
    return f"below the lowest of them, where a correct run lands about one time in {n + 1}"


def describe_run(history: "History", reference: "ReferenceCurve | str", target: float, window: int = 20,
                 label: str = "your run") -> str:
    """Place one run in a reference's band, in two sentences.

    1. when it first reached ``target`` (rolling-``window`` mean), against when the reference
       seeds did (:func:`place_steps`);
    2. its rolling mean at its last step, against the reference seeds at the same step
       (:func:`place_return`, which knows about the environment's cap on returns).

    Example: "your run reached 475 after 52,000 steps; the 8 reference seeds reached it after
    31,000 to 78,000 steps (median 45,000): inside their range."
    """
    ref = load_reference(reference) if isinstance(reference, str) else reference
    steps_ref = band(ref.steps_to(target))
    budget = history.env_steps[-1] if history.env_steps else 0
    reached = history.steps_to_reach(target, window)
    t = fmt(target)
    n = ref.n_seeds
    if reached is not None:
        step = reached[0]
        where = place_steps(step, steps_ref)
        first = f"{label} reached {t} after {fmt(step)} steps"
    else:
        first = f"{label} did not reach {t} in its {fmt(budget)} steps"
        where = place_not_reached(budget, steps_ref)
    if steps_ref.finite == 0:
        ref_text = f"none of the {n} reference seeds reached it in {fmt(ref.env_steps[-1])} steps"
    elif steps_ref.finite < n:
        finite, median = reached_range(steps_ref)
        ref_text = (f"{steps_ref.finite} of the {n} reference seeds reached it, after {fmt(finite[0])} to "
                    f"{fmt(finite[-1])} steps ({median})")
    else:
        ref_text = (f"the {n} reference seeds reached it after {fmt(steps_ref.low)} to {fmt(steps_ref.high)} "
                    f"steps (median {fmt(steps_ref.median)})")
    sentences = [f"{first}; {ref_text}: {where}."]
    if history.episode_returns:
        final = float(history.rolling_return(window)[1][-1])
        at = ref.band_at(budget)
        if at is not None:
            position = place_return(final, at, return_cap(ref), window)
            requested = history.config.get("total_steps") if isinstance(history.config, dict) else None
            when = f"At {fmt(budget)} steps"
            if isinstance(requested, (int, float)) and 0 < requested < budget:  # one point, named once, explained
                when = (f"At the end of the run, {fmt(budget)} steps (its {fmt(requested)} rounded up to whole "
                        f"rollouts),")
            sentences.append(f"{when} its rolling-{window} mean was {fmt(final, 1)}; the reference "
                             f"seeds stood at {fmt(at.low, 1)} to {fmt(at.high, 1)} (median {fmt(at.median, 1)}) "
                             f"at that point: {position}.")
    return " ".join(sentences)
