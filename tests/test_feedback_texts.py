"""What the checks' messages and cases say is true (issue 25): each statement recomputed."""
from __future__ import annotations

import torch

from course_utils import answers, catalogue


def _exercise(exercise_id):
    return catalogue.registry()[exercise_id]


def test_value_loss_worked_case_states_the_gradient_for_any_M():
    ex = _exercise("value_loss")
    case = ex.cases()[0]
    kwargs = case.make_args()
    values = kwargs["values"].clone().requires_grad_(True)
    answers.value_loss(values, kwargs["returns"]).backward()
    M = values.numel()
    assert torch.allclose(values.grad, 2 * (kwargs["values"] - kwargs["returns"]) / M)
    assert M == 2 and torch.allclose(values.grad, torch.tensor([-2.0, -0.5]))
    assert "2 (values - returns) / M" in case.why and "M = 2" in case.why


def test_softmax_score_message_keeps_row_sums_and_the_lemma_apart():
    ex = _exercise("softmax_score")
    logits = torch.randn(4, 5, dtype=torch.float64)
    pi = torch.softmax(logits, -1)
    scores = torch.stack([answers.softmax_score(logits, torch.full((4,), a)) for a in range(5)], 1)  # (N, a, A)
    assert scores.sum(-1).abs().max() < 1e-12                                   # each row sums to zero ...
    assert (pi[:, :, None] * scores).sum(1).abs().max() < 1e-12                 # ... the lemma: the mean row is 0
    shifted = answers.softmax_score(logits + 3.0, torch.zeros(4, dtype=torch.long))
    assert (shifted - scores[:, 0]).abs().max() < 1e-12                         # why: a shift changes nothing
    first_sentence = ex.success.split(". ")[0]
    assert "sums to zero" in first_sentence and "lemma" not in first_sentence


def test_clipped_value_loss_message_calls_the_clip_a_brake_not_a_bound():
    ex = _exercise("clipped_value_loss")
    assert "at most clip_eps" not in ex.success and "soft brake" in ex.success
    # the claim it makes: past the clip, in the blocked direction, the gradient is zero, and nowhere a bound
    values_old, returns = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])
    values = torch.tensor([0.5, 0.1], requires_grad=True)       # first moved 0.5 > eps towards the return
    answers.clipped_value_loss(values, values_old, returns, 0.2).backward()
    assert values.grad[0] == 0 and values.grad[1] != 0


def _markdown(path):
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / path).read_text(encoding="utf-8"))
    return [("".join(c["source"]), c["cell_type"]) for c in nb["cells"]]


def _bandit_variance(p, rewards, weight):
    """Exact variance of (a - p) * weight(a) for a one-logit two-armed bandit, a ~ Bernoulli(p)."""
    probs = {1: p, 0: 1 - p}
    terms = {a: (a - p) * weight(a) for a in (0, 1)}
    mean = sum(probs[a] * terms[a] for a in (0, 1))
    return sum(probs[a] * terms[a] ** 2 for a in (0, 1)) - mean ** 2


def test_subtracting_v_can_raise_the_variance_as_lesson_03_says():
    p, r = 0.9, {1: 1.0, 0: 0.0}
    v = p * r[1] + (1 - p) * r[0]
    with_q = _bandit_variance(p, r, lambda a: r[a])
    with_a = _bandit_variance(p, r, lambda a: r[a] - v)
    assert abs(with_q - 0.0009) < 1e-12 and abs(with_a - 0.0576) < 1e-12 and with_a > with_q
    text = "".join(s for s, _ in _markdown("notebooks/03_baselines.ipynb"))
    assert "lowest of these" not in text and "0.0009" in text and "0.0576" in text


