"""Chapter 02, REINFORCE: returns, sampling a stochastic policy, the policy-gradient surrogate, and one whole
REINFORCE iteration written by the learner (the loop item reinforce_step, graded by lock-step replay)."""
from __future__ import annotations

import torch

from course_utils import answers
from course_utils.checks._common import fixed, gen
from course_utils.grading.spec import Case, Exercise, Mistake, OutcomeError
from course_utils.rl.policies import CategoricalPolicy
from course_utils.rl.rollout import Episode

CHAPTER = "02 REINFORCE"
EXERCISES: list[Exercise] = []  # in course order; course_utils.catalogue collects them


# ---------------------------------------------------------------- discounted_return
def _dr_cases():
    g = gen(505)
    return [
        Case("three rewards, gamma = 0.5 (worked by hand)", fixed(rewards=torch.tensor([1.0, 1.0, 1.0]), gamma=0.5),
             why="1 + 0.5 + 0.25 = 1.75"),
        Case("reward only at the last step", fixed(rewards=torch.tensor([0.0, 0.0, 0.0, 10.0]), gamma=0.9),
             why="10 * 0.9^3 = 7.29: a late reward is worth less"),
        Case("gamma = 1 is the plain sum", fixed(rewards=torch.randn(6, generator=g), gamma=1.0)),
        Case("a long episode, gamma = 0.99", fixed(rewards=torch.rand(200, generator=g), gamma=0.99)),
        Case("one step", fixed(rewards=torch.tensor([2.5]), gamma=0.3)),
    ]


EXERCISES.append(Exercise(
    id="discounted_return",
    kind="debug",
    bug="exponent off by one",  # the handed-out code makes this mistake
    chapter=CHAPTER,
    title="the discounted return of an episode",
    signature="discounted_return(rewards (T,), gamma float) -> () tensor",
    answer=answers.discounted_return,
    cases=_dr_cases,
    mistakes=[
        Mistake("exponent off by one", lambda rewards, gamma: (gamma ** torch.arange(1, len(rewards) + 1) * rewards).sum(),
                "the first reward is discounted too: the exponent of gamma must start at 0 (r_0 counts in full)."),
        Mistake("reversed discount", lambda rewards, gamma: (gamma ** torch.arange(len(rewards) - 1, -1, -1)
                                                              * rewards).sum(),
                "the discounts run backwards: it is the LATE rewards that are discounted most, gamma^t for r_t."),
        Mistake("no discount", lambda rewards, gamma: rewards.sum(),
                "gamma is ignored: each reward r_t must be multiplied by gamma^t."),
        Mistake("mean", lambda rewards, gamma: (gamma ** torch.arange(len(rewards)) * rewards).mean(),
                "you averaged the discounted rewards; the return is their sum."),
    ],
    hints=[
        "How much is a reward that arrives at step t worth, compared with the same reward arriving now?",
        "Reward r_t is multiplied by gamma to the power t, so the first reward counts in full. Build all T "
        "discount factors at once rather than in a Python loop, then combine them with the rewards.",
        "R = sum_{t=0}^{T-1} gamma^t r_t: the powers gamma^0, ..., gamma^{T-1} (in the rewards' dtype), "
        "multiplied elementwise by the rewards, then summed.",
    ],
    success="With gamma = 0.99, a full CartPole episode of 500 steps is worth about 99.3, not 500: the discount "
            "is a horizon of roughly 1 / (1 - gamma) = 100 steps.",
))


# ---------------------------------------------------------------- sample_actions


