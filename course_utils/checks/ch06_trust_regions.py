"""Chapter 06, trust regions: exact policy evaluation, advantages, visitation, and the KL."""
from __future__ import annotations

import torch

from course_utils import tabular
from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake

CHAPTER = "06 Trust regions and the natural gradient"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them
D = torch.float64


def _t(x) -> torch.Tensor:
    return torch.tensor(x, dtype=D)


def _two_state_chain():
    """State 0: action 0 stays (reward 0), action 1 moves to state 1 (reward 0).
    State 1 is absorbing and pays 1 per step whatever the action."""
    P = torch.zeros(2, 2, 2, dtype=D)
    P[0, 0, 0] = 1.0
    P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    R = _t([[0.0, 0.0], [1.0, 1.0]])
    return P, R


def _random_case(S, A, gamma, seed, sharpness=1.0):
    mdp = tabular.random_mdp(S, A, gamma, seed=seed, sharpness=sharpness)
    pi = tabular.random_policy(S, A, seed=seed + 100, scale=1.5)
    return mdp, pi


# ---------------------------------------------------------------- tabular_policy_evaluation
def _pe_transposed(P, R, pi, gamma):
    P_pi = torch.einsum("sa,sat->st", pi, P)
    return torch.linalg.solve(torch.eye(len(R), dtype=P.dtype) - gamma * P_pi.T, (pi * R).sum(-1))


def _pe_uniform_actions(P, R, pi, gamma):
    uniform = torch.full_like(pi, 1.0 / pi.shape[1])
    return answers.tabular_policy_evaluation(P, R, uniform, gamma)


def _pe_optimal(P, R, pi, gamma):
    V = torch.zeros(P.shape[0], dtype=P.dtype)
    for _ in range(2000):
        V = (R + gamma * torch.einsum("sat,t->sa", P, V)).max(-1).values
    return V


def _pe_cases():
    P2, R2 = _two_state_chain()
    mdp5, pi5 = _random_case(5, 3, 0.95, seed=1)
    mdp12, pi12 = _random_case(12, 4, 0.99, seed=2, sharpness=3.0)
    return [
        Case("one state, one action, reward 1, gamma = 0.9 (worked by hand)",
             fixed(P=torch.ones(1, 1, 1, dtype=D), R=_t([[1.0]]), pi=_t([[1.0]]), gamma=0.9),
             why="V = 1 + 0.9 V, so V = 1 / (1 - 0.9) = 10"),
        Case("a two-state chain, pi(move | s0) = 0.5 (worked by hand)",
             fixed(P=P2, R=R2, pi=_t([[0.5, 0.5], [0.5, 0.5]]), gamma=0.9),
             shown="state 0: stay (reward 0) or move to the absorbing state 1, which pays 1 per step; "
                   "pi = 0.5 / 0.5 in both states, gamma = 0.9",
             why="V(1) = 1 / 0.1 = 10 and V(0) = 0.9 (0.5 V(0) + 0.5 V(1)), so V(0) = 4.5 / 0.55 = 8.18"),
        Case("the same chain, pi(move | s0) = 0.9",
             fixed(P=P2, R=R2, pi=_t([[0.1, 0.9], [0.5, 0.5]]), gamma=0.9),
             why="a policy that moves sooner reaches the paying state sooner: V(0) = 8.1 / 0.91 = 8.90"),
        Case("a random MDP, 5 states, 3 actions, gamma = 0.95",
             fixed(P=mdp5.P, R=mdp5.R, pi=pi5, gamma=0.95), shown="5 states, 3 actions, a random softmax policy"),
        Case("a random MDP, 12 states, 4 actions, near-deterministic transitions, gamma = 0.99",
             fixed(P=mdp12.P, R=mdp12.R, pi=pi12, gamma=0.99), shown="12 states, 4 actions, gamma = 0.99"),
    ]