def test_baseline_prediction_states_its_bandit_and_the_batch_mean_keeps_1_minus_1_over_M_of_the_gradient():
    """The question states its bandit (p, the rewards, M); its answer, 3/4 of the gradient, is exact: every
    batch of M = 4 actions enumerated, E[g_i (R_i - mean_j R_j)] = (1 - 1/M) E[g_i R_i] (the noise has mean 0)."""
    import itertools

    pred = catalogue.predictions()["baseline_mean_and_spread"]
    assert all(word in pred.question for word in ("0.3", "10", "11", "M = 4", "0.21"))
    p, r, M = 0.3, {0: 10.0, 1: 11.0}, 4
    expected = 0.0
    for actions in itertools.product((0, 1), repeat=M):
        prob = 1.0
        for a in actions:
            prob *= p if a else 1 - p
        mean = sum(r[a] for a in actions) / M
        expected += prob * (actions[0] - p) * (r[actions[0]] - mean)
    true_gradient = p * (1 - p) * (r[1] - r[0])
    assert abs(true_gradient - 0.21) < 1e-12 and abs(expected - 0.75 * true_gradient) < 1e-12
    assert pred.choices[pred.answer] == "3/4 of 0.21" and "(1 - 1/M)" in pred.explanation
    # the reveal does not claim that a baseline always cuts the variance
    assert "always" not in pred.explanation


def test_random_cartpole_policy_scores_about_22_as_the_chapters_say():
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    env.action_space.seed(0)
    lengths = []
    for seed in range(3000):
        env.reset(seed=seed)
        n, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            n, done = n + 1, terminated or truncated
        lengths.append(n)
    mean = sum(lengths) / len(lengths)
    assert 21.5 < mean < 22.9          # standard error about 0.22 at 3,000 episodes; 22.2 over 20,000
    lesson = "".join(s for s, _ in _markdown("notebooks/00_setup.ipynb"))
    assert "22.2" in lesson and "standard error of about 1.2" in lesson


def test_workbooks_count_their_checks_right():
    import re

    for path, expected in [("solutions/05_gae.ipynb", "four")]:
        cells = _markdown(path)
        n_checks = sum(1 for s, kind in cells if kind == "code" and re.search(r"^check\(", s, re.M))
        words = {2: "two", 3: "three", 4: "four", 5: "five"}
        text = " ".join(s for s, kind in cells if kind == "markdown")
        assert words[n_checks] == expected
        for said in re.findall(r"[Aa]ll (\w+) checks", text) + re.findall(r"(\w+) functions:", text):
            assert said.lower() == expected, (path, said)


def test_first_minibatch_clip_can_act_within_the_first_epoch():
    # one shared logit vector: a step on the first minibatch moves the ratios of the second one
    logits_old = torch.zeros(3)
    logits = logits_old.clone().requires_grad_(True)
    actions, adv = torch.zeros(8, dtype=torch.long), torch.ones(8)
    logp_old = torch.log_softmax(logits_old, -1)[actions]
    first = answers.ppo_clip_loss(torch.log_softmax(logits, -1)[actions[:4]], logp_old[:4], adv[:4], 0.2)
    (grad,) = torch.autograd.grad(first, logits)
    with torch.no_grad():
        logits -= 1.0 * grad                                    # one SGD step, first minibatch
    ratio = torch.exp(torch.log_softmax(logits, -1)[actions[4:]] - logp_old[4:])
    assert (ratio > 1.2).all()                                  # second minibatch, same first epoch: clipped
    second = answers.ppo_clip_loss(torch.log_softmax(logits, -1)[actions[4:]], logp_old[4:], adv[4:], 0.2)
    assert torch.autograd.grad(second, logits)[0].abs().max() == 0
    pred = catalogue.predictions()["first_minibatch_clip"]
    assert "after some epochs" not in pred.explanation and "same first epoch" in pred.explanation


