"""Chapter 05, generalised advantage estimation: GAE, the k-step advantage, and lambda-returns."""
from __future__ import annotations

import torch

from course_utils import answers
from course_utils.answers.advantages import k_step_advantage, next_state_values  # noqa: F401
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake

CHAPTER = "05 Generalized advantage estimation"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


def _episodes(shape: tuple[int, ...], g: torch.Generator, p_end: float = 0.2) -> torch.Tensor:
    return (torch.rand(shape, generator=g) < p_end).float()


def _rollout(g: torch.Generator, T: int, N: int | None, p_end: float = 0.2, scale: float = 1.0):
    """Random rewards, values, dones and last_value of shape (T,) or (T, N)."""
    shape = (T,) if N is None else (T, N)
    return dict(rewards=torch.randn(shape, generator=g) * scale, values=torch.randn(shape, generator=g) * scale,
                dones=_episodes(shape, g, p_end), last_value=torch.randn(shape[1:], generator=g) * scale)


# ---------------------------------------------------------------- gae
def _gae_loop(rewards, values, dones, last_value, gamma, lam, mask_value=True, mask_sum=True,
              gamma_in_sum=True, lam_in_sum=True, bootstrap=True):
    """GAE with switches: each switch turned off is one of the classic mistakes."""
    not_done = 1.0 - dones.float()
    last = torch.as_tensor(last_value, dtype=rewards.dtype) if bootstrap else torch.zeros(rewards.shape[1:])
    next_values = next_state_values(values, last)
    delta = rewards + gamma * (not_done if mask_value else 1.0) * next_values - values
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        decay = (gamma if gamma_in_sum else 1.0) * (lam if lam_in_sum else 1.0)
        running = delta[t] + decay * (not_done[t] if mask_sum else 1.0) * running
        advantages[t] = running
    return advantages


def _gae_cases():
    g = gen(1515)
    constant = 10.0  # V = 1 / (1 - gamma) for gamma = 0.9: the exact value of a reward of 1 forever
    return [
        Case("reward only at the last (terminal) step, lam = 1 (worked by hand)",
             fixed(rewards=torch.tensor([0.0, 0.0, 1.0]), values=torch.zeros(3), dones=torch.tensor([0.0, 0.0, 1.0]),
                   last_value=torch.tensor(5.0), gamma=0.9, lam=1.0),
             why="with V = 0 and lam = 1, GAE is the discounted reward-to-go [0.81, 0.9, 1]; last_value = 5 "
                 "comes after a terminal step and must be ignored"),
        Case("reward only at the last step, lam = 0.5 (worked by hand)",
             fixed(rewards=torch.tensor([0.0, 0.0, 1.0]), values=torch.zeros(3), dones=torch.tensor([0.0, 0.0, 1.0]),
                   last_value=torch.tensor(5.0), gamma=0.9, lam=0.5),
             why="the residuals are [0, 0, 1] and each step back multiplies by gamma lam = 0.45: [0.2025, 0.45, 1]"),
        Case("constant value equal to the true value (worked by hand)",
             fixed(rewards=torch.ones(4), values=torch.full((4,), constant), dones=torch.zeros(4),
                   last_value=torch.tensor(constant), gamma=0.9, lam=0.95),
             why="a reward of 1 forever is worth 1 / (1 - 0.9) = 10, so every residual 1 + 0.9 * 10 - 10 is 0 and "
                 "so is every advantage"),
        Case("an episode ends in the middle of the rollout (worked by hand)",
             fixed(rewards=torch.ones(4), values=torch.full((4,), 0.5), dones=torch.tensor([0.0, 1.0, 0.0, 0.0]),
                   last_value=torch.tensor(2.0), gamma=1.0, lam=1.0),
             why="new episode: A_3 = 1 + 2 - 0.5 = 2.5, A_2 = 1 + 0.5 - 0.5 + 2.5 = 3.5; old episode: "
                 "A_1 = 1 - 0.5 = 0.5 (terminal), A_0 = 1 + 0.5 - 0.5 + 0.5 = 1.5"),
        Case("lam = 0 gives the TD residuals (random rollout with episode ends)",
             fixed(**_rollout(g, 8, None), gamma=0.99, lam=0.0)),
        Case("a (T, N) batch: 16 steps of 4 environments, several episodes per column",
             fixed(**_rollout(g, 16, 4, 0.25), gamma=0.99, lam=0.95)),
        Case("a (T, N) batch with lam = 1 and gamma = 0.9", fixed(**_rollout(g, 12, 3), gamma=0.9, lam=1.0)),
        Case("a long rollout of 128 steps, rewards of CartPole's scale",
             fixed(**_rollout(g, 128, 2, 0.02, 10.0), gamma=0.99, lam=0.9)),
    ]


