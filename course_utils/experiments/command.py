"""``python -m course_utils experiments NAME [NAME ...]``: (re)make cached experiments.

    reference_curves          every reference curve but the optional ones, seeds 0 to 7
    <a reference curve name>  one of them (see ``list``), e.g. ppo_cartpole
    gae_lambda_sweep          chapter 05's lam sweep on Acrobot-v1
    ppo_ablation              chapter 08's ablation of PPO's details
    ppo_diagnostics           chapter 08's diagnostics lab: a healthy PPO and three broken ones
    grpo_vs_ppo               chapter 09's GRPO against PPO + critic
    llm_sft                   chapter 10's SFT model of the addition task (data/llm_sft.pt)
    llm_aggregation           chapter 10's GRPO from that model, three aggregations of the loss
    llm_rlhf                  chapter 10's reward model, PPO-RLHF (KL in the reward or the loss) and DPO
    trust_region_lab          chapter 06's bug lab: a trust-region iteration, healthy and as handed out (seconds)
    list                      print the names

Each writes its JSON file under ``course_utils/data`` (see :mod:`course_utils.experiments.store`);
``--seeds`` defaults to the seeds of the shipped file. This takes hours: the lessons only load
the files.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from course_utils.experiments import (grpo_comparison, lambda_sweep, llm_aggregation, llm_rlhf, ppo_ablation,
                                      ppo_diagnostics, reference_curves, store, trust_region_lab)

OTHERS = ["gae_lambda_sweep", "ppo_ablation", "ppo_diagnostics", "grpo_vs_ppo", "llm_sft", "llm_aggregation", "llm_rlhf",
          "trust_region_lab"]


def names() -> list[str]:
    return ["reference_curves", *reference_curves.reference_names(), *OTHERS]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="what to make: " + ", ".join(names()) + " (or list)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the shipped file's seeds")
    parser.add_argument("--grid-step", type=int, default=1_000, help="reference curves: env steps between grid points")
    parser.add_argument("--steps", type=int, default=50_000, help="ppo_ablation, ppo_diagnostics: CartPole-v1 steps per run")
    parser.add_argument("--pendulum-steps", type=int, default=60_000, help="ppo_ablation: Pendulum-v1 steps per run")
    parser.add_argument("--iterations", type=int, default=150, help="grpo_vs_ppo: iterations per run")
    parser.add_argument("--llm-iterations", type=int, default=100, help="llm_aggregation: iterations per run")
    parser.add_argument("--no-progress", action="store_true")


def _make(name: str, args: argparse.Namespace) -> None:
    progress = not args.no_progress
    if name == "gae_lambda_sweep":
        from course_utils.trainers.a2c import train_a2c

        target = store.write(lambda_sweep.FILE, lambda_sweep.make_lambda_sweep(train_a2c, args.seeds, progress))
    elif name == "ppo_ablation":
        from course_utils.trainers.ppo import ppo_config, train_ppo

        data = ppo_ablation.run(args.seeds or list(range(5)), {"CartPole-v1": args.steps, "Pendulum-v1": args.pendulum_steps},
                                train_ppo, ppo_config, progress=progress)
        target = store.write(ppo_ablation.FILE, data)
    elif name == "ppo_diagnostics":
        from course_utils.trainers.ppo import ppo_config, train_ppo

        data = ppo_diagnostics.run(args.seeds or list(range(5)), args.steps, train_ppo, ppo_config, progress=progress)
        target = store.write(ppo_diagnostics.FILE, data, indent=None)
    elif name == "grpo_vs_ppo":
        from course_utils.trainers.grpo_task import SortTask, success_rate, train_grpo, train_ppo_critic

        data = grpo_comparison.compare(args.seeds or list(range(8)), args.iterations, SortTask(),
                                       {"GRPO": train_grpo, "PPO + critic": train_ppo_critic}, success_rate, progress)
        target = store.write(grpo_comparison.FILE, data, indent=None)
    elif name == "llm_sft":
        import torch

        from course_utils.trainers.llm_grpo import AdditionTask, evaluate, sft_path, train_sft

        def save(policy: Any) -> Any:
            torch.save(policy.state_dict(), sft_path())
            return sft_path()

        record = llm_aggregation.make_sft(train_sft, lambda policy: evaluate(policy, AdditionTask()), save, progress)
        target = store.write(llm_aggregation.SFT_FILE, record)
    elif name == "llm_aggregation":
        from course_utils.trainers.llm_grpo import AdditionTask, evaluate, train_llm_grpo

        data = llm_aggregation.run(args.seeds or list(range(5)), args.llm_iterations, train_llm_grpo,
                                   lambda policy: evaluate(policy, AdditionTask()), progress)
        target = store.write(llm_aggregation.FILE, data, indent=None)
    elif name == "trust_region_lab":
        from course_utils.answers import trust_region_iteration
        from course_utils.catalogue import registry

        handed_out = next(m.fn for m in registry()["trust_region_iteration"].mistakes
                          if m.name == registry()["trust_region_iteration"].bug)
        data = trust_region_lab.run(args.seeds or trust_region_lab.SEEDS, trust_region_iteration, handed_out)
        target = store.write(trust_region_lab.FILE, data, indent=None)
    elif name == "llm_rlhf":
        from course_utils.trainers import llm_rlhf as rlhf_trainer

        target = store.write(llm_rlhf.FILE, llm_rlhf.run(args.seeds or list(range(5)), rlhf_trainer, progress), indent=None)
    else:
        from course_utils.trainers.a2c import train_a2c
        from course_utils.trainers.ppo import train_ppo
        from course_utils.trainers.reinforce import train_reinforce
        from course_utils.trainers.trpo import train_trpo

        trainers: dict[str, Any] = {"reinforce": train_reinforce, "a2c": train_a2c, "trpo": train_trpo, "ppo": train_ppo}
        data = reference_curves.make_reference(name, args.seeds or list(range(8)), trainers, args.grid_step, progress)
        target = store.write(f"{reference_curves.FOLDER}/{name}.json", data)
    print(f"wrote {target}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if not args.names or args.names == ["list"]:
        print("\n".join(names()))
        return 0
    wanted: list[str] = []
    for name in args.names:
        if name == "reference_curves":
            wanted += [n for n in reference_curves.reference_names() if n not in reference_curves.OPTIONAL]
        elif name in names():
            wanted.append(name)
        else:
            print(f"unknown experiment {name!r}; choose from {names()}", file=sys.stderr)
            return 2
    for name in wanted:
        _make(name, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))