def test_grpo_debug_bug_has_a_symptom_and_the_old_one_was_only_a_rescale():
    ex = catalogue.registry()["group_relative_advantages"]
    mistakes = {m.name: m.fn for m in ex.mistakes}
    assert ex.bug == "whole batch"
    rewards = torch.tensor([[1.0] * 8, [0.0] * 8, [1.0, 0, 0, 1, 0, 0, 0, 0]])
    right = answers.group_relative_advantages(rewards)
    buggy = mistakes["whole batch"](rewards)
    assert (right[:2] == 0).all() and (buggy[0] > 0.5).all() and (buggy[1] < -0.5).all()   # the symptom
    population = mistakes["population std"](rewards)
    assert torch.allclose(population[2], right[2] * (8 / 7) ** 0.5)                       # a 1.07x rescale
    # the handed-out cell states the contract in its docstring only, never beside the wrong line
    cells = [s for s, kind in _markdown("solutions/09_grpo.ipynb") if s.startswith("def group_relative_advantages(")]
    buggy_block = cells[0].split("### BEGIN BUGGY")[1].split("### END BUGGY")[0]
    assert "Bessel" not in buggy_block and "correction" not in buggy_block and "#  " not in buggy_block


def test_lesson_09_same_reward_group_still_feels_the_kl_and_token_averages_are_named_right():
    # a group of equal rewards: advantages 0; the surrogate gives no gradient, the KL term does
    advantages = answers.group_relative_advantages(torch.tensor([[1.0, 1.0, 1.0]])).flatten().repeat_interleave(2)
    logp_old = torch.log(torch.full((6,), 0.5))
    logp_ref = torch.log(torch.full((6,), 0.25))
    for beta, moves in ((0.0, False), (0.04, True)):
        logp = logp_old.clone().requires_grad_(True)
        answers.grpo_loss(logp, logp_old, logp_ref, advantages, 0.2, beta).backward()
        assert bool(logp.grad.abs().max() > 0) == moves
    # the course's loss is the token-level mean over the batch (DAPO's); Dr. GRPO's constant divisor differs
    lengths = [2, 6]
    logp = torch.log(torch.rand(8, dtype=torch.float64) * 0.5 + 0.25).requires_grad_(True)
    adv = torch.tensor([1.0] * 2 + [-1.0] * 6, dtype=torch.float64)
    answers.grpo_loss(logp, logp.detach(), logp.detach(), adv, 0.2, 0.0).backward()
    token_mean = logp.grad.clone()
    assert torch.allclose(token_mean, -adv / 8)                              # every token weighs 1 / (all tokens)
    per_answer = torch.cat([torch.full((n,), 1.0 / n / len(lengths)) for n in lengths])
    assert not torch.allclose(per_answer, torch.full((8,), 1 / 8, dtype=per_answer.dtype))
    text = "".join(s for s, _ in _markdown("notebooks/09_grpo.ipynb"))
    assert "contributes no gradient at all" not in text and "only the KL term" in text
    assert "DAPO's token-level loss averages over all tokens" in text and "Dr. GRPO divides" in text


def test_fvp_that_switches_on_requires_grad_of_the_callers_theta_is_rejected():
    # the contract: the caller's theta is never touched; an answer that passed before (issue 25) now fails
    def fvp_on_callers_theta(kl_fn, theta, v, damping=0.0):
        theta.requires_grad_(True)
        (g,) = torch.autograd.grad(kl_fn(theta), theta, create_graph=True)
        (hv,) = torch.autograd.grad(g @ v, theta)
        return hv + damping * v

    res = catalogue.grade("fisher_vector_product", fvp_on_callers_theta)
    assert not res.passed and "requires_grad flag of the caller's `theta`" in res.message, res.message
    assert catalogue.grade("fisher_vector_product", answers.fisher_vector_product).passed


