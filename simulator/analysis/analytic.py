"""The closed-form cost model of speculative decoding (Leviathan et al. 2023, Eq. 1) and its extensions.

Eq. 1: with acceptance rate alpha (i.i.d. per draft), draft length gamma, and c = t_draft / t_target (one
drafter pass over one target pass), the expected speedup of draft-then-verify over the target alone is

    S(alpha, gamma, c) = (1 - alpha^(gamma+1)) / ((1 - alpha) (gamma c + 1))

whose numerator is the expected tokens per round (accepted drafts plus the target's own token). Speculation
can only pay when c < alpha (gamma = 1, S > 1 iff alpha > c).

The extended form keeps the same expected tokens per round but costs a round, in units of one plain target
pass, as
    gamma c + v(gamma) + h - overlap saving
with v(gamma) = 1 + verify_growth x gamma (a verify pass computing gamma + 1 positions instead of one), h the
handoff cost per round, and, in overlap mode, the drafting hidden behind a verify when the round keeps its
pre-drafts (probability alpha^(gamma+1)): min(v, gamma c). Sequence growth of no-KV-cache passes (every
pass recomputes a sequence that lengthens as tokens are generated) enters through c and the pass costs being
taken at the mean sequence length rather than at the prompt length (see ExtendedTerms).
"""

from __future__ import annotations

from dataclasses import dataclass


def expected_tokens(alpha: float, gamma: int) -> float:
    """Expected tokens per round: 1 + alpha + ... + alpha^gamma."""
    if alpha >= 1.0:
        return gamma + 1.0
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def eq1(alpha: float, gamma: int, c: float) -> float:
    """Leviathan et al.'s Eq. 1; gamma 0 means not speculating (S = 1)."""
    if gamma == 0:
        return 1.0
    return expected_tokens(alpha, gamma) / (gamma * c + 1.0)


def optimal_gamma(alpha: float, c: float, gamma_max: int = 8) -> tuple[int, float]:
    """The integer gamma in 0..gamma_max maximising Eq. 1, and its speedup (gamma 0: do not speculate)."""
    best = (0, 1.0)
    for gamma in range(1, gamma_max + 1):
        s = eq1(alpha, gamma, c)
        if s > best[1] + 1e-12:
            best = (gamma, s)
    return best


def break_even_alpha(c: float, gamma: int = 1, tol: float = 1e-12) -> float:
    """The alpha at which Eq. 1 at this gamma equals 1 (speculation pays above it); 1.0 if it never pays.

    S rises with alpha, so bisection finds the crossing. At gamma = 1 it is exactly c.
    """
    if eq1(1.0, gamma, c) <= 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if eq1(mid, gamma, c) > 1.0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class ExtendedTerms:
    """Optional terms of the extended closed form, all in units of one plain target pass (0 = term off).

    verify_growth: extra cost of the verify per draft it checks (v(gamma) = 1 + verify_growth x gamma).
    handoff: cost per round of handing drafts and verdicts across PUs.
    overlap: the drafter drafts the next block during the verify (saving min(v, gamma c) when kept).
    c: the cost ratio to use; for no-KV-cache passes take it at the mean sequence length of the generation.
    """

    c: float
    verify_growth: float = 0.0
    handoff: float = 0.0
    overlap: bool = False


def extended(alpha: float, gamma: int, terms: ExtendedTerms) -> float:
    """Expected speedup with the optional terms; equals eq1(alpha, gamma, terms.c) with every term off."""
    if gamma == 0:
        return 1.0
    draft = gamma * terms.c
    verify = 1.0 + terms.verify_growth * gamma
    round_cost = draft + verify + terms.handoff
    if terms.overlap:
        round_cost -= alpha ** (gamma + 1) * min(verify, draft)
    return expected_tokens(alpha, gamma) / round_cost
