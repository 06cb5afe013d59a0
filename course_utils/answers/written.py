"""Written derivations: the model answer a learner reads after writing their own, and its rubric.

A written exercise is worked on paper (or in a markdown cell) and cannot be graded by running code.
After writing, the learner commits (``self_assess(id)`` in the workbook), reads the model answer and
scores their own against a short rubric; the progress file records the score as *self-assessed*
(:func:`course_utils.workbook.self_assess`). The model answers are the solved workbook's, word for word
(a test keeps them equal).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WrittenAnswer:
    """One written derivation.

    id:      the name the workbook's ``self_assess("id")`` uses.
    chapter: the chapter's title, as the catalogue writes it ("06 Trust regions and the natural gradient").
    title:   a few words.
    model:   the model answer, markdown with $math$ (the solved workbook's answer).
    rubric:  what a complete answer does, one short line per point; the learner ticks those theirs does.
    """

    id: str
    chapter: str
    title: str
    model: str
    rubric: tuple[str, ...]


_TRUST_REGIONS = "06 Trust regions and the natural gradient"

WRITTEN: dict[str, WrittenAnswer] = {w.id: w for w in [
    WrittenAnswer(
        id="expansion_steps",
        chapter=_TRUST_REGIONS,
        title="written exercise A: the steps of the expansion",
        model=r"""*First equality.* By the performance-difference identity,
$J(\pi_\theta) - J(\pi) = \mathbb{E}_{\tau\sim\pi_\theta}\big[\sum_t\gamma^tA^\pi(s_t,a_t)\big]$. The sum has
non-negative weights and bounded terms ($|A^\pi|\le 2\max|R|/(1-\gamma)$, $\sum_t\gamma^t<\infty$), so expectation and
sum can be swapped: $\sum_t\gamma^t\,\mathbb{E}_{\tau\sim\pi_\theta}[A^\pi(s_t,a_t)]$. The pair $(s_t,a_t)$ under
$\pi_\theta$ has probability $\Pr(s_t=s\mid\pi_\theta)\,\pi_\theta(a|s)$: the action is drawn from the policy given
the current state only. That is the first line.

*Middle steps.* The sums over $t$, $s$ and $a$ are finite or absolutely convergent, so reorder them to put $t$ inside:
$$\sum_s\sum_a A^\pi(s,a)\,\pi_\theta(a|s)\Big(\sum_t\gamma^t\Pr(s_t=s\mid\pi_\theta)\Big),$$
since $\pi_\theta(a|s)A^\pi(s,a)$ does not depend on $t$. The bracket is $\bar d_{\pi_\theta}(s)$ by definition, which gives
the last line. In matrix form, $\bar d_{\pi_\theta}^\top = \rho_0^\top\sum_t\gamma^tP_{\pi_\theta}^t = \rho_0^\top(I-\gamma P_{\pi_\theta})^{-1}$.""",
        rubric=("starts from the performance-difference identity: an expectation over the NEW policy's "
                "trajectories of the OLD policy's discounted advantages",
                "says why the expectation and the infinite sum over t may be swapped (bounded advantages, "
                "geometric weights)",
                "writes the probability of (s_t, a_t) under the new policy as Pr(s_t = s) times pi_theta(a|s)",
                "moves the sum over t inside and names it the unnormalised visitation bar d"),
    ),
    WrittenAnswer(
        id="surrogate_first_order",
        chapter=_TRUST_REGIONS,
        title="written exercise B: L matches J to first order",
        model=r"""*Values.* At $\theta_0$ the inner sum is $\sum_a\pi(a|s)A^\pi(s,a) = \sum_a\pi(a|s)Q^\pi(s,a) - V^\pi(s) = 0$ in every
state, so $L_\pi(\pi) = J(\pi)$.

*Gradients.* Subtract the two expansions (exercise A for $J$, the definition for $L$):
$$J(\pi_\theta) - L_\pi(\pi_\theta) = \sum_s\big(\bar d_{\pi_\theta}(s) - \bar d_\pi(s)\big)\,f_\theta(s),\qquad
f_\theta(s) = \sum_a A^\pi(s,a)\,\pi_\theta(a|s).$$
Both factors vanish at $\theta_0$: $\bar d_{\pi_{\theta_0}} = \bar d_\pi$, and $f_{\theta_0}(s) = 0$ as just shown. Both
are differentiable in $\theta$ ($\bar d_{\pi_\theta}^\top = \rho_0^\top(I-\gamma P_{\pi_\theta})^{-1}$ and $P_{\pi_\theta}$ is smooth
in $\theta$). By the product rule, the gradient of each term at $\theta_0$ is
$\nabla(\bar d_{\pi_\theta}-\bar d_\pi)\cdot f_{\theta_0} + (\bar d_{\pi_{\theta_0}}-\bar d_\pi)\cdot\nabla f = 0 + 0$. So the
difference $J - L$ has value 0 and gradient 0 at $\theta_0$: it is $O(\|\theta-\theta_0\|^2)$, and the gradients of
$J$ and $L$ agree. In words: changing the policy changes which states are visited, but at $\theta_0$ those states
are weighted by an advantage that averages to zero, so the change of visitation has no first-order effect.""",
        rubric=("shows L(pi) = J(pi): under pi the advantages average to zero in every state",
                "writes J - L as a sum over states of (visitation difference) x (advantage averaged under pi_theta)",
                "notes that both factors vanish at theta_0 and are differentiable, so the product rule gives "
                "a zero gradient",
                "concludes that J - L is of second order in theta - theta_0, so the gradients agree"),
    ),
]}
