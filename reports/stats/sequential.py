"""Sequential ablations: add seeds only to the rows of an ablation that are not yet decided.

A leave-one-out ablation compares each variant (row) with the baseline on paired seeds
(:mod:`reports.stats.paired`).  With a fixed number of seeds, a row with a large effect is decided after a few
seeds and a row with a tiny effect is never decided; a sequential design runs ``min_seeds`` seeds per row, then
after each round adds a seed only to the rows still undecided, up to ``max_seeds``.  A row stops when

* **effect**: its test crosses a group-sequential boundary (after Holm across the rows, below);
* **no effect larger than delta**: its repeated confidence interval at level ``1 - 2 alpha`` lies inside
  ``(-delta, +delta)``, ``delta`` the margin of practical relevance;
* or it reaches ``max_seeds`` (**undecided**).

Looking at the data after every seed and stopping when ``p < 0.05`` rejects a true null far more often than 5% of
the time (Armitage, McPherson & Rowe 1969): the paired t-test at 0.05 after each of 3, 4, ..., 10 seeds rejects
0.167 of normal null rows (100,000 simulated).  The design below keeps the error rates over
all the looks and all the rows.

:class:`SequentialDesign` (``.decide``, ``.rows_needing_more_seeds``, ``.decide_runs``) is the API for a runner;
:func:`simulate_sequential` runs many simulated ablations (false-positive rate, seeds used, power);
:func:`sequential_t_levels` gives the looks' nominal levels, :func:`group_sequential_boundaries` the z boundaries of
the same spending (:func:`obrien_fleming_spending`) for known variances.

The test of one row at one look
-------------------------------
Look ``k`` of a row sees its first ``n_k`` per-seed differences ``r_s = mAP_s(row) - mAP_s(baseline)`` (the paired
design of :mod:`reports.stats.paired`) and the query term ``Q / n`` of the paired test:

    Delta_k = mean(r_1..r_nk),    V_k = S_k^2 / n_k + Q / n,    T_k = Delta_k / sqrt(V_k),

the paired recipe test on the first ``n_k`` seeds, but with a guard on ``S_k^2``.  The paired test's
Welch-Satterthwaite df of ``(S_k^2 / n_k, Q / n)`` are large whenever ``S_k^2`` happens to be small next to ``Q / n``
-- exactly when ``V_k`` underestimates the variance --, and with 2 to 4 df that happens often enough to matter at the
extreme levels of the first looks (8.5e-5 at 3 seeds): 4 null rows with per-seed differences of sd 4.7 pp and a
query term of 0.63 pp (5% of ``V``) gave a familywise error of about 0.085.  Two remedies, both measured in the
tests:

* **one row**: ``n_k - 1`` df.  With ``Q`` known (it has ``n - 1 = 999`` df) the tails of ``T_k`` are heaviest when
  the query term is negligible, where ``T_k`` is exactly t on ``n_k - 1`` df; so ``n_k - 1`` df hold for every
  ratio of seed to query variance (checked in the simulations) -- exact without a query term, conservative with one
  (size 0.012 to 0.014 at the measured components), at a cost in power when the query term is a large part of
  ``V``.
* **several rows** (``pooled_floor``, the default): each row's ``S_k^2`` is floored at the rows' pooled
  ``F = sum_i (n_i - 1) S_i^2 / sum_i (n_i - 1)`` (the floor of :mod:`reports.stats.recipe`, here over the rows of
  one ablation at the current round, each with its current seeds), and a floored row takes ``F``'s df in the
  Welch-Satterthwaite df.  A row's variance can no longer be estimated near 0 by chance, which is what made the
  Welch df unsafe; familywise error 0.029 in the case above (approximate, as Welch-Satterthwaite is, and checked in
  the simulations), and about twice the power of ``n - 1`` df when the query term is half of ``V`` (0.38 against
  0.20 for a 2 pp effect).  A row noisier than the pool keeps its own ``S^2``.

Alpha spending (Lan & DeMets 1983, O'Brien-Fleming type)
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
For normal statistics ``Z_k`` with the canonical joint distribution of accumulating data (``Z_k = S_k / sqrt(t_k)``,
``S`` a Brownian motion at information times ``t_k``, so ``corr(Z_j, Z_k) = sqrt(t_j / t_k)``), a two-sided design of
level ``alpha`` rejects at the first look with ``|Z_k| >= c_k``.  The spending function

    alpha(t) = 4 - 4 Phi(z_{1 - alpha/4} / sqrt(t))           (O'Brien-Fleming type; alpha(1) = alpha)

-- each side spends ``alpha/2`` by the one-sided ``2 - 2 Phi(z_{1 - alpha/4} / sqrt(t))``, the convention of the
standard programs (ldbounds, gsDesign) -- fixes how much of ``alpha`` is spent up to information ``t``: ``c_k`` solves

    P_0(|Z_j| < c_j for j < k, |Z_k| >= c_k) = alpha(t_k) - alpha(t_{k-1}),

so the probability of ever rejecting a true null is ``alpha(t_K) <= alpha``, whatever the number and timing of the
looks -- they need not be planned, only the spending function.  The probabilities are computed by the recursive
numerical integration of Armitage, McPherson & Rowe (1969) (as in Jennison & Turnbull 2000): the sub-density
of ``S_{k-1}`` on the continuation region, convolved with the ``N(0, t_k - t_{k-1})`` increment, Simpson's rule on
a grid of at most ``sqrt(t_k - t_{k-1}) / 4`` spacing, and Brent's method for each ``c_k``.  With 5 equally spaced
looks at ``alpha = 0.05`` this gives 4.877, 3.357, 2.680, 2.290, 2.031 (tests/reports/test_sequential.py checks the
crossing probabilities with scipy's multivariate normal CDF, an independent method).  O'Brien-Fleming spends almost
nothing early (8.5e-5 of 0.05 at ``t = 0.3``), so the last look's boundary is close to the fixed design's 1.96 and
little power is lost when every row runs to ``max_seeds``.  These z boundaries hold for known variances; the
design below applies the same spending to the t statistics of the looks.

Information fractions ``t_k = n_k / n_max``: the seed part of ``V_k`` shrinks as ``1/n_k``.  The query term ``Q/n``
does not (every look uses the same test queries), so the true information ``1/V_k`` grows more slowly and the true
correlation of the looks, ``sqrt(V_k / V_j)``, is *larger* than ``sqrt(n_j / n_k)``: the looks overlap more than the
boundaries assume, and the design is conservative (the simulations in the tests include the query term).  When the
query term dominates ``V``, more seeds cannot decide a row; the simulations show it as undecided rows at ``max``.

Small numbers of seeds: exact group-sequential t boundaries
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``T_k`` has a t distribution with 2 to 9 df for 3 to 10 seeds, not a normal one, and the seed variance is estimated
afresh at every look.  The usual shortcut, the "significance level approach" (Jennison & Turnbull 2000: use the
nominal levels ``2 (1 - Phi(c_k))`` of the z boundaries as the levels of the looks' t-tests), keeps
each look's own probability right but not the joint one: the t statistics of two looks are less correlated than
the z statistics (their ``S^2`` differ), more of them cross, and the size is too large -- 0.057 for looks at 3, 4,
..., 10 seeds (40,000 simulated normal studies; 0.061 with runs resampled from the SynthCaps seed mAPs).  The
boundaries are therefore computed for the t statistics themselves (Jennison & Turnbull 1991 compute such exact
sequential t-tests): under the null with normal per-seed differences (no query term), ``R_n = sum_s r_s /
sqrt(sum_s r_s^2)`` carries the whole sequence -- ``T_n = R_n sqrt(n - 1) / sqrt(n - R_n^2)`` -- and is a Markov
chain,

    R_{n+1} = R_n cos(psi) + sin(psi),    psi = arctan(r_{n+1} / sqrt(sum_{s<=n} r_s^2)),
    density of psi proportional to cos^{n-1}(psi) on (-pi/2, pi/2), independent of R_1 .. R_n

(the direction of ``(r_1 .. r_n)`` is uniform on the sphere and independent of its length, and
``r_{n+1} / ||r_{1..n}|| ~ t_n / sqrt(n)``); ``R_{n_1} / sqrt(n_1)`` has density proportional to ``(1 - u^2)^{(n_1 -
3)/2}``.  The recursion carries the sub-density of ``R_n`` on the continuation region ``|R_n| < rho_n`` from look to
look (``f_{n+1}(s) = int g_n(psi) f_n((s - sin psi) / cos psi) / cos psi dpsi`` over the psi where the argument
stays inside, Gauss-Legendre in psi, a uniform grid in ``s``), and each ``rho_k`` solves "first crossing at look
``k`` = ``alpha(t_k) - alpha(t_{k-1})``" exactly as for z.  A look rejects when its t-test's two-sided p-value is
at most the look's **nominal level** ``p*_k = 2 P(T_{n_k - 1} >= T(rho_k))`` (:func:`sequential_t_levels`): 8.5e-5,
7.1e-4, 2.5e-3, 5.7e-3, 0.011, 0.017, 0.024, 0.033 for looks at 3 .. 10 seeds (0.05; the last look's level is close
to the fixed design's 0.05 because O'Brien-Fleming spends little early).  Simulated size with normal data: 0.049
(200,000 studies).  With a query term the looks are more correlated than the recursion assumes (the query term is
the same at every look) and the design is conservative.  Skewness: in an A/A comparison the two runs of a seed are
exchangeable, so their difference is symmetric whatever the skewness of the runs' scores, and the size stays at or
below 0.05 (tests: runs resampled from the SynthCaps seed mAPs, from a distribution with 5% collapsed seeds, from a
lognormal); per-seed differences that are themselves skewed with mean 0 (arms that are not exchangeable but have
equal means) inflate it, as they inflate any t-test on 3 to 10 values.

Holm across rows: repeated p-values
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A row's **repeated p-value** at look ``k`` (Jennison & Turnbull 1989) is the smallest level ``u`` at which the
level-``u`` design (same spending shape, same looks) rejects at look ``k``: ``p_k^rep = inf{u : p_k <= p*_k(u)}``,
``p_k`` the look's t-test p-value.  Then ``{p_k^rep <= u for some k} = {the level-u design rejects}``, whose
probability under the null is at most ``u``: the running minimum ``P = min_k p_k^rep`` is a valid p-value at
*any* stopping time -- after a stop for an effect, for "no effect larger than delta", at ``max``, or when the runner
stops for reasons of its own.  Holm's
step-down procedure needs nothing else than valid p-values, so Holm on the rows' ``P`` controls the familywise
error rate over all the rows and all the looks; and as every ``P`` only decreases over the rounds, so do the
Holm-adjusted values, and a row called an effect stays one.  A row is an **effect** when its Holm-adjusted ``P`` is
at most ``alpha``; with one row that is exactly "a look's p-value was at most its nominal level".

Why not the stage-wise ordered p-value (Fairbanks & Madsen 1982; Jennison & Turnbull 2000): it is
smaller at the final look, but it is defined by the design's own stopping rule, which here also stops rows for
"no effect larger than delta" and depends on the other rows through Holm; the repeated p-value needs no such
convention.  The nominal levels ``p*_k(u)`` are precomputed on a grid of ``u`` (``1e-6`` to ``0.999``,
log-spaced) and ``u`` is interpolated (monotone cubic in ``log u`` against ``log p*_k(u)``; within 0.5% of the exact
inversion, tests/reports/test_sequential.py); below the grid ``P`` is reported as ``1e-6``.

No effect larger than delta: repeated confidence intervals
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
The repeated CI at look ``k`` and level ``1 - a`` is ``Delta_k -+ t_{df_k}^* sqrt(V_k)`` with ``t^*`` the t quantile
at the look's nominal level ``p*_k(a)``; together the RCIs of all looks cover the true difference with probability
``>= 1 - a`` (they invert the level-``a`` design).  "No effect larger than delta" is the equivalence claim of two
one-sided tests at level ``alpha`` each: the RCI at ``1 - 2 alpha`` inside ``(-delta, +delta)``.  If the true
difference is ``delta`` or more, the claim is made at some look only if that look's RCI misses it on one side,
probability ``<= alpha`` over all the looks.  These claims are per row (not Holm-adjusted).  A row can be both an
effect and inside ``+-delta`` (a real but small difference): it is then an effect with ``within_delta``.  The
displayed CI is the RCI at ``1 - alpha``.

References
~~~~~~~~~~
* K. K. G. Lan, D. L. DeMets, "Discrete sequential boundaries for clinical trials", Biometrika 70 (1983) 659-663.
* P. C. O'Brien, T. R. Fleming, "A multiple testing procedure for clinical trials", Biometrics 35 (1979) 549-556.
* P. Armitage, C. K. McPherson, B. C. Rowe, "Repeated significance tests on accumulating data", JRSS A 132 (1969)
  235-244.
* C. Jennison, B. W. Turnbull, "Exact calculations for sequential t, chi^2 and F tests", Biometrika 78 (1991)
  133-141.
* C. Jennison, B. W. Turnbull, "Interim analyses: the repeated confidence interval approach", JRSS B 51 (1989)
  305-361; *Group Sequential Methods with Applications to Clinical Trials*, Chapman & Hall/CRC 2000.
* S. Holm, "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6 (1979) 65-70.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Any, Hashable, Mapping, Sequence

import numpy as np

from .common import _as_scores, _check_finite, _check_integer, _check_probability, _welch_satterthwaite
from .paired import paired_arrays

__all__ = ["EFFECT", "NO_EFFECT", "UNDECIDED", "Decision", "SequentialDesign", "SequentialSimulation",
           "decide_ablation", "group_sequential_boundaries", "obrien_fleming_spending", "sequential_t_levels", "simulate_sequential"]

#: a row whose Holm-adjusted repeated p-value is at most alpha
EFFECT = "effect"
#: a row whose repeated CI at 1 - 2 alpha lies inside (-delta, +delta)
NO_EFFECT = "no effect larger than δ"
#: neither (yet): more seeds, or final at max_seeds
UNDECIDED = "undecided"

#: the levels u at which the nominal levels are precomputed for the repeated p-values
_LEVELS = np.geomspace(1e-6, 0.999, 41)
#: the exact t recursion: Gauss-Legendre nodes in psi, grid nodes on the continuation region, tail-integral nodes
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(40)
_T_GRID_NODES = 601
_T_TAIL_NODES = 601
#: grid spacing of the numerical integration, as a fraction of the sd of the smallest increment
_GRID_STEP = 1.0 / 4.0
#: the continuation region is integrated over at most this many sd of S_k (the mass beyond is < 1e-16)
_GRID_SDS = 8.5


# ----------------------------------------------------------------------------------------------- boundaries
def obrien_fleming_spending(t, alpha: float = 0.05) -> np.ndarray:
    """The O'Brien-Fleming-type spending function of Lan & DeMets for a two-sided level ``alpha``, spent
    symmetrically: each side spends ``alpha/2`` by the one-sided ``2 - 2 Phi(z_{1 - alpha/4} / sqrt(t))``, so in
    all ``alpha(t) = 4 - 4 Phi(z_{1 - alpha/4} / sqrt(t))`` at information fractions ``t`` in (0, 1];
    ``alpha(1) = alpha``."""
    from scipy import stats

    t = np.asarray(t, dtype=np.float64)
    return 4.0 * stats.norm.sf(stats.norm.isf(alpha / 4.0) / np.sqrt(t))


def _check_fractions(fractions) -> np.ndarray:
    t = np.asarray(fractions, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"fractions must be a non-empty 1-D sequence of numbers, got {fractions!r}")
    if t[0] <= 0 or t[-1] > 1 or np.any(np.diff(t) <= 0):
        raise ValueError(f"fractions must increase strictly within (0, 1], got {t.tolist()}")
    return t


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))


def _simpson(b: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and Simpson weights on [-b, b], spacing at most ``step``."""
    m = max(16, int(math.ceil(2.0 * b / step)))
    m += m % 2
    x = np.linspace(-b, b, m + 1)
    w = np.ones(m + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return x, w * (2.0 * b / m) / 3.0


def _boundaries(t: np.ndarray, alpha: float) -> np.ndarray:
    """Two-sided z boundaries ``c_k`` of the level-``alpha`` O'Brien-Fleming-type spending design at fractions ``t``
    (the module docstring): recursive numerical integration, Brent's method per look."""
    from scipy import stats
    from scipy.optimize import brentq
    from scipy.special import ndtr

    spent = obrien_fleming_spending(t, alpha)
    c = np.empty(t.size)
    c[0] = stats.norm.isf(spent[0] / 2.0)
    if t.size == 1:
        return c
    step = _GRID_STEP * min(math.sqrt(t[0]), float(np.sqrt(np.diff(t)).min()))
    sd = math.sqrt(t[0])
    x, w = _simpson(min(c[0] * sd, _GRID_SDS * sd), step)
    g = _phi(x / sd) / sd  # sub-density of S_1 on the continuation region
    for k in range(1, t.size):
        s = math.sqrt(t[k] - t[k - 1])
        root_t = math.sqrt(t[k])
        wg = w * g
        target = spent[k] - spent[k - 1]

        def crossing(ck: float) -> float:
            b = ck * root_t
            return float(np.sum(wg * (ndtr((-b - x) / s) + ndtr((x - b) / s))))

        if target <= 0.0:
            c[k] = np.inf
        elif crossing(0.0) <= target:
            c[k] = 0.0
        else:
            c[k] = brentq(lambda ck: crossing(ck) - target, 0.0, 60.0, xtol=1e-12, rtol=1e-12)
        if k + 1 < t.size:
            y, wy = _simpson(min(c[k] * root_t, _GRID_SDS * root_t), step)
            g = _phi((y[:, None] - x[None, :]) / s) @ wg / s
            x, w = y, wy
    return c


def group_sequential_boundaries(fractions, alpha: float = 0.05) -> np.ndarray:
    r"""Two-sided z boundaries of the Lan-DeMets O'Brien-Fleming-type design at information ``fractions``.

    ``fractions``: ``0 < t_1 < ... < t_K <= 1`` (e.g. ``n_k / n_max``).  Returns ``c_1 .. c_K``: a true null is
    rejected at the first look with ``|Z_k| >= c_k``, and

        P_0(|Z_j| < c_j, j < k; |Z_k| >= c_k) = alpha(t_k) - alpha(t_{k-1}),
        alpha(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t))

    under the canonical joint distribution ``corr(Z_j, Z_k) = sqrt(t_j / t_k)`` (recursive numerical integration,
    Armitage, McPherson & Rowe 1969).  E.g. 5 equally spaced looks, ``alpha = 0.05``: 4.877, 3.357, 2.680, 2.290,
    2.031.
    """
    return _boundaries(_check_fractions(fractions), _check_probability(alpha, "alpha")).copy()


# ----------------------------------------------------------------------------------------------- t levels
def _sub_density(s: np.ndarray, r_grid: np.ndarray, f_grid: np.ndarray, rho: float, n: int) -> np.ndarray:
    """``f_{n+1}(s)`` for ``s >= 0``: the density of ``R_{n+1}`` on the paths that stayed in ``|R_n| < rho``, from the
    even sub-density ``f_n`` given on ``r_grid`` (0 .. rho), by Gauss-Legendre in psi over the psi whose ``r = (s -
    sin psi) / cos psi`` lies in ``(-rho, rho)``: ``(x - a, min(x + a, pi - x - a))``, ``x = arcsin(s / sqrt(1 +
    rho^2))``, ``a = arctan(rho)`` (empty beyond ``s = sqrt(1 + rho^2)``)."""
    from scipy.special import beta

    x = np.arcsin(np.clip(s / math.sqrt(1.0 + rho * rho), -1.0, 1.0))
    a = math.atan(rho)
    lo = x - a
    width = np.maximum(np.minimum(x + a, np.pi - x - a) - lo, 0.0)
    psi = lo[:, None] + width[:, None] * (_GL_NODES + 1.0) / 2.0
    c = np.cos(psi)
    r = (s[:, None] - np.sin(psi)) / c
    val = np.interp(np.abs(r), r_grid, f_grid) * c ** (n - 2)
    return (val @ _GL_WEIGHTS) * width / (2.0 * beta(0.5, n / 2.0))


def _next_rho(target: float, r_grid: np.ndarray, f_grid: np.ndarray, rho: float, n: int) -> float:
    """The ``rho'`` at which ``P(first crossing at n + 1) = 2 int_{rho'}^{smax} f_{n+1} = target``; ``smax = sqrt(1 +
    rho^2)``.  The tail integral is tabulated on ``s = smax - w^2`` (``f_{n+1}`` vanishes like ``w`` at ``smax``)."""
    from scipy.integrate import cumulative_trapezoid
    from scipy.interpolate import PchipInterpolator
    from scipy.optimize import brentq

    smax = math.sqrt(1.0 + rho * rho)
    if target <= 0.0:
        return smax
    w = np.linspace(0.0, math.sqrt(smax), _T_TAIL_NODES)
    # the trapezoid rule keeps the tail monotone (and positive where the density is), which the root needs
    tail = 2.0 * cumulative_trapezoid(_sub_density(smax - w * w, r_grid, f_grid, rho, n) * 2.0 * w, x=w, initial=0.0)
    if target >= tail[-1]:
        return 0.0
    i = int(np.searchsorted(tail, target))  # tail[i-1] < target <= tail[i]
    first = int(np.argmax(tail > 0.0))  # >= 1: tail[0] = 0
    if i - 1 <= first:  # at or below the first positive node: tail ~ C w^k near smax
        k = math.log(tail[first + 1] / tail[first]) / math.log(w[first + 1] / w[first])
        ws = w[first] * (target / tail[first]) ** (1.0 / k)
    else:
        j, h = max(i - 3, first), min(i + 3, w.size)
        f = PchipInterpolator(w[j:h], np.log(tail[j:h]))
        ws = brentq(lambda v: float(f(v)) - math.log(target), w[i - 1], w[i], xtol=1e-14)
    return smax - ws * ws


def _t_levels(looks: tuple[int, ...], max_seeds: int, alpha: float) -> np.ndarray:
    """Nominal two-sided levels ``p*_k`` of the looks' t-tests (df ``n_k - 1``) for the O'Brien-Fleming-type spending
    at fractions ``n_k / max_seeds``: the exact recursion of the module docstring."""
    from scipy import stats
    from scipy.special import beta

    spent = obrien_fleming_spending(np.asarray(looks) / max_seeds, alpha)
    n = looks[0]
    levels = [float(spent[0])]
    tau = stats.t.isf(spent[0] / 2.0, n - 1)
    rho = tau * math.sqrt(n) / math.sqrt(n - 1 + tau * tau)
    r_grid = np.linspace(0.0, rho, _T_GRID_NODES)
    f_grid = (1.0 - r_grid**2 / n) ** ((n - 3) / 2.0) / (math.sqrt(n) * beta(0.5, (n - 1) / 2.0))
    for k in range(1, len(looks)):
        while n < looks[k]:
            last = n + 1 == looks[k]
            new = _next_rho(float(spent[k] - spent[k - 1]), r_grid, f_grid, rho, n) if last else \
                math.sqrt(1.0 + rho * rho)  # a seed without a look: no boundary
            grid = np.linspace(0.0, new, _T_GRID_NODES)
            f_grid = _sub_density(grid, r_grid, f_grid, rho, n)
            r_grid, rho, n = grid, new, n + 1
        tau = rho * math.sqrt(n - 1) / math.sqrt(max(n - rho * rho, 1e-300))
        levels.append(float(2.0 * stats.t.sf(tau, n - 1)))
    return np.array(levels)


def sequential_t_levels(looks: Sequence[int], alpha: float = 0.05, max_seeds: int | None = None) -> np.ndarray:
    r"""Nominal two-sided levels of the t-tests of a group-sequential design with looks at ``looks`` seeds.

    The design rejects at the first look whose paired t-test (``n_k - 1`` df) has ``p <= p*_k``; with normal
    per-seed differences the probability of a first rejection at look ``k`` is exactly ``alpha(t_k) -
    alpha(t_{k-1})`` for the O'Brien-Fleming-type spending function at ``t_k = n_k / max_seeds`` (default: the last
    look), so the size is ``alpha`` (the exact recursion of the module docstring).  ``looks``: increasing integers
    >= 3.  E.g. looks at 3 .. 10 seeds, ``alpha = 0.05``: 8.5e-5, 7.1e-4, 2.5e-3, 5.7e-3, 0.011, 0.017, 0.024, 0.033.
    """
    looks = tuple(int(n) for n in looks)
    if not looks or looks[0] < 3 or any(b <= a for a, b in zip(looks, looks[1:])):
        raise ValueError(f"looks must be increasing integers >= 3, got {looks!r}")
    max_seeds = looks[-1] if max_seeds is None else _check_integer(max_seeds, "max_seeds", looks[-1],
                                                                   f"an integer >= the last look ({looks[-1]})")
    return _cached_t_levels(looks, max_seeds, _check_probability(alpha, "alpha")).copy()


@lru_cache(maxsize=64)
def _cached_t_levels(looks: tuple[int, ...], max_seeds: int, alpha: float) -> np.ndarray:
    levels = _t_levels(looks, max_seeds, alpha)
    levels.setflags(write=False)
    return levels


@lru_cache(maxsize=16)
def _level_table(looks: tuple[int, ...], max_seeds: int) -> tuple[np.ndarray, tuple]:
    """``p*_k(u)`` for every level ``u`` of :data:`_LEVELS` (rows) and look (columns), and per look ``log u`` as a
    monotone cubic (PCHIP) function of ``log p*_k(u)``."""
    from scipy.interpolate import PchipInterpolator

    table = np.stack([_t_levels(looks, max_seeds, float(u)) for u in _LEVELS])
    if np.any(np.diff(table, axis=0) < 0):
        raise ArithmeticError("nominal levels are not increasing in the design's level")  # never seen
    table.setflags(write=False)
    logu = np.log(_LEVELS)
    return table, tuple(PchipInterpolator(np.log(table[:, k]), logu) for k in range(table.shape[1]))


# ----------------------------------------------------------------------------------------------- one look
def _round_stats(r: np.ndarray, counts: np.ndarray, q_term: np.ndarray, n_q: int,
                 pooled: bool) -> dict[str, np.ndarray]:
    """Delta, se, df and two-sided p of every row (last axis of ``counts``) on its first ``counts`` per-seed
    differences ``r`` (..., rows, seeds), with query terms ``q_term`` = Q / n (..., rows) on ``n_q - 1`` df (module
    docstring, "The test of one row at one look"): ``pooled``, each row's ``S^2`` floored at the rows' pooled
    ``S^2`` with Welch-Satterthwaite df; else ``n_k - 1`` df."""
    from scipy import stats

    m = counts.astype(np.float64)
    idx = (counts - 1)[..., None]
    s1 = np.take_along_axis(np.cumsum(r, axis=-1), idx, axis=-1)[..., 0]
    s2 = np.take_along_axis(np.cumsum(r * r, axis=-1), idx, axis=-1)[..., 0]
    diff = s1 / m
    var = np.maximum(0.0, (s2 - s1 * diff) / (m - 1))
    if pooled:
        pool_df = np.sum(m - 1, axis=-1, keepdims=True)
        pool = np.sum((m - 1) * var, axis=-1, keepdims=True) / pool_df
        floored = var < pool
        var = np.where(floored, pool, var)
        nu = np.where(floored, pool_df, m - 1)
        df = _welch_satterthwaite((var / m, q_term), (nu, n_q - 1))
        df = np.where(np.isnan(df), nu, df)
    else:
        df = m - 1
    se = np.sqrt(var / m + q_term)
    tol = 1e-12 * np.maximum(1.0, np.max(np.abs(r), axis=-1))
    degenerate = se <= tol
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.minimum(1.0, 2.0 * stats.t.sf(np.abs(diff) / np.where(degenerate, 1.0, se), df))
    p = np.where(degenerate, np.where(np.abs(diff) <= tol, 1.0, 0.0), p)
    return {"diff": diff, "se": np.where(degenerate, 0.0, se), "df": df, "p": p}


def _t_crit(level: np.ndarray, df: np.ndarray) -> np.ndarray:
    """The two-sided ``level`` quantile of t on ``df`` (NaN df: degenerate, any finite value)."""
    from scipy import stats

    return stats.t.isf(level / 2.0, np.where(np.isnan(df), 1.0, df))


def _holm_last_axis(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis (:func:`reports.stats.holm` vectorised; no NaN)."""
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * np.arange(m, 0, -1)
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked, axis=-1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


# ----------------------------------------------------------------------------------------------- the design
@dataclass(frozen=True)
class Decision:
    """A row of a sequential ablation at its current look.

    ``status``: :data:`EFFECT`, :data:`NO_EFFECT` or :data:`UNDECIDED`; ``n``: the seeds (pairs of runs) it used;
    ``diff``, ``se``, ``df``: the paired test on them; ``ci_low``, ``ci_high``: the repeated CI at ``1 - alpha``;
    ``p_value``: the row's repeated p-value (the minimum over its looks, valid at any stopping time); ``p_holm``:
    Holm-adjusted over the rows; ``sign``: +1 / -1 for an effect (row better / worse than the baseline), else 0;
    ``within_delta``: the repeated CI at ``1 - 2 alpha`` lies inside ``+-delta``; ``final``: no more seeds
    (decided, or ``n == max_seeds``)."""

    status: str
    n: int
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float
    se: float
    df: float
    sign: int
    within_delta: bool
    final: bool

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class SequentialDesign:
    """A sequential ablation: looks at ``looks`` seeds per row (default every count from ``min_seeds`` to
    ``max_seeds``), margin ``delta`` of practical relevance (in the units of the differences, e.g. 0.01 = 1 pp of
    mAP), two-sided ``alpha``; ``pooled_floor``: with several rows, floor each row's seed variance at the rows' pooled
    one (else every look uses ``n_k - 1`` df).  See the module docstring; the spending uses the fractions ``n_k /
    max_seeds``.

    >>> design = SequentialDesign(min_seeds=3, max_seeds=10, delta=0.01)
    >>> decisions = design.decide({"no_aug": diffs_a, "no_mixup": diffs_b})       # doctest: +SKIP
    >>> design.rows_needing_more_seeds(decisions)                                  # doctest: +SKIP
    ['no_mixup']
    """

    min_seeds: int
    max_seeds: int
    delta: float
    alpha: float = 0.05
    looks: tuple[int, ...] = field(default=())
    pooled_floor: bool = True

    def __post_init__(self) -> None:
        lo = _check_integer(self.min_seeds, "min_seeds", 3, "an integer >= 3 (a t-test on 2 seeds has 1 df)")
        hi = _check_integer(self.max_seeds, "max_seeds", lo, f"an integer >= min_seeds ({lo})")
        _check_finite(self.delta, "delta", non_negative=True)
        a = _check_probability(self.alpha, "alpha")
        if a >= 0.5:
            raise ValueError(f"alpha must be below 0.5 (the equivalence CI has level 1 - 2 alpha), got {a!r}")
        looks = tuple(self.looks) or tuple(range(lo, hi + 1))
        if looks[0] != lo or looks[-1] != hi or any(b <= a_ for a_, b in zip(looks, looks[1:])) or \
                not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in looks):
            raise ValueError(f"looks must be increasing integers from min_seeds ({lo}) to max_seeds ({hi}), got "
                             f"{self.looks!r}")
        object.__setattr__(self, "looks", tuple(int(n) for n in looks))

    @property
    def fractions(self) -> tuple[float, ...]:
        """The information fractions ``n_k / max_seeds`` of the looks."""
        return tuple(n / self.max_seeds for n in self.looks)

    @property
    def levels(self) -> np.ndarray:
        """Nominal two-sided levels ``p*_k(alpha)`` of the looks' t-tests (effects; :func:`sequential_t_levels`)."""
        return _cached_t_levels(self.looks, self.max_seeds, self.alpha)

    @property
    def equivalence_levels(self) -> np.ndarray:
        """Nominal levels ``p*_k(2 alpha)`` of the looks (the repeated CIs for "no effect larger than delta")."""
        return _cached_t_levels(self.looks, self.max_seeds, 2.0 * self.alpha)

    def repeated_p(self, p, look: int) -> np.ndarray:
        """The repeated p-value of the look's t-test p-value(s) ``p`` at look index ``look`` (0-based): ``inf{u : p
        <= p*_look(u)}``, interpolated on the precomputed levels (``1e-6`` below them, 1 above ``0.999``)."""
        p = np.asarray(p, dtype=np.float64)
        table, interp = _level_table(self.looks, self.max_seeds)
        col = table[:, look]
        with np.errstate(divide="ignore"):
            logp = np.log(np.clip(p, col[0], col[-1]))
        u = np.exp(interp[look](logp))
        return np.where(p <= 0.0, 0.0, np.where(p <= col[0], _LEVELS[0], np.where(p > col[-1], 1.0, u)))

    def _look_index(self, n: int, row: Hashable) -> int:
        if n not in self.looks:
            raise ValueError(f"row {row!r} has {n} seeds; the design looks at {list(self.looks)} seeds")
        return self.looks.index(n)

    def decide(self, diffs: Mapping[Hashable, Sequence[float]], *, query_var: float | Mapping = 0.0,
               n_queries: int | None = None) -> dict[Hashable, Decision]:
        """The decision of every row at its current look.

        ``diffs``: per row, its per-seed differences ``r_s = mAP_s(row) - mAP_s(baseline)`` in the order the
        seeds were run (look ``k`` saw the first ``n_k``); each row's count must be one of :attr:`looks`.
        ``query_var``: ``Q`` of the row's paired test (a number for every row, or a mapping per row; 0: no query
        term), ``n_queries``: ``n`` (needed when ``Q > 0``).  Pass every row of the ablation, decided ones too: they
        are all in the Holm family and in the pooled seed variance.  The rounds are replayed from the data (at round
        ``j`` every row with at least ``looks[j]`` seeds is looked at), so the result does not depend on earlier
        calls.
        """
        rows = list(diffs)
        if not rows:
            return {}
        qs = {row: _check_finite(query_var[row] if isinstance(query_var, Mapping) else query_var,
                                 f"query_var[{row!r}]", non_negative=True) for row in rows}
        if any(q > 0 for q in qs.values()):
            n_q = _check_integer(n_queries, "n_queries", 2, "an integer >= 2 when query_var > 0")
        else:
            n_q = 2
        ns = []
        for row in rows:
            n = _as_scores(diffs[row], f"diffs[{row!r}]").size
            self._look_index(n, row)
            ns.append(n)
        r = np.zeros((len(rows), self.max_seeds))
        for i, row in enumerate(rows):
            r[i, :ns[i]] = np.asarray(diffs[row], dtype=np.float64)
        counts = np.array(ns)
        state = _replay(self, r, lambda j: counts >= self.looks[j], lambda j: np.minimum(counts, self.looks[j]),
                        np.array([qs[row] / n_q for row in rows]), n_q)
        status = _statuses(self, state["p_min"], state, state["ks"])
        types = {f.name: f.type for f in fields(Decision)}
        return {row: Decision(**{key: _plain(status[key][i], types[key]) for key in types})
                for i, row in enumerate(rows)}

    def decide_runs(self, runs: Mapping[Hashable, tuple[Any, Any]]) -> dict[Hashable, Decision]:
        """:meth:`decide` from runs: per row ``(runs_row, runs_baseline)``, two seeds x queries arrays whose row
        ``s`` is the same seed (in the order the seeds were run).  The per-seed differences are the runs' mean
        differences; ``Q`` comes from the paired test on all the row's current seeds (:func:`paired_arrays`)."""
        diffs, qs, n_q = {}, {}, None
        for row, (xa, xb) in runs.items():
            xa, xb = np.asarray(xa, dtype=np.float64), np.asarray(xb, dtype=np.float64)
            if xa.ndim != 2 or xa.shape != xb.shape:
                raise ValueError(f"row {row!r}: the runs must be two seeds x queries arrays of one shape, got "
                                 f"{xa.shape} and {xb.shape}")
            if n_q is not None and xa.shape[1] != n_q:
                raise ValueError(f"row {row!r} has {xa.shape[1]} queries, another row {n_q}: one test set")
            n_q = xa.shape[1]
            diffs[row] = xa.mean(axis=1) - xb.mean(axis=1)
            qs[row] = float(paired_arrays(xa, xb, 0.95)["query_var"])
        return self.decide(diffs, query_var=qs, n_queries=n_q)

    def rows_needing_more_seeds(self, decisions: Mapping[Hashable, Decision]) -> list:
        """The rows that get another seed in the next round: undecided and below ``max_seeds``."""
        return [row for row, d in decisions.items() if not d.final]


def decide_ablation(design: SequentialDesign, rows: Mapping[Hashable, Mapping[int, Any]],
                    control: Mapping[int, Any], seed_order: Sequence[int]) -> dict[Hashable, Decision | None]:
    """The decisions of a sequential ablation from its runs, as the study runner (:mod:`studies.sequential`) and
    the report (:mod:`reports.analysis`) both compute them.

    ``rows``: per row, ``{seed: per-query AP array}`` of its runs; ``control``: the baseline's runs the same way
    (all on one aligned query order); ``seed_order``: the order in which the seeds are run (looks see the first
    ``n``).  A row is paired with the baseline on the seeds both have, taken in ``seed_order``; a row with fewer
    than ``min_seeds`` pairs (a failed run) is ``None`` (not looked at yet), and one with more than ``max_seeds``
    uses the first ``max_seeds``.  Every other row is decided together (one Holm family, one pooled seed variance:
    :meth:`SequentialDesign.decide_runs`)."""
    position = {int(s): i for i, s in enumerate(seed_order)}
    runs: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}
    out: dict[Hashable, Decision | None] = {}
    for row, by_seed in rows.items():
        common = sorted((int(s) for s in by_seed if int(s) in position and s in control), key=position.get)
        common = common[:design.max_seeds]
        out[row] = None
        if len(common) >= design.min_seeds:
            runs[row] = (np.stack([np.asarray(by_seed[s], dtype=np.float64) for s in common]),
                         np.stack([np.asarray(control[s], dtype=np.float64) for s in common]))
    if runs:
        out.update(design.decide_runs(runs))
    return out


def _plain(v, kind: str):
    """A numpy scalar as the plain Python type named ``kind`` (a :class:`Decision` field's annotation)."""
    return {"str": str, "int": int, "float": float, "bool": bool}[kind](v)


def _statuses(design: SequentialDesign, p_min: np.ndarray, cur: Mapping[str, np.ndarray],
              ks: np.ndarray) -> dict[str, np.ndarray]:
    """Statuses of rows (last axis) from their repeated p-values ``p_min`` and current looks ``cur`` (arrays of
    ``diff``, ``se``, ``df``) at look indices ``ks``: Holm across the rows, repeated CIs, the decision rule."""
    p_holm = _holm_last_axis(p_min)
    diff, se, df = cur["diff"], cur["se"], cur["df"]
    half = np.where(se > 0, _t_crit(design.levels[ks], df) * se, 0.0)
    half_eq = np.where(se > 0, _t_crit(design.equivalence_levels[ks], df) * se, 0.0)
    effect = p_holm <= design.alpha
    inside = np.abs(diff) + half_eq < design.delta
    n = np.asarray(design.looks)[ks]
    return {"status": np.where(effect, EFFECT, np.where(inside, NO_EFFECT, UNDECIDED)), "diff": diff,
            "ci_low": diff - half, "ci_high": diff + half, "p_value": p_min, "p_holm": p_holm, "se": se, "df": df,
            "sign": np.where(effect, np.sign(diff), 0).astype(int), "within_delta": inside,
            "final": effect | inside | (n >= design.max_seeds), "n": n}


# ----------------------------------------------------------------------------------------------- simulation
@dataclass(frozen=True)
class SequentialSimulation:
    """What :func:`simulate_sequential` measured over ``n_studies`` simulated ablations.

    ``fpr``: the fraction of studies in which at least one row with a zero effect was called an effect (the
    familywise error rate; NaN without such rows), ``fpr_sd`` its binomial sd; ``power``: the mean over rows with a
    non-zero effect of the rate of "effect" with the true sign (NaN without such rows); ``mean_seeds``: seeds per
    row at its stop, averaged over rows and studies (``max_seeds`` for a fixed design); per row:
    ``seeds_per_row``, ``effect_rate``, ``wrong_sign_rate``, ``no_effect_rate``, ``undecided_rate``."""

    n_studies: int
    effects: tuple[float, ...]
    fpr: float
    fpr_sd: float
    power: float
    mean_seeds: float
    max_seeds: int
    seeds_per_row: tuple[float, ...]
    effect_rate: tuple[float, ...]
    wrong_sign_rate: tuple[float, ...]
    no_effect_rate: tuple[float, ...]
    undecided_rate: tuple[float, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def _replay(design: SequentialDesign, r: np.ndarray, looked, counts, q_term: np.ndarray, n_q: int,
            stop=None) -> dict[str, np.ndarray]:
    """The rounds of a sequential ablation on per-seed differences ``r`` (..., rows, max_seeds) in seed order:
    at round ``j`` the rows ``looked(j)`` are looked at with their first ``counts(j)`` seeds (the other rows keep
    theirs, for the pool); each look updates the row's repeated p-value (running minimum) and current look.
    ``stop(state)``: after each round, the rows that got no further seed (the simulation's decisions)."""
    shape = r.shape[:-1]
    state = {"p_min": np.ones(shape), "ks": np.zeros(shape, dtype=int),
             **{key: np.zeros(shape) for key in ("diff", "se", "df", "p")}}
    stopped = np.zeros(shape, dtype=bool)
    for j in range(len(design.looks)):
        now = looked(j) & ~stopped
        if not now.any():
            break
        look = _round_stats(r, counts(j), q_term, n_q, design.pooled_floor and shape[-1] >= 2)
        state["p_min"] = np.where(now, np.minimum(state["p_min"], design.repeated_p(look["p"], j)), state["p_min"])
        for key in ("diff", "se", "df", "p"):
            state[key] = np.where(now, look[key], state[key])
        state["ks"] = np.where(now, j, state["ks"])
        if stop is not None:
            stopped = stopped | stop(state)
    return state


def _run_studies(design: SequentialDesign, r: np.ndarray, q_term: np.ndarray, n_q: int) -> dict[str, np.ndarray]:
    """Run the design on stacked studies: per-seed differences ``r`` (N, R, max_seeds), query terms ``q_term``
    (N, R).  After each round the undecided rows below max get a seed -- what a runner does with
    :meth:`SequentialDesign.decide` and :meth:`~SequentialDesign.rows_needing_more_seeds`."""
    active = np.ones(r.shape[:-1], dtype=bool)
    n_now = np.full(r.shape[:-1], design.looks[0])

    def counts(j: int) -> np.ndarray:
        n_now[...] = np.where(active, design.looks[j], n_now)
        return n_now

    def stop(state) -> np.ndarray:
        final = _statuses(design, state["p_min"], state, state["ks"])["final"]
        active[...] = ~final
        return final

    state = _replay(design, r, lambda j: active, counts, q_term, n_q, stop)
    return _statuses(design, state["p_min"], state, state["ks"])


def simulate_sequential(design: SequentialDesign, *, n_studies: int = 2000, effects=(0.0,),
                        diff_sd: float | None = None, seed_sd: float | None = None, rho: float = 0.0,
                        query_var: float = 0.0, n_queries: int = 1000, diffs_pool=None, runs_pool=None,
                        seed: int = 0) -> SequentialSimulation:
    r"""Simulate ``n_studies`` sequential ablations of ``len(effects)`` rows (true differences ``effects``) with
    ``design``, vectorised over the studies; deterministic given ``seed``.

    Per-seed differences ``r_s = effect + c + u_s`` of each row:

    * ``u_s``: normal with sd ``diff_sd`` (the sd of one seed's difference of run mAPs), or ``seed_sd *
      sqrt(2 (1 - rho))`` from the run-mAP seed sd and the between-arm correlation; or resampled with replacement
      from ``diffs_pool - mean(diffs_pool)`` (real per-seed differences, centred: a null with their shape); or the
      difference of two independent draws from ``runs_pool`` (real run mAPs of one recipe: an A/A pair with no
      shared seed component);
    * ``c ~ N(0, query_var / n_queries)``: the draw of the test queries, one per row and study, shared by its seeds;
      the test's ``Q`` is drawn as ``query_var * chi^2_{n-1} / (n - 1)``.

    Rows are independent given the study.  Returns a :class:`SequentialSimulation` (false-positive rate, power,
    seeds used).
    """
    n_studies = _check_integer(n_studies, "n_studies", 1, "a positive integer")
    effects = tuple(_check_finite(e, "effects[i]") for e in np.atleast_1d(np.asarray(effects, dtype=np.float64)))
    query_var = _check_finite(query_var, "query_var", non_negative=True)
    n_q = _check_integer(n_queries, "n_queries", 2, "an integer >= 2")
    sources = [diff_sd is not None or seed_sd is not None, diffs_pool is not None, runs_pool is not None]
    if sum(sources) != 1:
        raise ValueError("give exactly one of diff_sd (or seed_sd with rho), diffs_pool and runs_pool")
    rng = np.random.default_rng(seed)
    shape = (n_studies, len(effects), design.max_seeds)
    if diffs_pool is not None:
        pool = _as_scores(diffs_pool, "diffs_pool")
        u = rng.choice(pool - pool.mean(), size=shape)
    elif runs_pool is not None:
        pool = _as_scores(runs_pool, "runs_pool")
        u = rng.choice(pool, size=shape) - rng.choice(pool, size=shape)
    else:
        if diff_sd is None:
            seed_sd = _check_finite(seed_sd, "seed_sd", non_negative=True)
            rho = _check_finite(rho, "rho")
            if not -1.0 <= rho <= 1.0:
                raise ValueError(f"rho must be in [-1, 1], got {rho!r}")
            diff_sd = seed_sd * math.sqrt(2.0 * (1.0 - rho))
        u = _check_finite(diff_sd, "diff_sd", non_negative=True) * rng.standard_normal(shape)
    c = math.sqrt(query_var / n_q) * rng.standard_normal(shape[:2])
    q_hat = query_var * rng.chisquare(n_q - 1, shape[:2]) / (n_q - 1)
    eff = np.asarray(effects)
    res = _run_studies(design, eff[None, :, None] + c[..., None] + u, q_hat / n_q, n_q)
    is_effect = res["status"] == EFFECT
    true_sign = np.sign(eff)[None, :]
    right = is_effect & (res["sign"] == true_sign) & (true_sign != 0)
    wrong = is_effect & (res["sign"] != true_sign) & (true_sign != 0)
    null = eff == 0
    fpr = float(np.mean(np.any(is_effect[:, null], axis=1))) if null.any() else math.nan
    power = float(np.mean(right[:, ~null])) if (~null).any() else math.nan

    def per_row(x: np.ndarray) -> tuple[float, ...]:
        return tuple(float(v) for v in x.mean(axis=0))

    return SequentialSimulation(
        n_studies=n_studies, effects=effects, fpr=fpr,
        fpr_sd=math.sqrt(fpr * (1 - fpr) / n_studies) if math.isfinite(fpr) else math.nan, power=power,
        mean_seeds=float(res["n"].mean()), max_seeds=design.max_seeds, seeds_per_row=per_row(res["n"]),
        effect_rate=per_row(is_effect), wrong_sign_rate=per_row(wrong),
        no_effect_rate=per_row(res["status"] == NO_EFFECT), undecided_rate=per_row(res["status"] == UNDECIDED))