EXERCISES.append(Exercise(
    id="tabular_policy_evaluation",
    chapter=CHAPTER,
    title="exact policy evaluation on a small MDP",
    signature="tabular_policy_evaluation(P (S, A, S), R (S, A), pi (S, A), gamma float) -> (S,)",
    answer=answers.tabular_policy_evaluation,
    cases=_pe_cases,
    mistakes=[
        Mistake("immediate reward only", lambda P, R, pi, gamma: (pi * R).sum(-1),
                "you returned the expected immediate reward r_pi(s). V also counts everything that follows: "
                "V = r_pi + gamma P_pi V."),
        Mistake("transposed P_pi", _pe_transposed,
                "P_pi is transposed: row s of P_pi must hold the probabilities of the NEXT states seen from s, "
                "P_pi[s, s'] = sum_a pi(a|s) P[s, a, s'], and V = r_pi + gamma P_pi V multiplies it on the right."),
        Mistake("uniform over actions", _pe_uniform_actions,
                "the actions are averaged uniformly; weight them by the policy: r_pi(s) = sum_a pi(a|s) R(s, a) and "
                "likewise for P_pi."),
        Mistake("optimal value", _pe_optimal,
                "this is the OPTIMAL value V* (a max over actions). Policy evaluation averages over the actions "
                "with the weights pi(a|s) instead."),
    ],
    hints=[
        "V^pi appears on both sides of the Bellman equation V = r_pi + gamma P_pi V. What kind of system is that, "
        "and how do you solve it exactly?",
        "Average over the policy first: r_pi[s] is the policy-weighted reward of state s, P_pi[s, s'] the "
        "policy-weighted probability of moving from s to s'. Collect the V terms on one side: a linear system of "
        "S equations that one call of a linear solver answers (no matrix inverse, no iteration).",
        "r_pi(s) = sum_a pi(a|s) R(s,a); P_pi(s,s') = sum_a pi(a|s) P(s,a,s'); then solve (I - gamma P_pi) V = "
        "r_pi for V, in float64.",
    ],
    success="With V^pi exact, every quantity of the trust-region theory can be computed without sampling: "
            "this is the laboratory for the rest of the chapter.",
))


# ---------------------------------------------------------------- advantage_table
def _adv_mean_baseline(P, R, pi, gamma):
    V = answers.tabular_policy_evaluation(P, R, pi, gamma)
    Q = answers.q_values(P, R, V, gamma)
    return Q - Q.mean(-1, keepdim=True)


def _adv_no_gamma(P, R, pi, gamma):
    V = answers.tabular_policy_evaluation(P, R, pi, gamma)
    return R + torch.einsum("sat,t->sa", P, V) - V[:, None]


def _adv_cases():
    mdp5, pi5 = _random_case(5, 3, 0.9, seed=3)
    mdp8, pi8 = _random_case(8, 2, 0.97, seed=4, sharpness=2.0)
    return [
        Case("one state, two actions, pi = [0.75, 0.25], gamma = 0.8 (worked by hand)",
             fixed(P=torch.ones(1, 2, 1, dtype=D), R=_t([[1.0, 0.0]]), pi=_t([[0.75, 0.25]]), gamma=0.8),
             why="V = 0.75 / (1 - 0.8) = 3.75, Q = R + 0.8 V = [4, 3], so A = Q - V = [0.25, -0.75]"),
        Case("a random MDP, 5 states, 3 actions", fixed(P=mdp5.P, R=mdp5.R, pi=pi5, gamma=0.9),
             shown="5 states, 3 actions, gamma = 0.9, a random softmax policy"),
        Case("a random MDP, 8 states, 2 actions, gamma = 0.97", fixed(P=mdp8.P, R=mdp8.R, pi=pi8, gamma=0.97),
             shown="8 states, 2 actions, gamma = 0.97"),
    ]