def _sa_cases():
    g = gen(606)
    logits = torch.tensor([[0.25, 0.25, 0.5]]).log() + 3.0  # softmax ignores the shift
    return [
        Case("probabilities [0.25, 0.25, 0.5] at four values of u (worked by hand)",
             fixed(logits=logits.expand(4, 3), u=torch.tensor([0.1, 0.3, 0.6, 0.99])),
             why="the cumulative probabilities are [0.25, 0.5, 1.0], so u = 0.1, 0.3, 0.6, 0.99 pick actions 0, 1, 2, 2"),
        Case("u exactly on a boundary", fixed(logits=logits.expand(2, 3), u=torch.tensor([0.25, 0.5])),
             why="u = 0.25 lies in [0.25, 0.5), the interval of action 1"),
        Case("a batch of 50 states, 6 actions",
             fixed(logits=torch.randn(50, 6, generator=g) * 2, u=torch.rand(50, generator=g))),
        Case("one state, one dominant action",
             fixed(logits=torch.tensor([[-5.0, 8.0, -5.0, 0.0]]), u=torch.tensor([0.5]))),
        Case("u just below 1 where rounding leaves the last cumulative probability below u",
             fixed(logits=torch.randn(32, 1000, generator=gen(2606)),
                   u=torch.full((32,), 1.0).nextafter(torch.tensor(0.0))),
             shown="32 states with 1,000 actions each (random logits), u = 0.99999994 (the largest float32 below 1)",
             why="in float32 the cumulative probabilities of some rows end just below u, so no interval contains "
                 "it; the answer is then the last action, 999, never 1000"),
    ]


EXERCISES.append(Exercise(
    id="sample_actions",
    chapter=CHAPTER,
    title="sampling a softmax policy with uniform numbers",
    signature="sample_actions(logits (N, A), u (N,) uniform in [0, 1)) -> (N,) int64",
    answer=answers.sample_actions,
    cases=_sa_cases,
    mistakes=[
        Mistake("greedy", lambda logits, u: logits.argmax(-1),
                "you picked the most likely action and ignored u. A stochastic policy must explore: every action with "
                "positive probability gets chosen sometimes, which is what the policy gradient learns from."),
        Mistake("cumsum of logits", lambda logits, u: (torch.cumsum(logits, -1) <= u[:, None]).sum(-1).clamp(
            max=logits.shape[-1] - 1),
                "the cumulative sum runs over the logits; turn them into probabilities with softmax first."),
        Mistake("strict inequality", lambda logits, u: (torch.cumsum(torch.softmax(logits, -1), -1) < u[:, None]).sum(
            -1).clamp(max=logits.shape[-1] - 1),
                "at a boundary u = cdf_a you chose action a; the interval of action a is [cdf_(a-1), cdf_a), closed "
                "on the left, so count the cumulative probabilities that are <= u."),
        Mistake("no cap at A - 1", lambda logits, u: (torch.cumsum(torch.softmax(logits, -1), -1)
                                                      <= u[:, None]).sum(-1),
                "you returned action A, which does not exist: in float32 the last cumulative probability can end "
                "just below 1, and below u, so every entry of the row counted. The last action's interval reaches "
                "1: cap the count at A - 1 (clamp(max=A - 1))."),
    ],
    hints=[
        "Lay the probabilities end to end on [0, 1): action a owns an interval of length pi(a|s). Which interval "
        "does u fall into?",
        "The right end of action a's interval is the cumulative probability c_a = pi(0) + ... + pi(a), and a "
        "cumulative sum gives all of them at once. The interval that contains u is found by counting how many "
        "right ends lie at or below u.",
        "a_i = #{ b : c_{i,b} <= u_i }, counted along the action axis with u_i compared with every entry of row "
        "i; then cap it at A - 1, in case rounding left the last c_{i,b} just below u_i.",
    ],
    success="This is how torch.distributions.Categorical.sample works underneath: one uniform number per state, "
            "one comparison with the cumulative probabilities.",
))


# ---------------------------------------------------------------- pg_loss
def _pg_cases():
    g = gen(707)
    return [
        Case("two samples (worked by hand)", fixed(logp=torch.tensor([-0.7, -0.7]), weights=torch.tensor([1.0, 3.0])),
             why="-(-0.7 * 1 - 0.7 * 3) / 2 = 1.4; the gradient with respect to logp is -weights / 2"),
        Case("negative weights", fixed(logp=torch.tensor([-0.1, -2.0, -0.5]), weights=torch.tensor([-1.0, 2.0, -0.5]))),
        Case("a batch of 64 samples",
             fixed(logp=-torch.rand(64, generator=g) * 3, weights=torch.randn(64, generator=g) * 10)),
    ]