EXERCISES.append(Exercise(
    id="gae",
    chapter=CHAPTER,
    title="generalised advantage estimation",
    signature="gae(rewards (T,...), values (T,...), dones (T,...), last_value () or (N,), gamma, lam) -> (T,...)",
    answer=answers.gae,
    cases=_gae_cases,
    mistakes=[
        Mistake("dones ignored", lambda rewards, values, dones, last_value, gamma, lam:
                _gae_loop(rewards, values, dones, last_value, gamma, lam, mask_value=False, mask_sum=False),
                "episode ends are ignored: a terminal step still bootstraps with the next value, and the sum runs "
                "on into the next episode. Multiply both by (1 - dones[t])."),
        Mistake("sum crosses episodes", lambda rewards, values, dones, last_value, gamma, lam:
                _gae_loop(rewards, values, dones, last_value, gamma, lam, mask_sum=False),
                "the residuals are right but the sum runs across an episode end: residuals of the NEXT episode leak "
                "into this one. Cut the recursion too: A_t = delta_t + gamma lam (1 - dones[t]) A_{t+1}."),
        Mistake("no bootstrap", lambda rewards, values, dones, last_value, gamma, lam:
                _gae_loop(rewards, values, dones, last_value, gamma, lam, bootstrap=False),
                "the rollout's last step bootstraps with 0: use last_value = V(s_T) as the value after the last "
                "step, since the episode may go on beyond the rollout."),
        Mistake("lam ignored", lambda rewards, values, dones, last_value, gamma, lam:
                _gae_loop(rewards, values, dones, last_value, gamma, lam, lam_in_sum=False),
                "lam is missing from the recursion: each step back should multiply by gamma * lam, not gamma alone "
                "(what you computed is always the lam = 1 estimate)."),
        Mistake("gamma missing from the sum", lambda rewards, values, dones, last_value, gamma, lam:
                _gae_loop(rewards, values, dones, last_value, gamma, lam, gamma_in_sum=False),
                "the residuals are summed with weights lam^l instead of (gamma lam)^l: the discount applies to "
                "later residuals too."),
        Mistake("returns instead of advantages", lambda rewards, values, dones, last_value, gamma, lam:
                answers.gae(rewards, values, dones, last_value, gamma, lam) + values,
                "you returned A_t + V(s_t), the lambda-return (the critic's target), not the advantage."),
    ],
    hints=[
        "hat A_t adds up the TD residuals delta_t, delta_{t+1}, ... with weights (gamma lam)^l. How is hat A_t "
        "related to hat A_{t+1}, and what should an episode end do to that relation?",
        "Run backwards over the rollout. At each step compute delta_t (V(s_{t+1}) is values[t + 1], or last_value "
        "at the last step), then add gamma lam times the next step's advantage, unless step t terminated its "
        "episode: then neither the bootstrap inside delta_t nor the advantage that follows counts.",
        "hat A_T = 0; for t = T-1 down to 0: delta_t = r_t + gamma (1 - d_t) V(s_{t+1}) - V(s_t), then hat A_t = "
        "delta_t + gamma lam (1 - d_t) hat A_{t+1}.",
    ],
    success="One knob, lam, now slides between the low-variance, critic-dependent TD residual (lam = 0) and the "
            "unbiased, noisy Monte Carlo advantage (lam = 1).",
))


