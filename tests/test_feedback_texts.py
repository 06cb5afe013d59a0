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
