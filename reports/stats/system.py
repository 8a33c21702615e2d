"""System comparisons: paired tests over queries of two fixed artifacts.

A **system** is a fixed artifact -- one trained checkpoint, a leaderboard submission.  Its score
varies only with the queries the test set happens to hold, so a *system comparison* is a paired
test over queries: systems A and B scored on the same ``n`` queries give per-query scores
``a[i]``, ``b[i]`` and differences

    d_i = a_i - b_i,        i = 0 .. n-1,        T = mean(d) = (1/n) * sum_i d_i,

tested by :func:`paired_randomization_test`, :func:`paired_bootstrap_ci` and :func:`compare_paired`.
They answer "would A beat B on other queries?"; they do not cover training (seed) noise, so a claim
about a *recipe* (a training procedure, whose every seed gives another system) needs the recipe
test of :mod:`reports.stats.recipe` instead.

* :func:`paired_randomization_test` -- sign-flip (paired permutation) test of ``H0: E[d] = 0``.
* :func:`paired_bootstrap_ci`       -- percentile bootstrap confidence interval of ``mean(d)``.
* :func:`compare_paired`            -- both of the above plus a Wilcoxon signed-rank test, as a
  :class:`PairedTest` record.
* :func:`mean_over_seeds`           -- per-query average of several seed runs of one system.

Determinism and memory
----------------------
All resampling is drawn from ``numpy.random.default_rng(seed)``, so equal inputs and equal
``seed`` give bit-identical results.  Resamples are processed in chunks of at most
``_CHUNK_ELEMENTS`` (resample x query) cells, so the extra memory is bounded (about 32 MB)
whatever ``n_resamples`` and ``n`` are -- 10,000 resamples x 100,000 queries never materialises
a 10,000 x 100,000 matrix.  (The chunk size is a fixed function of ``n``, so results do not
depend on anything but the inputs and ``seed``.)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .common import Difference, _as_scores, _check_level, _check_n_resamples, _check_seed

__all__ = ["PairedTest", "compare_paired", "mean_over_seeds", "paired_bootstrap_ci", "paired_randomization_test"]

#: Upper bound on the number of (resample x query) cells held in memory at once.
_CHUNK_ELEMENTS = 1 << 21

#: Relative tolerance (times ``mean(|d|)``) used when comparing resampled statistics with the
#: observed one, so that values that are equal in exact arithmetic but differ by floating-point
#: rounding (frequent with AP@10 scores such as 1/3, 1/7 ...) count as ties ("as extreme").
_TIE_RTOL = 1e-9

_ALTERNATIVES = ("two-sided", "greater", "less")


def _paired_differences(a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = _as_scores(a, "a")
    b = _as_scores(b, "b")
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must be paired per-query scores of the same length, got len(a)={a.size} "
            f"and len(b)={b.size}"
        )
    return a, b, a - b



def _chunk_rows(n: int) -> int:
    """Resamples per chunk for ``n`` queries so that a chunk holds <= ``_CHUNK_ELEMENTS`` cells."""
    return max(1, _CHUNK_ELEMENTS // n)



# ----------------------------------------------------------------------------------------------------------
# randomization (sign-flip) test


def _flipped_sums(d: np.ndarray, n_resamples: int, rng: np.random.Generator):
    """Yield chunks of ``sum_{i: s_i = -1} d_i`` for random uniform sign vectors ``s``."""
    n = d.size
    rows = _chunk_rows(n)
    n_bytes = (n + 7) // 8
    done = 0
    while done < n_resamples:
        c = min(rows, n_resamples - done)
        # 8 independent fair coin flips per random byte; bit = 1 means "flip the sign".
        raw = rng.integers(0, 256, size=(c, n_bytes), dtype=np.uint8)
        bits = np.unpackbits(raw, axis=1, count=n)
        yield bits @ d  # (c, n) 0/1 x (n,) -> (c,)
        done += c


def _all_flipped_sums(d: np.ndarray):
    """Yield chunks of ``sum_{i: s_i = -1} d_i`` for all ``2**n`` sign vectors (exact mode)."""
    n = d.size
    total = 1 << n
    rows = _chunk_rows(n)
    shifts = np.arange(n, dtype=np.int64)
    for start in range(0, total, rows):
        codes = np.arange(start, min(start + rows, total), dtype=np.int64)
        bits = ((codes[:, None] >> shifts) & 1).astype(np.float64)
        yield bits @ d


def paired_randomization_test(a, b, *, n_resamples: int = 10_000, seed: int = 0, alternative: str = "two-sided") -> float:
    r"""Paired randomization (sign-flip) test of ``H0: a and b are exchangeable within each query``.

    Statistic: ``T = mean(d)`` with ``d = a - b``.  Under H0 the sign of every ``d_i`` is
    exchangeable, so the null distribution is that of

        T* = (1/n) * sum_i s_i d_i,        s_i in {-1, +1} independent and uniform.

    Monte Carlo mode (``2**n > n_resamples``): draw ``R = n_resamples`` sign vectors and report

        two-sided:  p = (1 + #{r : |T*_r| >= |T|}) / (1 + R)
        greater:    p = (1 + #{r :  T*_r  >=  T }) / (1 + R)     (H1: mean(a) > mean(b))
        less:       p = (1 + #{r :  T*_r  <=  T }) / (1 + R)     (H1: mean(a) < mean(b))

    The ``+1`` counts the observed sign vector (all ``+1``) as one of the resamples; it makes
    ``p`` a valid p-value, ``P_H0(p <= alpha) <= alpha`` for every ``alpha``, and never 0.

    Exact mode (``2**n <= n_resamples``): all ``2**n`` sign vectors are enumerated (the identity
    among them) and ``p = #{s : |T*_s| >= |T|} / 2**n`` (resp. ``>=`` / ``<=`` one-sided).
    This equals ``scipy.stats.permutation_test(..., permutation_type="samples")`` in its exact
    mode (scipy's two-sided ``2 * min(p_less, p_greater)`` coincides here because the sign-flip
    null distribution is symmetric).

    Comparisons use a tolerance of ``1e-9 * mean(|d|)`` so that resampled statistics equal to
    ``T`` in exact arithmetic count as "as extreme" despite rounding.  If all differences are 0
    the test is degenerate and ``p = 1.0``.

    Parameters
    ----------
    a, b : array-like, shape (n,)
        Paired per-query scores (same query order).
    n_resamples : int
        Number of random sign vectors ``R`` (also the threshold for exact enumeration).
    seed : int
        Seed for ``numpy.random.default_rng``; results are deterministic given it.
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    float
        The p-value.
    """
    _, _, d = _paired_differences(a, b)
    n_resamples = _check_n_resamples(n_resamples)
    seed = _check_seed(seed)
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    if not np.any(d):
        return 1.0

    n = d.size
    total = float(np.sum(d))  # n * T; compare sums rather than means (same ordering, no division)
    tol = _TIE_RTOL * float(np.sum(np.abs(d)))
    exact = n <= n_resamples.bit_length() - 1  # 2**n <= n_resamples
    chunks = _all_flipped_sums(d) if exact else _flipped_sums(d, n_resamples, np.random.default_rng(seed))

    count = 0
    for flipped in chunks:
        t_star = total - 2.0 * flipped  # sum_i s_i d_i
        if alternative == "two-sided":
            count += int(np.count_nonzero(np.abs(t_star) >= abs(total) - tol))
        elif alternative == "greater":
            count += int(np.count_nonzero(t_star >= total - tol))
        else:
            count += int(np.count_nonzero(t_star <= total + tol))
    if exact:
        return min(1.0, count / float(1 << n))
    return min(1.0, (1 + count) / (1 + n_resamples))


# ----------------------------------------------------------------------------------------------------------
# bootstrap CI


def _bootstrap_means(d: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    n = d.size
    rows = _chunk_rows(n)
    out = np.empty(n_resamples, dtype=np.float64)
    done = 0
    while done < n_resamples:
        c = min(rows, n_resamples - done)
        idx = rng.integers(0, n, size=(c, n))
        out[done : done + c] = np.take(d, idx).sum(axis=1) / n
        done += c
    return out


def paired_bootstrap_ci(a, b, *, n_resamples: int = 10_000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    r"""Percentile paired-bootstrap confidence interval of ``mean(d)``, ``d = a - b``.

    Queries are resampled with replacement (the pairs ``(a_i, b_i)`` stay together):
    for ``r = 1 .. R``, draw indices ``i_1 .. i_n`` uniformly from ``{0 .. n-1}`` and set

        T*_r = (1/n) * sum_k d_{i_k}.

    The interval is ``(Q(alpha/2), Q(1 - alpha/2))`` with ``alpha = 1 - level`` and ``Q`` the
    empirical quantile of ``T*_1 .. T*_R`` (``numpy.quantile``, linear interpolation).

    Parameters
    ----------
    a, b : array-like, shape (n,)
        Paired per-query scores.
    n_resamples : int
        Number of bootstrap resamples ``R``.
    level : float
        Confidence level in (0, 1).
    seed : int
        Seed for ``numpy.random.default_rng``; results are deterministic given it.

    Returns
    -------
    (low, high) : tuple of float
    """
    _, _, d = _paired_differences(a, b)
    n_resamples = _check_n_resamples(n_resamples)
    level = _check_level(level)
    seed = _check_seed(seed)
    means = _bootstrap_means(d, n_resamples, np.random.default_rng(seed))
    alpha = 1.0 - level
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


# ----------------------------------------------------------------------------------------------------------
# combined record


@dataclass(frozen=True)
class PairedTest(Difference):
    """Result of :func:`compare_paired` for systems A (``a``) and B (``b``).

    Attributes
    ----------
    mean_a, mean_b : mean per-query score of each system.
    diff : ``mean(a - b)``.
    ci_low, ci_high, ci_level : percentile paired-bootstrap CI of ``diff`` (:func:`paired_bootstrap_ci`).
    p_randomization : two-sided sign-flip test p-value (:func:`paired_randomization_test`).
    p_wilcoxon : two-sided ``scipy.stats.wilcoxon(a - b)`` p-value; ``None`` when all differences are 0.
    n : number of queries.  n_resamples, seed : resampling settings used.
    """

    p_randomization: float
    p_wilcoxon: float | None
    n: int
    n_resamples: int
    seed: int



def _wilcoxon_p(d: np.ndarray) -> float | None:
    if not np.any(d):
        return None
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample / ties notices from scipy
        try:
            p = stats.wilcoxon(d).pvalue
        except ValueError:
            return None
    p = float(p)
    return None if math.isnan(p) else p


def compare_paired(a, b, *, n_resamples: int = 10_000, seed: int = 0, level: float = 0.95) -> PairedTest:
    """Compare two systems on paired per-query scores.

    Returns a :class:`PairedTest` with

    * ``mean_a = mean(a)``, ``mean_b = mean(b)``, ``diff = mean(a - b)``;
    * ``(ci_low, ci_high) = paired_bootstrap_ci(a, b, n_resamples=n_resamples, level=level, seed=seed)``;
    * ``p_randomization = paired_randomization_test(a, b, n_resamples=n_resamples, seed=seed)``
      (two-sided);
    * ``p_wilcoxon = scipy.stats.wilcoxon(a - b).pvalue`` (scipy defaults: two-sided,
      ``zero_method="wilcox"`` i.e. zero differences dropped, ``method="auto"``), or ``None``
      when every difference is 0 (or scipy cannot compute it).

    The two resampling procedures each use ``default_rng(seed)``, so the fields equal what the
    standalone functions return for the same arguments.
    """
    a, b, d = _paired_differences(a, b)
    n_resamples = _check_n_resamples(n_resamples)
    level = _check_level(level)
    seed = _check_seed(seed)
    low, high = paired_bootstrap_ci(a, b, n_resamples=n_resamples, level=level, seed=seed)
    p_rand = paired_randomization_test(a, b, n_resamples=n_resamples, seed=seed)
    return PairedTest(
        mean_a=float(np.mean(a)),
        mean_b=float(np.mean(b)),
        diff=float(np.mean(d)),
        ci_low=low,
        ci_high=high,
        ci_level=level,
        p_randomization=float(p_rand),
        p_wilcoxon=_wilcoxon_p(d),
        n=int(d.size),
        n_resamples=n_resamples,
        seed=seed,
    )


# ----------------------------------------------------------------------------------------------------------
# several seed runs of one system


def mean_over_seeds(per_seed: Sequence[np.ndarray]) -> np.ndarray:
    """Per-query mean over seed runs: ``out[i] = (1/S) * sum_s per_seed[s][i]``.

    Every run must be a 1-D, finite, non-empty array over the same queries in the same order
    (so all of the same length); otherwise ``ValueError`` names the offending run.
    """
    if isinstance(per_seed, np.ndarray) and per_seed.ndim == 2:
        per_seed = list(per_seed)
    runs = list(per_seed)
    if not runs:
        raise ValueError("per_seed is empty: need at least one seed run")
    arrays = [_as_scores(run, f"per_seed[{s}]") for s, run in enumerate(runs)]
    n = arrays[0].size
    for s, arr in enumerate(arrays):
        if arr.size != n:
            raise ValueError(
                f"per_seed[{s}] has {arr.size} query scores but per_seed[0] has {n}: every seed run "
                "must score the same queries in the same order"
            )
    return np.mean(np.stack(arrays), axis=0)