# ---------------------------------------------------------------- k_step_advantage


def _ks_variant(rewards, values, dones, last_value, gamma, k, mask=True, discount=True, extra=0):
    """k_step_advantage with switches (the classic mistakes)."""
    delta = answers.td_residuals(rewards, values, next_state_values(values, last_value), dones, gamma)
    not_done = 1.0 - dones.float()
    T = rewards.shape[0]
    advantages = torch.zeros_like(delta)
    for t in range(T):
        weight = torch.ones_like(delta[0])
        for l in range(min(k + extra, T - t)):
            advantages[t] = advantages[t] + weight * delta[t + l]
            weight = weight * (gamma if discount else 1.0) * (not_done[t + l] if mask else 1.0)
    return advantages


def _ks_cases():
    g = gen(1616)
    return [
        Case("rewards of 1, V = 0, k = 2, gamma = 0.5 (worked by hand)",
             fixed(rewards=torch.ones(4), values=torch.zeros(4), dones=torch.zeros(4), last_value=torch.tensor(0.0),
                   gamma=0.5, k=2),
             why="r_t + 0.5 r_{t+1} = 1.5 while two steps remain; the last step has only itself: [1.5, 1.5, 1.5, 1]"),
        Case("an episode ends at the first step, k = 2 (worked by hand)",
             fixed(rewards=torch.ones(3), values=torch.full((3,), 2.0), dones=torch.tensor([1.0, 0.0, 0.0]),
                   last_value=torch.tensor(4.0), gamma=1.0, k=2),
             why="residuals [1 - 2, 1 + 2 - 2, 1 + 4 - 2] = [-1, 1, 3]; A_0 stops at the terminal step: [-1, 4, 3]"),
        Case("k = 1 gives the TD residuals", fixed(**_rollout(g, 8, None), gamma=0.99, k=1)),
        Case("k longer than the rollout gives GAE with lam = 1", fixed(**_rollout(g, 6, None), gamma=0.9, k=10)),
        Case("a (T, N) batch, k = 3", fixed(**_rollout(g, 10, 3, 0.25), gamma=0.99, k=3)),
        Case("a (T, N) batch, k = 5", fixed(**_rollout(g, 20, 2, 0.1), gamma=0.95, k=5)),
    ]


EXERCISES.append(Exercise(
    id="k_step_advantage",
    chapter=CHAPTER,
    title="the k-step advantage estimator",
    signature="k_step_advantage(rewards (T,...), values (T,...), dones (T,...), last_value () or (N,), gamma, k) "
              "-> (T,...)",
    answer=answers.k_step_advantage,
    cases=_ks_cases,
    mistakes=[
        Mistake("sum crosses episodes", lambda rewards, values, dones, last_value, gamma, k:
                _ks_variant(rewards, values, dones, last_value, gamma, k, mask=False),
                "the sum of residuals runs past an episode end; after a terminal step the residuals belong to "
                "another episode. Stop adding (weight 0) once dones[t + l] = 1."),
        Mistake("no discount", lambda rewards, values, dones, last_value, gamma, k:
                _ks_variant(rewards, values, dones, last_value, gamma, k, discount=False),
                "the residuals are added with equal weights; residual t + l is l steps in the future and is "
                "weighted by gamma^l."),
        Mistake("k + 1 residuals", lambda rewards, values, dones, last_value, gamma, k:
                _ks_variant(rewards, values, dones, last_value, gamma, k, extra=1),
                "you summed k + 1 residuals: the k-step estimator uses delta_t ... delta_{t+k-1} (k = 1 is the "
                "TD residual alone)."),
        Mistake("returns instead of advantages", lambda rewards, values, dones, last_value, gamma, k:
                k_step_advantage(rewards, values, dones, last_value, gamma, k) + values,
                "you returned the k-step return; the advantage subtracts the baseline V(s_t)."),
    ],
    hints=[
        "The k-step advantage adds k real rewards, then trusts the critic. How can you write it with the TD "
        "residuals delta_t, delta_{t+1}, ...?",
        "The sum telescopes: hat A^(k)_t is the discounted sum of the first k TD residuals from t on. Near the "
        "end of the rollout fewer than k are available; after a terminal step none counts any more (its weight "
        "drops to 0).",
        "hat A^(k)_t = sum_{l=0}^{m-1} w_l delta_{t+l} with m = the smaller of k and T - t, w_0 = 1 and w_{l+1} = "
        "w_l gamma (1 - d_{t+l}); the residuals use values[t + 1], or last_value at the last step.",
    ],
    success="k = 1 is the TD residual and k = T the Monte Carlo advantage; GAE will average all of them with "
            "weights (1 - lam) lam^(k-1).",
))