def test_what_you_should_see_quotes_only_what_the_cells_print():
    # workbook 06 and lesson 06 printed bounds (< 1e-12) or ten decimals, never 1e-16 / 1e-15
    for path in ("solutions/06_trust_regions.ipynb", "notebooks/06_trust_regions.ipynb"):
        text = "".join(s for s, kind in _markdown(path) if kind == "markdown")
        assert "10^{-16}" not in text and "10^{-15}" not in text, path
    # workbook 07: the cell prints "below 1e-4? False / True"; the text says what the plot shows, and it is so
    from course_utils.answers import conjugate_gradient

    n = 100
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    b = torch.randn(n, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    spectra = [torch.logspace(0, -4, n, dtype=torch.float64),
               torch.cat([torch.tensor([100.0, 30, 10, 3, 1], dtype=torch.float64),
                          0.1 + 0.01 * torch.rand(n - 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))])]
    ratios = []
    for eig in spectra:
        A = (Q * eig) @ Q.T
        x_star = torch.linalg.solve(A, b)
        norm = lambda e: (e @ A @ e).sqrt().item()  # noqa: E731
        ratios.append(norm(conjugate_gradient(lambda v: A @ v, b, 10, 0.0) - x_star) / norm(x_star))
    assert 0.5 < ratios[0] < 1 and ratios[1] < 1e-4
    text = "".join(s for s, kind in _markdown("solutions/07_trpo.ipynb") if kind == "markdown")
    assert "about 0.85" not in text and "has not yet halved" in text


def test_workbook_05_lambda_demo_bias_depends_on_the_action_and_vanishes_at_lambda_1():
    """The demo of `lambda_bias_variance`, in exact expectation: E[A_hat] = sum_l (gamma lam)^l E[delta_l]."""
    T, gamma, n_states, start = 30, 0.95, 7, 3
    reward_of = torch.linspace(-0.5, 0.5, n_states, dtype=torch.float64)
    error = 0.5 + 0.25 * (torch.arange(n_states, dtype=torch.float64) - start)
    move = [torch.zeros(n_states, n_states, dtype=torch.float64) for _ in (0, 1)]  # P[a][s, s']
    for s in range(n_states):
        for a in (0, 1):
            move[a][s, min(max(s + 2 * a - 1, 0), n_states - 1)] = 1.0
    random_policy = (move[0] + move[1]) / 2
    V = torch.zeros(T + 1, n_states, dtype=torch.float64)
    for t in reversed(range(T)):
        V[t] = random_policy @ (reward_of + gamma * V[t + 1])
    A_true = [move[a][start] @ (reward_of + gamma * V[1]) - V[0, start] for a in (0, 1)]
    critic = torch.cat([V[:T] + error, torch.zeros(1, n_states, dtype=torch.float64)])  # 0 after the end

    def expected_estimate(a0, lam):
        dist = torch.zeros(n_states, dtype=torch.float64)
        dist[start] = 1.0
        total = 0.0
        for t in range(T):
            P = move[a0] if t == 0 else random_policy
            # E[delta_t] = E[r(s_{t+1}) + gamma V~(t+1, s_{t+1}) - V~(t, s_t)]
            total = total + (gamma * lam) ** t * (dist @ (P @ (reward_of + gamma * critic[t + 1])) - dist @ critic[t])
            dist = dist @ P
        return total

    gaps = []
    for lam in (0.0, 0.5, 0.9, 1.0):
        estimates = [expected_estimate(a, lam) for a in (0, 1)]
        gaps.append(float(estimates[1] - estimates[0] - (A_true[1] - A_true[0])))
        if lam == 0.0:  # each action's bias is gamma e(s_1): not the same for both actions
            biases = [float(estimates[a] - (A_true[a] - error[start])) for a in (0, 1)]
            assert abs(biases[0] - gamma * 0.25) < 1e-12 and abs(biases[1] - gamma * 0.75) < 1e-12
    assert abs(gaps[0] - 0.475) < 1e-12 and abs(gaps[-1]) < 1e-12
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    pred = catalogue.predictions()["lambda_bias_variance"]
    assert "0.475" in pred.explanation and "two actions" in pred.question
    # the question: lambda = 0.5 keeps over 90% of the bias of lambda = 0 (0.443 of 0.475), 0.237 at 0.9
    assert gaps[1] / gaps[0] > 0.9 and pred.choices[pred.answer].startswith("nearly all")
    assert f"{gaps[1]:.3f}" in pred.explanation and f"{gaps[2]:.3f}" in pred.explanation