EXERCISES.append(Exercise(
    id="advantage_table",
    chapter=CHAPTER,
    title="the advantage A^pi(s, a) of every state and action",
    signature="advantage_table(P (S, A, S), R (S, A), pi (S, A), gamma float) -> (S, A)",
    answer=answers.advantage_table,
    cases=_adv_cases,
    mistakes=[
        Mistake("Q, not A", lambda P, R, pi, gamma: answers.q_values(P, R, answers.tabular_policy_evaluation(P, R, pi, gamma),
                                                                     gamma),
                "this is Q^pi. The advantage subtracts the state's value: A(s, a) = Q(s, a) - V(s), so that its "
                "pi-average in every state is 0."),
        Mistake("V - Q", lambda P, R, pi, gamma: -answers.advantage_table(P, R, pi, gamma),
                "the sign is flipped: A = Q - V is positive for actions BETTER than the policy's average."),
        Mistake("uniform mean of Q", _adv_mean_baseline,
                "you subtracted the plain mean of Q over the actions. V(s) is the pi-weighted mean, "
                "sum_a pi(a|s) Q(s, a); the two differ unless pi is uniform."),
        Mistake("gamma missing in Q", _adv_no_gamma,
                "Q(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V(s'): the discount of the next state's value is missing."),
    ],
    hints=[
        "A^pi(s, a) says how much better action a is than the policy's average in s. Which two tables do you "
        "need, and which one can your previous function give you?",
        "Evaluate V^pi with your tabular_policy_evaluation. Q^pi(s, a) is the expected reward of a in s plus "
        "gamma times the expected value of the next state, the expectation running over s' with P[s, a, s']. Then "
        "subtract V^pi(s) from every action of row s.",
        "Q(s,a) = R(s,a) + gamma sum_{s'} P(s,a,s') V(s'); A(s,a) = Q(s,a) - V(s), V broadcast along the action "
        "axis.",
    ],
    success="Check: (pi * A).sum(-1) is 0 in every state. The policy's own average action has no advantage; "
            "only a different policy can have one.",
))


# ---------------------------------------------------------------- discounted_visitation
def _dv_unnormalised(P, pi, mu, gamma):
    return answers.discounted_visitation(P, pi, mu, gamma) / (1 - gamma)


def _dv_transposed(P, pi, mu, gamma):
    P_pi = torch.einsum("sa,sat->st", pi, P)
    return torch.linalg.solve(torch.eye(len(mu), dtype=P.dtype) - gamma * P_pi, (1 - gamma) * mu)


def _dv_stationary(P, pi, mu, gamma):
    P_pi = torch.einsum("sa,sat->st", pi, P)
    d = mu.clone()
    for _ in range(5000):
        d = d @ P_pi
    return d


def _dv_cases():
    P2, _ = _two_state_chain()
    mdp6, pi6 = _random_case(6, 3, 0.9, seed=5)
    mdp10, pi10 = _random_case(10, 2, 0.8, seed=6, sharpness=3.0)
    start10 = torch.zeros(10, dtype=D)
    start10[0] = 1.0
    return [
        Case("the two-state chain, always move, start in state 0 (worked by hand)",
             fixed(P=P2, pi=_t([[0.0, 1.0], [0.5, 0.5]]), mu=_t([1.0, 0.0]), gamma=0.9),
             shown="start in state 0, move at once to the absorbing state 1; gamma = 0.9",
             why="state 0 is seen only at t = 0: d(0) = (1 - 0.9) * 1 = 0.1, and d(1) = 0.9"),
        Case("the chain, pi(move | s0) = 0.5 (worked by hand)",
             fixed(P=P2, pi=_t([[0.5, 0.5], [0.5, 0.5]]), mu=_t([1.0, 0.0]), gamma=0.9),
             why="Pr(s_t = 0) = 0.5^t, so d(0) = 0.1 * sum_t (0.45)^t = 0.1 / 0.55 = 0.1818"),
        Case("a random MDP, 6 states, uniform start, gamma = 0.9",
             fixed(P=mdp6.P, pi=pi6, mu=mdp6.mu, gamma=0.9), shown="6 states, 3 actions, uniform start"),
        Case("a random MDP, 10 states, start in state 0, gamma = 0.8",
             fixed(P=mdp10.P, pi=pi10, mu=start10, gamma=0.8), shown="10 states, 2 actions, s_0 = 0"),
    ]