# ---------------------------------------------------------------- lambda_returns
def _lr_variant(rewards, values, dones, last_value, gamma, lam, swap=False, mask=True, bootstrap=True):
    if swap:
        lam = 1 - lam
    d = dones if mask else torch.zeros_like(dones)
    lv = last_value if bootstrap else torch.zeros_like(torch.as_tensor(last_value))
    return answers.lambda_returns(rewards, values, d, lv, gamma, lam)


def _lr_cases():
    g = gen(1717)
    return [
        Case("reward at the last step, V = 0.5, lam = 0.5 (worked by hand)",
             fixed(rewards=torch.tensor([0.0, 0.0, 1.0]), values=torch.full((3,), 0.5), dones=torch.zeros(3),
                   last_value=torch.tensor(1.0), gamma=1.0, lam=0.5),
             why="G_2 = 1 + (0.5 * 1 + 0.5 * 1) = 2, G_1 = 0 + (0.5 * 0.5 + 0.5 * 2) = 1.25, "
                 "G_0 = 0.5 * 0.5 + 0.5 * 1.25 = 0.875"),
        Case("an episode ends at step 1 (worked by hand)",
             fixed(rewards=torch.tensor([1.0, 1.0, 1.0]), values=torch.tensor([3.0, 2.0, 1.0]),
                   dones=torch.tensor([0.0, 1.0, 0.0]), last_value=torch.tensor(4.0), gamma=1.0, lam=0.5),
             why="G_2 = 1 + 4 = 5 (new episode), G_1 = 1 (terminal), G_0 = 1 + (0.5 * 2 + 0.5 * 1) = 2.5"),
        Case("lam = 0: the one-step target r_t + gamma V(s_{t+1})", fixed(**_rollout(g, 8, None), gamma=0.99, lam=0.0)),
        Case("lam = 1: the bootstrapped return", fixed(**_rollout(g, 8, None), gamma=0.9, lam=1.0)),
        Case("a (T, N) batch, lam = 0.95", fixed(**_rollout(g, 16, 4, 0.2), gamma=0.99, lam=0.95)),
    ]


