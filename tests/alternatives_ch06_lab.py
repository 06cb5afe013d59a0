"""A correct alternative of chapter 06's bug lab (``trust_region_iteration``), written differently from the answer."""
from __future__ import annotations

import torch


def trust_region_iteration_step_by_step(P, R, mu, gamma, logits, delta, iterations):
    """One step at a time through a helper, the policy carried as logits only; the step search as a while loop."""
    S, A = R.shape

    def evaluate(policy):
        chain = (policy[:, :, None] * P).sum(1)                                   # (S, S)
        system = torch.eye(S, dtype=P.dtype) - gamma * chain
        values = torch.linalg.solve(system, (policy * R).sum(1))
        visits = torch.linalg.solve(system.T, (1 - gamma) * mu)
        return values, visits

    rows = []
    current = logits.clone()
    for _ in range(iterations):
        policy = current.softmax(-1)
        values, visits = evaluate(policy)
        advantage = R + gamma * (P * values).sum(-1) - values.unsqueeze(1)
        eta, tries = 10.0, 0
        while True:
            candidate = current + eta * advantage
            log_old, log_new = current.log_softmax(-1), candidate.log_softmax(-1)
            kl = (visits * (log_old.exp() * (log_old - log_new)).sum(1)).sum()
            tries += 1
            if kl <= delta or tries == 40:
                break
            eta = eta * 0.5
        new_policy = candidate.softmax(-1)
        predicted = (visits * (new_policy * advantage).sum(1)).sum() / (1 - gamma)
        after, _ = evaluate(new_policy)
        rows.append(torch.stack([mu @ values, mu @ after, predicted, kl]))
        current = candidate
    return torch.stack(rows)


ALTERNATIVES = {"trust_region_iteration": [trust_region_iteration_step_by_step]}