EXERCISES.append(Exercise(
    id="discounted_visitation",
    chapter=CHAPTER,
    title="the discounted state-visitation distribution d_pi",
    signature="discounted_visitation(P (S, A, S), pi (S, A), mu (S,), gamma float) -> (S,)",
    answer=answers.discounted_visitation,
    cases=_dv_cases,
    mistakes=[
        Mistake("not normalised", _dv_unnormalised,
                "the (1 - gamma) factor is missing: sum_t gamma^t Pr(s_t = s) adds up to 1 / (1 - gamma); "
                "d_pi is a probability distribution over states and must sum to 1."),
        Mistake("transposed", _dv_transposed,
                "you solved (I - gamma P_pi) d = (1 - gamma) mu. Probability mass flows forward: "
                "Pr(s_t+1 = s') = sum_s Pr(s_t = s) P_pi[s, s'], a row vector times P_pi, so solve with the "
                "TRANSPOSE: (I - gamma P_pi)^T d = (1 - gamma) mu."),
        Mistake("stationary distribution", _dv_stationary,
                "this is the long-run (stationary) distribution of the chain. The discounted visitation weights "
                "time step t by (1 - gamma) gamma^t, so the start distribution mu still matters."),
        Mistake("start only", lambda P, pi, mu, gamma: mu.clone(),
                "you returned the start distribution mu, the t = 0 term only; add the later steps with weights "
                "gamma^t."),
    ],
    hints=[
        "How do you write Pr(s_t = .) with the start distribution mu and the policy's transition matrix P_pi? And "
        "what does a geometric series of matrices sum to?",
        "The row vector of Pr(s_t = .) is mu^T P_pi^t. Weighted by gamma^t and summed over t, the matrix series "
        "gives (I - gamma P_pi)^(-1). Rather than inverting, transpose the relation to get a linear system for "
        "the column vector d.",
        "d^T (I - gamma P_pi) = (1 - gamma) mu^T, that is, solve (I - gamma P_pi)^T d = (1 - gamma) mu; the "
        "result sums to 1, a quick self-check.",
    ],
    success="d_pi tells where the policy spends its (discounted) time. The surrogate L weights the advantages "
            "by d_pi of the OLD policy, which is what makes it computable from old samples.",
))


# ---------------------------------------------------------------- kl_categorical
def _kl_naive(logits_p, logits_q):
    p, q = logits_p.exp() / logits_p.exp().sum(-1, keepdim=True), logits_q.exp() / logits_q.exp().sum(-1, keepdim=True)
    return (p * (p / q).log()).sum(-1)


def _kl_cases():
    g = gen(606)
    half = torch.tensor([[0.5, 0.5]]).log()
    return [
        Case("p = [0.5, 0.5], q = [0.25, 0.75] (worked by hand)",
             fixed(logits_p=half, logits_q=torch.tensor([[0.25, 0.75]]).log()),
             why="0.5 log(0.5 / 0.25) + 0.5 log(0.5 / 0.75) = 0.5 (log 2 + log 2/3) = 0.1438"),
        Case("identical distributions, shifted logits",
             fixed(logits_p=torch.tensor([[1.0, 2.0, 3.0]]), logits_q=torch.tensor([[11.0, 12.0, 13.0]])),
             why="adding a constant to the logits does not change the distribution: KL = 0"),
        Case("a batch of 64 states, 5 actions",
             fixed(logits_p=torch.randn(64, 5, generator=g) * 2, logits_q=torch.randn(64, 5, generator=g) * 2)),
        Case("large logits (numerical stability)",
             fixed(logits_p=torch.tensor([[500.0, 0.0, -500.0], [90.0, 100.0, 80.0]]),
                   logits_q=torch.tensor([[499.0, 1.0, -300.0], [100.0, 90.0, 80.0]])),
             why="exp(500) overflows float32: work with log_softmax, never with softmax then log"),
    ]


EXERCISES.append(Exercise(
    id="kl_categorical",
    kind="debug",
    bug="reversed",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="the KL divergence between two softmax policies, state by state",
    signature="kl_categorical(logits_p (N, A), logits_q (N, A)) -> (N,)",
    answer=answers.kl_categorical,
    cases=_kl_cases,
    grad_wrt=("logits_p", "logits_q"),
    mistakes=[
        Mistake("reversed", lambda logits_p, logits_q: answers.kl_categorical(logits_q, logits_p),
                "this is KL(q || p). The KL is not symmetric: KL(p || q) averages log(p / q) under p."),
        Mistake("logits as log-probabilities", lambda logits_p, logits_q: (torch.softmax(logits_p, -1)
                                                                           * (logits_p - logits_q)).sum(-1),
                "logits are log-probabilities only up to a constant per row: normalise them with log_softmax before "
                "taking log p - log q."),
        Mistake("uniform average", lambda logits_p, logits_q: (torch.log_softmax(logits_p, -1)
                                                               - torch.log_softmax(logits_q, -1)).mean(-1),
                "you averaged log p - log q uniformly over the actions; the KL weights each action by its "
                "probability under p."),
        Mistake("softmax then log", _kl_naive,
                "softmax followed by log overflows for large logits (exp(100) is inf in float32) and returns NaN. "
                "torch.log_softmax computes log p stably."),
        Mistake("summed over states", lambda logits_p, logits_q: answers.kl_categorical(logits_p, logits_q).sum(),
                "you summed over the states: return one KL per state, shape (N,); the trainer averages them."),
    ],
    hints=[
        "KL(p || q) = sum_a p_a (log p_a - log q_a). How do you get log p and log q from logits without ever "
        "computing an exponential that overflows?",
        "Normalise each row of logits in log space (a log-softmax: the same stable form as workbook 01's "
        "categorical_log_prob). p is then the exponential of log p, which cannot overflow. Sum over the action "
        "axis only.",
        "KL_i = sum_a exp(lp_ia) (lp_ia - lq_ia), where lp and lq are the row-wise log-softmax of logits_p and "
        "logits_q.",
    ],
    success="KL(pi_old || pi_new) averaged over visited states is the 'distance' TRPO keeps below delta; its "
            "Hessian at pi_new = pi_old is the Fisher matrix of the natural gradient.",
))