EXERCISES.append(Exercise(
    id="lambda_returns",
    kind="debug",
    bug="no bootstrap",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="lambda-returns, the critic's targets",
    signature="lambda_returns(rewards (T,...), values (T,...), dones (T,...), last_value () or (N,), gamma, lam) "
              "-> (T,...)",
    answer=answers.lambda_returns,
    cases=_lr_cases,
    mistakes=[
        Mistake("lam and 1 - lam swapped", lambda rewards, values, dones, last_value, gamma, lam:
                _lr_variant(rewards, values, dones, last_value, gamma, lam, swap=True),
                "the weights are swapped: lam goes with the longer return G_{t+1} and 1 - lam with the one-step "
                "bootstrap V(s_{t+1}), so that lam = 1 gives the full return."),
        Mistake("dones ignored", lambda rewards, values, dones, last_value, gamma, lam:
                _lr_variant(rewards, values, dones, last_value, gamma, lam, mask=False),
                "at a terminal step nothing comes after: G_t = r_t. Multiply the bracket by (1 - dones[t])."),
        Mistake("no bootstrap", lambda rewards, values, dones, last_value, gamma, lam:
                _lr_variant(rewards, values, dones, last_value, gamma, lam, bootstrap=False),
                "the recursion must start from G_T = V(s_T) = last_value, and V(s_{t+1}) at the last step is "
                "last_value too; you used 0."),
        Mistake("advantages", lambda rewards, values, dones, last_value, gamma, lam:
                answers.gae(rewards, values, dones, last_value, gamma, lam),
                "you returned the GAE advantage; the lambda-return is the advantage plus V(s_t)."),
        Mistake("lam ignored", lambda rewards, values, dones, last_value, gamma, lam:
                answers.lambda_returns(rewards, values, dones, last_value, gamma, 1.0),
                "lam plays no part: this is the full bootstrapped return. Blend (1 - lam) V(s_{t+1}) with "
                "lam G_{t+1} at every step."),
    ],
    hints=[
        "G^lam_t = hat A_t + V(s_t). If you substitute GAE's recursion, how does G^lam_t depend on r_t, "
        "V(s_{t+1}) and G^lam_{t+1}?",
        "At each step the lambda-return blends two estimates of what follows: the critic's value V(s_{t+1}) "
        "(weight 1 - lam) and the next lambda-return G^lam_{t+1} (weight lam). A terminal step keeps its reward "
        "only, and the recursion starts from V(s_T) = last_value.",
        "G^lam_T = V(s_T); for t = T-1 down to 0: G^lam_t = r_t + gamma (1 - d_t) [ (1 - lam) V(s_{t+1}) + lam "
        "G^lam_{t+1} ], with V(s_T) = last_value at the last step.",
    ],
    success="Your lambda-returns equal GAE advantages plus V(s_t): the actor and the critic use the same "
            "bias-variance trade-off.",
))


# ---------------------------------------------------------------- lambda_for_horizon (derive)
def _horizon_cases():
    return [
        Case("gamma = 1, a horizon of 10 steps (worked by hand)", fixed(gamma=1.0, horizon=10.0),
             why="1 / (1 - lambda) = 10 gives lambda = 0.9"),
        Case("gamma = 0.99, the lesson's horizon of about 17 steps", fixed(gamma=0.99, horizon=17.0)),
        Case("gamma = 0.9, 5 steps", fixed(gamma=0.9, horizon=5.0), why="gamma lambda = 0.8, so lambda = 0.889"),
        Case("a horizon of one step means lambda = 0", fixed(gamma=0.95, horizon=1.0)),
    ]


EXERCISES.append(Exercise(
    id="lambda_for_horizon",
    chapter=CHAPTER,
    title="the lambda of a given horizon",
    kind="derive",
    signature="lambda_for_horizon(gamma float, horizon float) -> float",
    answer=answers.lambda_for_horizon,
    cases=_horizon_cases,
    returns="float",
    mistakes=[
        Mistake("gamma forgotten", lambda gamma, horizon: 1 - 1 / horizon,
                "this is the product gamma lambda, not lambda: the weights decay like (gamma lambda)^l, so divide "
                "by gamma at the end."),
        Mistake("horizon as 1 / lambda", lambda gamma, horizon: 1 / horizon,
                "the horizon is the SUM of the weights (gamma lambda)^l over l >= 0, a geometric series; it is "
                "not 1 / lambda."),
        Mistake("1 - gamma", lambda gamma, horizon: (1 - (1 - gamma) / horizon) / gamma,
                "set the geometric sum 1 / (1 - gamma lambda) equal to the horizon and solve for lambda."),
    ],
    hints=[
        "GAE weights the residual l steps ahead by (gamma lambda)^l. What do these weights add up to?",
        "The sum of a geometric series with ratio gamma lambda < 1 is 1 / (1 - gamma lambda): the lesson calls it "
        "the effective horizon. Set it equal to H and solve.",
        "1 - gamma lambda = 1 / H, then isolate lambda.",
    ],
    success="Right: with gamma = 0.99, a horizon of 17 steps needs lambda of about 0.95, the usual default.",
))
