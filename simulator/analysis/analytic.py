"""The closed-form cost model of speculative decoding (Leviathan et al. 2023, Eq. 1), and what follows from it.

Eq. 1: with acceptance rate alpha (i.i.d. per draft), draft length gamma, and c = t_draft / t_target (one
drafter pass over one target pass), the expected speedup of draft-then-verify over the target alone is

    S(alpha, gamma, c) = (1 - alpha^(gamma+1)) / ((1 - alpha) (gamma c + 1))

whose numerator is the expected tokens per round (accepted drafts plus the target's own token). Speculation
can only pay when c < alpha (gamma = 1, S > 1 iff alpha > c).
"""

from __future__ import annotations

from operator import itemgetter


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


def first_best(candidates, incumbent: tuple, speedup=itemgetter(-1)) -> tuple:
    """The candidate with the highest speedup, the incumbent unless one beats it by more than float noise (1e-12),
    the earliest on near-ties: speculating must beat not speculating, a longer draft a shorter one, by more than
    rounding."""
    best = incumbent
    for candidate in candidates:
        if speedup(candidate) > speedup(best) + 1e-12:
            best = candidate
    return best


def optimal_gamma(alpha: float, c: float, gamma_max: int = 8) -> tuple[int, float]:
    """The integer gamma in 0..gamma_max maximising Eq. 1, and its speedup (gamma 0: do not speculate)."""
    return first_best(((g, eq1(alpha, g, c)) for g in range(1, gamma_max + 1)), (0, 1.0))


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