# ---------------------------------------------------------------- softmax_fisher (derive)
def _fisher_cases():
    g = gen(6060)
    return [
        Case("two actions, uniform (worked by hand)", fixed(logits=torch.zeros(2, dtype=torch.float64)),
             why="p = (1/2, 1/2): diag(p) - p p^T = [[1/4, -1/4], [-1/4, 1/4]]"),
        Case("three actions", fixed(logits=torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64))),
        Case("a batch of 4 states, 5 actions: (4, 5) -> (4, 5, 5)",
             fixed(logits=torch.randn(4, 5, generator=g, dtype=torch.float64))),
        Case("float32 logits keep their dtype", fixed(logits=torch.randn(3, generator=g))),
    ]


EXERCISES.append(Exercise(
    id="softmax_fisher",
    chapter=CHAPTER,
    title="the Fisher matrix of a softmax policy",
    kind="derive",
    signature="softmax_fisher(logits (..., A)) -> (..., A, A)",
    answer=answers.softmax_fisher,
    cases=_fisher_cases,
    mistakes=[
        Mistake("diag(p) only", lambda logits: torch.diag_embed(torch.softmax(logits, -1)),
                "the diagonal is only part of it: the probabilities are tied by sum_a p_a = 1, which adds a rank-one "
                "term (differentiate softmax_a with respect to theta_b for b != a)."),
        Mistake("outer product only", lambda logits: torch.softmax(logits, -1).unsqueeze(-1) * torch.softmax(logits, -1).unsqueeze(-2),
                "p p^T alone is the rank-one part; the Hessian of -log softmax_a(theta) also has a diagonal term."),
        Mistake("sign", lambda logits: -answers.softmax_fisher(logits),
                "the sign is flipped: the KL has its minimum at theta = logits, so its Hessian there is positive "
                "semi-definite (its diagonal is positive)."),
    ],
    hints=[
        "KL(p || softmax(theta)) = sum_a p_a log p_a - sum_a p_a log softmax_a(theta). Which part depends on theta?",
        "The gradient of -log softmax_a(theta) is softmax(theta) - onehot(a); its Jacobian in theta is the same "
        "for every a. Average over a ~ p, then set theta = logits.",
        "Jacobian of softmax: d softmax_a / d theta_b = softmax_a (1[a = b] - softmax_b). Write it as a "
        "diagonal matrix minus an outer product.",
    ],
    success="F = diag(p) - p p^T: positive semi-definite, with the all-ones direction (adding a constant to every "
            "logit) in its null space, since that move does not change the policy.",
))


# ---------------------------------------------------------------- trust_region_iteration (the bug lab)
from course_utils.answers import exact_mdp as _exact  # noqa: E402  (the lab's trainer lives with the exact MDPs)