EXERCISES.append(Exercise(
    id="pg_loss",
    chapter=CHAPTER,
    title="the policy-gradient surrogate loss",
    signature="pg_loss(logp (M,), weights (M,)) -> () tensor",
    answer=answers.pg_loss,
    cases=_pg_cases,
    grad_wrt=("logp", "weights"),
    mistakes=[
        Mistake("forgotten detach", lambda logp, weights: -(logp * weights).mean(),
                "gradient flows into the weights. They are returns or advantages, constants of the estimator: "
                "use weights.detach(), or a value baseline would be trained by the policy loss."),
        Mistake("wrong sign", lambda logp, weights: (logp * weights.detach()).mean(),
                "the sign is flipped. Optimisers MINIMISE a loss; to climb the expected return, minimise minus the "
                "return-weighted log-probability."),
        Mistake("sum", lambda logp, weights: -(logp * weights.detach()).sum(),
                "you summed over the samples; take the mean, so that the step size does not grow with the batch."),
        Mistake("probabilities", lambda logp, weights: -(logp.exp() * weights.detach()).mean(),
                "you weighted the probabilities, not the log-probabilities. The log-derivative trick needs "
                "grad log pi, which is what differentiating log pi gives."),
    ],
    hints=[
        "Which scalar has, as its gradient with respect to theta, minus the sample policy gradient (1/M) sum_i "
        "grad log pi(a_i|s_i) w_i?",
        "Differentiate the mean of logp_i w_i with respect to theta: with the weights held constant you get "
        "exactly the sample policy gradient. Flip the sign, because the optimiser minimises, and make sure no "
        "gradient can reach the weights.",
        "L = -(1/M) sum_i logp_i w_i, with w cut from the graph (detached), and a mean, not a sum, over the M "
        "samples.",
    ],
    success="Minimising this surrogate follows the policy gradient. Remember that its value says nothing about "
            "how well the policy performs; only its gradient matters.",
))


# ---------------------------------------------------------------- reinforce_step (loop)
# The learner writes one whole REINFORCE iteration. Cases hand in a small CategoricalPolicy built under
# a fixed seed, its optimiser, and whole episodes of made-up (but well-formed) steps, so that every
# correct loop leaves the same parameters behind; the record is the returned loss, then every
# parameter after the step.
def _rs_policy(seed: int, stale_grads: bool = False, n_actions: int = 2) -> CategoricalPolicy:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        policy = CategoricalPolicy(4, n_actions, hidden=(8,))
        with torch.no_grad():  # logits of order 1, not the near-uniform 0.01 of a fresh head
            policy.logits_net[-1].weight.mul_(100.0)
        if stale_grads:  # gradients left by earlier code (a previous batch's backward)
            policy.logits_net(torch.randn(5, 4)).pow(2).sum().backward()
    return policy


def _rs_episodes(lengths, rewards, seed: int, n_actions: int = 2, policy=None) -> list[Episode]:
    g = gen(seed)
    episodes = []
    for T, r in zip(lengths, rewards):
        obs = torch.randn(T, 4, generator=g)
        actions = torch.randint(0, n_actions, (T,), generator=g)
        with torch.no_grad():  # what the collector stores: log pi(a|s) under the policy that acted
            logp = policy.distribution(obs).log_prob(actions) if policy is not None else torch.zeros(T)
        episodes.append(Episode(obs=obs, actions=actions, logp=logp, rewards=torch.as_tensor(r, dtype=torch.float32),
                                final_obs=torch.randn(4, generator=g), terminated=True, truncated=False))
    return episodes


def _rs_case(lengths, rewards, gamma, seed, optimizer="sgd", stale_grads=False, n_actions=2):
    def make():
        policy = _rs_policy(seed, stale_grads, n_actions)
        opt = (torch.optim.SGD(policy.parameters(), lr=0.5) if optimizer == "sgd"
               else torch.optim.Adam(policy.parameters(), lr=1e-2))
        episodes = _rs_episodes(lengths, rewards, seed + 1, n_actions, policy)
        return {"policy": policy, "optimizer": opt, "episodes": episodes, "gamma": gamma}
    return make