def _tri_variant(policy_follows: bool = True, line_search: bool = True, reverse_kl: bool = False):
    """The lab's trainer with one thing changed: the policy left at the start (``policy_follows`` False),
    the first eta always taken, or the KL measured the other way round."""
    def trainer(P, R, mu, gamma, logits, delta, iterations):
        S = P.shape[0]
        eye = torch.eye(S, dtype=P.dtype)
        pi = torch.softmax(logits, -1)
        rows = []
        for _ in range(iterations):
            V = _exact.policy_evaluation(P, R, pi, gamma)
            A = _exact.q_values(P, R, V, gamma) - V[:, None]
            d = torch.linalg.solve((eye - gamma * _exact.transition_matrix(P, pi)).T, (1 - gamma) * mu)
            eta = 10.0
            for _ in range(40 if line_search else 1):
                new_logits = logits + eta * A
                pi_new = torch.softmax(new_logits, -1)
                log_ratio = torch.log_softmax(logits, -1) - torch.log_softmax(new_logits, -1)
                kl = (d * ((-pi_new * log_ratio) if reverse_kl else (pi * log_ratio)).sum(-1)).sum()
                if kl <= delta:
                    break
                eta /= 2
            predicted = (d * (pi_new * A).sum(-1)).sum() / (1 - gamma)
            J_after = mu @ _exact.policy_evaluation(P, R, pi_new, gamma)
            rows.append(torch.stack([mu @ V, J_after, predicted, kl]))
            logits = new_logits
            if policy_follows:
                pi = pi_new
        return torch.stack(rows)
    return trainer


def _lab_start(n_states: int, n_actions: int, seed: int) -> torch.Tensor:
    return torch.randn(n_states, n_actions, generator=torch.Generator().manual_seed(seed), dtype=D)


def _tri_cases():
    chain = tabular.chain_mdp(8, 0.95, 0.1)
    rand = tabular.random_mdp(5, 3, 0.9, seed=7)
    return [
        Case("one step on the lab's corridor (8 states, gamma = 0.95, delta = 0.01)",
             fixed(P=chain.P, R=chain.R, mu=chain.mu, gamma=0.95, logits=_lab_start(8, 2, 0), delta=0.01,
                   iterations=1),
             shown="the lab's corridor, its seed-0 start, delta = 0.01, one step",
             why="one step from the start: J before, J after, the predicted gain and the step's KL (at most 0.01)"),
        Case("six steps on the corridor",
             fixed(P=chain.P, R=chain.R, mu=chain.mu, gamma=0.95, logits=_lab_start(8, 2, 1), delta=0.01,
                   iterations=6),
             shown="the lab's corridor, its seed-1 start, delta = 0.01, six steps"),
        Case("four steps on a random MDP (5 states, 3 actions, gamma = 0.9, delta = 0.05)",
             fixed(P=rand.P, R=rand.R, mu=rand.mu, gamma=0.9, logits=_lab_start(5, 3, 2), delta=0.05,
                   iterations=4),
             shown="a random 5-state, 3-action MDP, delta = 0.05, four steps"),
    ]


EXERCISES.append(Exercise(
    id="trust_region_iteration",
    kind="debug",
    bug="policy left at the start",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="the bug lab: a trust-region iteration that stops learning",
    signature="trust_region_iteration(P (S,A,S), R (S,A), mu (S,), gamma, logits (S,A), delta, iterations) "
              "-> (iterations, 4)",
    answer=answers.trust_region_iteration,
    cases=_tri_cases,
    mistakes=[
        Mistake("policy left at the start", _tri_variant(policy_follows=False),
                "from the second step on, the values, advantages and visitation are those of the starting policy: "
                "after each step the logits move on, but the policy the next step is computed from stays behind."),
        Mistake("no line search", _tri_variant(line_search=False),
                "every step takes eta = 10 whatever its KL: the trust region is never enforced (see the KL column)."),
        Mistake("KL reversed", _tri_variant(reverse_kl=True),
                "the KL is measured as KL(pi_new || pi), weighted by the new policy; the trust region of the "
                "contract is KL(pi || pi_new), weighted by the current policy, whose visitation d_pi also weights it."),
    ],
    hints=[
        "Compare consecutive rows of what your function returns: is each step's 'J before' the previous step's "
        "'J after'? Which quantities does a step compute from the current policy?",
        "Every quantity of a step (V, A, d and the KL) must belong to the policy the step starts from. After the "
        "step, what is that policy, and which variables describe it?",
        "At the end of each iteration both the logits and the policy must become the new ones.",
    ],
    success="Each step now starts from the policy the last one reached: the predicted gain tracks the actual one, "
            "every step's KL stays within delta, and J climbs to the optimum of the corridor.",
    atol=1e-8, rtol=1e-6,
))