def _rs_cases():
    g = gen(2202)
    return [
        Case("one episode of three steps (worked by hand)", _rs_case([3], [[1.0, 0.0, 2.0]], 0.5, 11),
             shown="one episode, rewards [1, 0, 2], gamma = 0.5; a policy of 4 inputs, 8 tanh units, 2 actions; "
                   "SGD with lr = 0.5",
             why="the reward-to-go is [1 + 0.5 * 0 + 0.25 * 2, 0 + 0.5 * 2, 2] = [1.5, 1, 2], and the loss is minus "
                 "the mean over the 3 steps of log pi(a_t|s_t) times it"),
        Case("three episodes of 5, 2 and 7 steps", _rs_case(
            [5, 2, 7], [[1.0, 0.0, 0.0, 2.0, 1.0], [3.0, -1.0], [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 5.0]], 0.9, 21),
             shown="episodes of 5, 2 and 7 steps with rewards [1, 0, 0, 2, 1], [3, -1], [0, 1, 1, 0, 0, 0, 5]; "
                   "gamma = 0.9; SGD with lr = 0.5",
             why="each episode's reward-to-go starts afresh at its own last step; the mean runs over all 14 steps"),
        Case("gradients left in .grad by earlier code", _rs_case(
            [4, 6], [[1.0, 1.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0, 1.0, 1.0]], 0.8, 31, stale_grads=True),
             shown="episodes of 4 and 6 steps, gamma = 0.8; the policy's .grad already holds gradients from an "
                   "earlier backward; SGD with lr = 0.5",
             why="the step must use this batch's gradient only, whatever .grad held before"),
        Case("CartPole-like: a reward of 1 per step, Adam (the trainer's optimiser)", _rs_case(
            [12, 30, 9], [[1.0] * 12, [1.0] * 30, [1.0] * 9], 0.99, 41, optimizer="adam", stale_grads=True),
             shown="episodes of 12, 30 and 9 steps, every reward 1, gamma = 0.99; .grad holds stale gradients; "
                   "Adam with lr = 0.01"),
        Case("three actions, random rewards of both signs, gamma = 1", _rs_case(
            [6, 3, 8, 1], [(torch.randn(n, generator=g) * 2).tolist() for n in (6, 3, 8, 1)], 1.0, 51, n_actions=3),
             shown="4 episodes of 6, 3, 8 and 1 steps, random rewards, gamma = 1, 3 actions; SGD with lr = 0.5"),
    ]


def _rs_record(args, returned):
    """The returned loss, then every policy parameter after the step."""
    if returned is None:
        raise OutcomeError("your loop returned None: return the batch's loss as a float (loss.item()).")
    try:  # a float, a 0-d tensor or a NumPy number
        loss = float(returned.detach() if isinstance(returned, torch.Tensor) else returned)
    except (TypeError, ValueError, RuntimeError):
        raise OutcomeError(f"return the batch's loss as a float (loss.item()), not {type(returned).__name__}.") from None
    record = {"returned loss": torch.tensor(loss, dtype=torch.float64)}
    for name, p in args["policy"].named_parameters():
        record[f"{name} after the step"] = p.detach()
    return record


def _rs_batch(episodes, gamma, weights_of_episode=None):
    obs = torch.cat([ep.obs for ep in episodes])
    actions = torch.cat([ep.actions for ep in episodes])
    weights_of_episode = weights_of_episode or (lambda ep: answers.reward_to_go(ep.rewards, gamma))
    weights = torch.cat([weights_of_episode(ep) for ep in episodes]).float()
    return obs, actions, weights


def _rs_step(policy, optimizer, obs, actions, weights, loss_of=None, order="zero_backward_step"):
    logp = policy.distribution(obs).log_prob(actions)
    loss = loss_of(logp, weights) if loss_of else answers.pg_loss(logp, weights)
    if order == "zero_backward_step":
        optimizer.zero_grad()
        loss.backward()
    elif order == "backward_zero_step":
        loss.backward()
        optimizer.zero_grad()
    else:  # "no_zero"
        loss.backward()
    optimizer.step()
    return loss.item()


def _rs_no_zero_grad(policy, optimizer, episodes, gamma):
    return _rs_step(policy, optimizer, *_rs_batch(episodes, gamma), order="no_zero")


def _rs_zero_after_backward(policy, optimizer, episodes, gamma):
    return _rs_step(policy, optimizer, *_rs_batch(episodes, gamma), order="backward_zero_step")


def _rs_not_reset(policy, optimizer, episodes, gamma):
    rewards = torch.cat([ep.rewards for ep in episodes])  # one running sum over the whole batch
    obs, actions, _ = _rs_batch(episodes, gamma)
    return _rs_step(policy, optimizer, obs, actions, answers.reward_to_go(rewards, gamma))


def _rs_whole_return(policy, optimizer, episodes, gamma):
    return _rs_step(policy, optimizer, *_rs_batch(
        episodes, gamma, lambda ep: answers.discounted_return(ep.rewards, gamma).reshape(1).expand(len(ep.rewards))))


def _rs_undiscounted(policy, optimizer, episodes, gamma):
    return _rs_step(policy, optimizer, *_rs_batch(episodes, gamma, lambda ep: answers.reward_to_go(ep.rewards, 1.0)))


def _rs_mean_over_episodes(policy, optimizer, episodes, gamma):
    return _rs_step(policy, optimizer, *_rs_batch(episodes, gamma),
                    loss_of=lambda logp, w: -(logp * w).sum() / len(episodes))


def _rs_wrong_sign(policy, optimizer, episodes, gamma):
    return _rs_step(policy, optimizer, *_rs_batch(episodes, gamma), loss_of=lambda logp, w: (logp * w).mean())


EXERCISES.append(Exercise(
    id="reinforce_step",
    kind="loop",
    chapter=CHAPTER,
    title="one REINFORCE iteration: from whole episodes to one policy step",
    signature="reinforce_step(policy, optimizer, episodes list of Episode, gamma float) -> float (the loss)",
    answer=answers.reinforce_step,
    cases=_rs_cases,
    updates=("policy", "optimizer"),
    outcome=_rs_record,
    record_axes={"logits_net.0.weight after the step": ("unit", "input"),
                 "logits_net.2.weight after the step": ("action", "unit"),
                 "logits_net.0.bias after the step": ("unit",), "logits_net.2.bias after the step": ("action",)},
    mistakes=[
        Mistake("zero_grad forgotten", _rs_no_zero_grad,
                "your loss is right but your step is not: the gradients that .grad already held were added to this "
                "batch's. backward() ADDS into .grad; have the optimiser clear it (its zero_grad) before every backward."),
        Mistake("zero_grad between backward and step", _rs_zero_after_backward,
                "the parameters did not move: the gradient was cleared after backward() and before step(), so the "
                "optimiser stepped with no gradient. Clear first, then backward, then step."),
        Mistake("return not reset at an episode boundary", _rs_not_reset,
                "the reward-to-go ran on across episode boundaries: a step of an early episode was credited with "
                "the rewards of the episodes played after it. Each episode's sum starts afresh at its own last "
                "step (the first case, a single episode, is right, which is the clue)."),
        Mistake("whole-episode return instead of reward-to-go", _rs_whole_return,
                "every step of an episode got the same weight, the whole episode's return R(tau). The contract asks "
                "for the reward-to-go: step t is weighted by the rewards from t onwards only, since an action cannot "
                "change the rewards that came before it."),
        Mistake("undiscounted reward-to-go", _rs_undiscounted,
                "gamma was not used: the reward-to-go of step t discounts the reward of step t' by gamma^(t' - t)."),
        Mistake("mean over episodes", _rs_mean_over_episodes,
                "the loss was divided by the number of episodes, not by the number of steps: the lesson's estimate "
                "averages over episodes, but the surrogate (pg_loss) is the mean over all M steps of the batch, "
                "which keeps the step size independent of how episodes are split."),
        Mistake("wrong sign", _rs_wrong_sign,
                "the loss has the wrong sign, so the step went DOWN the policy gradient: minimise minus the "
                "weighted log-probability."),
    ],
    hints=[
        "Which of the batch's rewards can an action at step t of an episode take credit for, and in what order "
        "must the three optimiser calls come so that the step uses this batch's gradient and nothing else?",
        "Compute each episode's reward-to-go on its own (a running sum from the episode's last step backwards, "
        "restarted for every episode), then put all episodes' steps end to end: one log-probability per step "
        "from the policy's distribution, with gradient. The surrogate is your pg_loss on those log-probabilities "
        "and weights; clear the old gradients before backpropagating it, and step once.",
        "hat R_t = r_t + gamma hat R_{t+1} with hat R_T = 0 in every episode; L = -(1/M) sum over all M steps of "
        "log pi(a_t|s_t) hat R_t; then zero_grad, backward, step, and return L as a float.",
    ],
    success="That is the whole of REINFORCE: everything else in the trainer is collecting episodes and logging. "
            "Chapter 03 keeps this loop and changes only the weights (a baseline subtracted).",
))
