"""Two-sample drift statistics from counts: exact value counts or fine histograms.

The engine (``analytics.drift``) hands this module small aggregated vectors, never rows:

- *exact*: every distinct value with its count in each sample. The statistics are then the
  reference implementations' own, on the same rows: KS equals ``scipy.stats.ks_2samp``
  (bit for bit: the same integer counts divided by the same sizes), the Wasserstein distance
  equals ``scipy.stats.wasserstein_distance`` (the same integral, summed over distinct values).
- *binned*: counts per bin of fine boundaries ``e_1 < ... < e_K`` (bins ``(-inf, e_1]``,
  ``(e_1, e_2]``, ..., ``(e_K, inf)``, DuckDB's ``histogram(x, boundaries)``) plus each sample's
  min and max. Both CDFs are then known exactly *at the boundaries*; between two boundaries they
  are unknown but monotone, which bounds every statistic (derivation in
  :func:`binned_numeric`). Each binned statistic comes with a rigorous error bound computed
  from the same counts: ``|exact - estimate| <= bound`` always holds, whatever the data.

Definitions (numeric): ``ks`` = sup |F_b - F_a| (p-value: scipy's ``method="auto"``: exact
distribution when both samples have at most 10 000 rows, Smirnov's asymptotic ``kstwo``
otherwise, the method used is reported); ``wasserstein`` = W1(baseline, analysis) divided by the
baseline's population standard deviation (``np.std``, ddof=0, as Evidently); ``jensenshannon``
= ``scipy.spatial.distance.jensenshannon`` (natural log, base e: range 0..sqrt(ln 2)) of the
shares in the *quantile bins*; ``psi_quantile`` = sum (a - b) ln(a / b) over the quantile bins:
``(-inf, q_1], (q_1, q_2], ..., (q_9, inf)`` with q_j the baseline's j/10 quantiles
(``inverted_cdf``, i.e. DuckDB's ``quantile_disc``; repeated edges merged); ``psi_equal_width``
= Evidently 0.7's ``psi``: Sturges equal-width bins over the combined range
(``np.histogram_bin_edges(concat, "sturges")``, bins closed on the left, the last on both
sides), or one bin per value when the baseline has at most 20 distinct values. Both PSIs
replace a zero share by Evidently's floor (the smallest non-zero share / 1e6 if that is at most
1e-4, else 1e-4). Categorical: ``chi2`` = ``scipy.stats.chi2_contingency`` of the 2 x k table
(baseline, analysis) x categories seen in either (scipy's default Yates correction, which only
applies to a 2 x 2 table), ``jensenshannon`` and ``psi`` on the category shares.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.stats._stats_py import _attempt_exact_2kssamp  # scipy's own exact KS distribution

KS_EXACT_MAX_N = 10_000  # scipy's MAX_AUTO_N: method="auto" is exact up to this sample size
DECILES = tuple(j / 10 for j in range(1, 10))


@dataclass(frozen=True)
class NumericStats:
    """Drift statistics of one numeric column, with the binned-mode error bounds (0 if exact)."""

    n_baseline: int
    n_analysis: int
    ks: float
    ks_pvalue: float
    ks_pvalue_method: str
    ks_bound: float
    wasserstein: float  # normed by the baseline std (ddof=0)
    wasserstein_bound: float
    wasserstein_raw: float
    baseline_std: float
    jensenshannon: float
    psi_quantile: float
    psi_equal_width: float
    quantile_edges: tuple[float, ...]
    equal_width_edges: tuple[float, ...]
    equal_width_baseline: tuple[float, ...] = ()  # counts per equal-width bin (or per value)
    equal_width_analysis: tuple[float, ...] = ()
    equal_width_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategoricalStats:
    """Drift statistics of one categorical column."""

    n_baseline: int
    n_analysis: int
    chi2: float
    chi2_pvalue: float
    chi2_dof: int
    jensenshannon: float
    psi: float
    unseen: tuple[str, ...]  # in the analysis window, never in the baseline
    vanished: tuple[str, ...]  # in the baseline, absent from the analysis window


# ------------------------------------------------------------------------------ shared pieces


def ks_pvalue(d: float, n1: int, n2: int) -> tuple[float, str, float]:
    """Two-sided p-value of a KS statistic as ``ks_2samp(method="auto")`` computes it, the
    method used, and the statistic as scipy reports it (the exact method snaps it to the
    lattice h / lcm(n1, n2), which removes the last-bit rounding of the CDF difference)."""
    if n1 == 0 or n2 == 0:
        return math.nan, "none", d
    if max(n1, n2) <= KS_EXACT_MAX_N:
        g = math.gcd(n1, n2)
        ok, d_exact, prob = _attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
        if ok:
            return float(np.clip(prob, 0, 1)), "exact", float(d_exact)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1)), "asymp", d


def with_ks_pvalue(st: NumericStats, *, exact: bool) -> NumericStats:
    """The statistics with the KS p-value computed (after ``pvalue=False``), as
    :func:`exact_numeric` (which takes scipy's snapped statistic) or :func:`binned_numeric`
    (which keeps its estimate) would have computed it."""
    if st.ks_pvalue_method != "not computed":
        return st
    p, method, d = ks_pvalue(st.ks, st.n_baseline, st.n_analysis)
    return dataclasses.replace(st, ks=d if exact else st.ks, ks_pvalue=p, ks_pvalue_method=method)


def fill_zeros(shares: np.ndarray) -> np.ndarray:
    """Evidently's zero fill for PSI: 0 becomes min(non-zero)/1e6 if that min <= 1e-4, else 1e-4."""
    out = np.asarray(shares, dtype=np.float64).copy()
    nz = out[out != 0]
    if nz.size == 0:
        return out
    low = nz.min()
    np.place(out, out == 0, low / 10**6 if low <= 0.0001 else 0.0001)
    return out


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI of two count vectors over the same bins (Evidently's formula and zero fill)."""
    r = fill_zeros(ref_counts / ref_counts.sum())
    c = fill_zeros(cur_counts / cur_counts.sum())
    return float(np.sum((r - c) * np.log(r / c)))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of two count vectors over the same bins."""
    return float(jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()))


def quantile_edges(values: np.ndarray, counts: np.ndarray, probs: tuple[float, ...]) -> np.ndarray:
    """``inverted_cdf`` quantiles (DuckDB's ``quantile_disc``) of weighted distinct values:
    the smallest value whose cumulative count reaches p x n. Repeated edges are merged."""
    cum = np.cumsum(counts)
    n = cum[-1]
    idx = np.searchsorted(cum, np.asarray(probs) * n, side="left")
    return np.unique(values[np.minimum(idx, len(values) - 1)])


def sturges_edges(lo: float, hi: float, n: int) -> np.ndarray:
    """``np.histogram_bin_edges(x, bins="sturges")`` of an array of ``n`` values in [lo, hi]."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / (np.log2(n) + 1.0)
    bins = int(np.ceil((hi - lo) / width)) if width > 0 else 1
    return np.linspace(lo, hi, bins + 1, endpoint=True, dtype=np.float64)


def right_closed_counts(values: np.ndarray, counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of weighted values in ``(-inf, e_1], (e_1, e_2], ..., (e_K, inf)``."""
    idx = np.searchsorted(edges, values, side="left")
    return np.bincount(idx, weights=counts, minlength=len(edges) + 1)


def left_closed_boundaries(edges: np.ndarray) -> np.ndarray:
    """Right-closed boundaries that reproduce numpy's left-closed bins [e_i, e_{i+1}):
    ``x <= nextafter(e, -inf)`` exactly when ``x < e`` (interior edges only)."""
    return np.nextafter(edges[1:-1], -np.inf)


# ------------------------------------------------------------------------------ exact


def exact_numeric(
    values: np.ndarray,
    ref: np.ndarray,
    cur: np.ndarray,
    baseline_std: float | None = None,
    *,
    pvalue: bool = True,
) -> NumericStats:
    """Statistics from the distinct ``values`` (sorted ascending) and their counts per sample.

    ``baseline_std`` defaults to the std of the weighted baseline values (ddof=0).
    ``pvalue=False`` leaves the KS p-value out (NaN, the costly part; see :func:`with_ks_pvalue`).
    """
    values = np.asarray(values, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.int64)
    cur = np.asarray(cur, dtype=np.int64)
    n1, n2 = int(ref.sum()), int(cur.sum())
    cdf1 = np.cumsum(ref) / n1
    cdf2 = np.cumsum(cur) / n2
    diffs = cdf1 - cdf2
    d = float(max(diffs.max(), np.clip(-diffs.min(), 0, 1)))
    p, method, d = ks_pvalue(d, n1, n2) if pvalue else (math.nan, "not computed", d)
    w_raw = float(np.sum(np.abs(diffs[:-1]) * np.diff(values))) if len(values) > 1 else 0.0
    if baseline_std is None:
        mean = np.sum(values * ref) / n1
        baseline_std = float(np.sqrt(np.sum(ref * (values - mean) ** 2) / n1))
    q_edges = quantile_edges(values[ref > 0], ref[ref > 0], DECILES)
    qr = right_closed_counts(values, ref, q_edges)
    qc = right_closed_counts(values, cur, q_edges)
    ew_edges, er, ec = equal_width_counts(values, ref, cur)
    return NumericStats(
        n_baseline=n1,
        n_analysis=n2,
        ks=d,
        ks_pvalue=p,
        ks_pvalue_method=method,
        ks_bound=0.0,
        wasserstein=w_raw / baseline_std if baseline_std > 0 else math.nan,
        wasserstein_bound=0.0,
        wasserstein_raw=w_raw,
        baseline_std=baseline_std,
        jensenshannon=js_distance(qr, qc),
        psi_quantile=psi(qr, qc),
        psi_equal_width=psi(er, ec),
        quantile_edges=tuple(float(e) for e in q_edges),
        equal_width_edges=tuple(float(e) for e in ew_edges),
        equal_width_baseline=tuple(float(x) for x in er),
        equal_width_analysis=tuple(float(x) for x in ec),
        equal_width_labels=_ew_labels(ew_edges, values[(ref > 0) | (cur > 0)]),
    )


def equal_width_counts(
    values: np.ndarray, ref: np.ndarray, cur: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evidently's PSI bins of weighted distinct values: per value when the baseline has at
    most 20 of them (edges then empty), else Sturges bins of the combined values."""
    if int((ref > 0).sum()) <= 20:
        keep = (ref > 0) | (cur > 0)
        return np.array([]), ref[keep].astype(float), cur[keep].astype(float)
    seen = (ref > 0) | (cur > 0)
    edges = sturges_edges(
        float(values[seen].min()), float(values[seen].max()), int(ref.sum() + cur.sum())
    )
    er, _ = np.histogram(values, bins=edges, weights=ref)
    ec, _ = np.histogram(values, bins=edges, weights=cur)
    return edges, er, ec


# ------------------------------------------------------------------------------ binned


def binned_numeric(
    ref: np.ndarray,
    ref_lo: np.ndarray,
    ref_hi: np.ndarray,
    cur: np.ndarray,
    cur_lo: np.ndarray,
    cur_hi: np.ndarray,
    baseline_std: float,
    *,
    pvalue: bool = True,
) -> NumericStats:
    """Statistics and error bounds from ordered fine bins: per bin and sample, the count and
    the smallest and largest value (NaN when empty). Bins must not overlap in value and be
    given in increasing order (any monotone binning will do).

    Bounds. Let D = F_b - F_a. Outside the bins' value ranges D is constant and known exactly
    (cumulative counts); inside the range [lo_k, hi_k] of bin k it moves from D_l (before the
    bin) to D_r (after it), F_b rising by at most p_k and F_a by at most q_k (the bin's shares),
    so D stays in I_k = [max(D_l - q_k, D_r - p_k), min(D_l + p_k, D_r + q_k)]; a bin holding
    one value (lo_k = hi_k) jumps straight from D_l to D_r. KS: the estimate is the largest
    |D| actually attained (at bin ends), a lower bound; the exact value is at most
    max_k max|I_k|, and the bound is the difference. Wasserstein = the integral of |D|: exact
    between bins, and on [lo_k, hi_k] between (hi_k - lo_k) x min|I_k| and (hi_k - lo_k) x
    max|I_k|; the estimate integrates D linearly interpolated (inside those limits) and the
    bound is the larger distance from the estimate to the summed limits. Ties, point masses and
    integer values make single-value bins, which are exact.

    Quantile bins (JS, psi_quantile): edge j is the upper end of the bin where the baseline's
    cumulative share first reaches j/10, so every fine bin falls wholly in one quantile bin (the
    counts are exact; the edges are the deciles rounded up to a fine bin's end). Equal-width
    PSI: the Sturges bins of the combined range; a fine bin straddling one of their edges is
    split in proportion to its value range (approximate, no bound stated).
    """
    ref = np.asarray(ref, dtype=np.float64)
    cur = np.asarray(cur, dtype=np.float64)
    occupied = (ref + cur) > 0
    ref, cur = ref[occupied], cur[occupied]
    lo = np.fmin(np.asarray(ref_lo, float)[occupied], np.asarray(cur_lo, float)[occupied])
    hi = np.fmax(np.asarray(ref_hi, float)[occupied], np.asarray(cur_hi, float)[occupied])
    n1, n2 = int(ref.sum()), int(cur.sum())
    p, q = ref / n1, cur / n2
    d_right = np.cumsum(ref) / n1 - np.cumsum(cur) / n2
    d_left = np.concatenate([[0.0], d_right[:-1]])
    lo_i = np.maximum(d_left - q, d_right - p)
    hi_i = np.minimum(d_left + p, d_right + q)
    spread = hi > lo
    abs_hi = np.where(spread, np.maximum(np.abs(lo_i), np.abs(hi_i)), np.abs(d_right))
    abs_lo = np.where((lo_i <= 0) & (hi_i >= 0), 0.0, np.minimum(np.abs(lo_i), np.abs(hi_i)))
    ks_low = float(np.abs(d_right).max())
    ks_high = max(ks_low, float(abs_hi.max()))
    width = np.where(spread, hi - lo, 0.0)
    gaps = lo[1:] - hi[:-1]  # between bins D is constant: D_r of the bin before
    exact_part = float(np.sum(np.abs(d_right[:-1]) * gaps))
    est = float(np.sum(width * _abs_linear_mean(d_left, d_right)))
    w_low = exact_part + float(np.sum(width * abs_lo))
    w_high = exact_part + float(np.sum(width * abs_hi))
    w_est = exact_part + est
    w_bound = max(w_high - w_est, w_est - w_low, 0.0)
    pval, method, _ = ks_pvalue(ks_low, n1, n2) if pvalue else (math.nan, "not computed", 0)
    cum_ref = np.cumsum(ref) / n1
    cut = np.unique(
        np.minimum(np.searchsorted(cum_ref, np.asarray(DECILES), side="left"), len(ref) - 1)
    )
    cut = cut[cut < len(ref) - 1]
    starts = np.concatenate([[0], cut + 1])
    qr, qc = np.add.reduceat(ref, starts), np.add.reduceat(cur, starts)
    ew_edges = sturges_edges(float(lo.min()), float(hi.max()), n1 + n2)
    er = _split_counts(ref, lo, hi, ew_edges)
    ec = _split_counts(cur, lo, hi, ew_edges)
    norm = baseline_std if baseline_std > 0 else math.nan
    return NumericStats(
        n_baseline=n1,
        n_analysis=n2,
        ks=ks_low,
        ks_pvalue=pval,
        ks_pvalue_method=method,
        ks_bound=ks_high - ks_low,
        wasserstein=w_est / norm,
        wasserstein_bound=w_bound / norm,
        wasserstein_raw=w_est,
        baseline_std=baseline_std,
        jensenshannon=js_distance(qr, qc),
        psi_quantile=psi(qr, qc),
        psi_equal_width=psi(er, ec),
        quantile_edges=tuple(float(e) for e in hi[cut]),
        equal_width_edges=tuple(float(e) for e in ew_edges),
        equal_width_baseline=tuple(float(x) for x in er),
        equal_width_analysis=tuple(float(x) for x in ec),
        equal_width_labels=_ew_labels(ew_edges, np.array([])),
    )


def _ew_labels(edges: np.ndarray, values: np.ndarray) -> tuple[str, ...]:
    """Readable bin labels: the value itself (20 or fewer values), else the bin's range."""
    if len(edges) == 0:
        return tuple(f"{v:g}" for v in values)
    return tuple(f"{a:,.4g} – {b:,.4g}" for a, b in itertools.pairwise(edges))


def _split_counts(
    counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Counts of ordered fine bins in numpy's left-closed bins of ``edges``: a bin inside one
    bin counts there; a bin straddling edges is shared in proportion to its value range."""
    m = len(edges) - 1
    i_lo = np.clip(np.searchsorted(edges, lo, side="right") - 1, 0, m - 1)
    i_hi = np.clip(np.searchsorted(edges, hi, side="right") - 1, 0, m - 1)
    out = np.zeros(m)
    whole = i_lo == i_hi
    np.add.at(out, i_lo[whole], counts[whole])
    for k in np.flatnonzero(~whole):
        span = hi[k] - lo[k]
        for j in range(i_lo[k], i_hi[k] + 1):
            a, b = max(lo[k], edges[j]), min(hi[k], edges[j + 1])
            out[j] += counts[k] * max(b - a, 0.0) / span
    return out


def _abs_linear_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of |x| over a segment where x runs linearly from a to b."""
    same = (a * b) >= 0
    s = np.abs(a) + np.abs(b)
    crossing = np.divide(a * a + b * b, 2 * s, out=np.zeros_like(s), where=s > 0)
    return np.where(same, s / 2, crossing)


# ------------------------------------------------------------------------------ categorical


def categorical(categories: list[str], ref: np.ndarray, cur: np.ndarray) -> CategoricalStats:
    """Chi-square test of homogeneity, Jensen-Shannon and PSI over the categories seen."""
    ref = np.asarray(ref, dtype=np.int64)
    cur = np.asarray(cur, dtype=np.int64)
    keep = (ref + cur) > 0
    cats = [c for c, k in zip(categories, keep, strict=True) if k]
    r, c = ref[keep], cur[keep]
    n1, n2 = int(r.sum()), int(c.sum())
    if len(cats) >= 2 and n1 > 0 and n2 > 0:
        res = stats.chi2_contingency(np.vstack([r, c]))
        chi2, pval, dof = float(res.statistic), float(res.pvalue), int(res.dof)
    else:  # one category (or an empty sample): nothing can differ
        chi2, pval, dof = 0.0, 1.0, 0
    js = js_distance(r, c) if n1 and n2 else math.nan
    ps = psi(r.astype(float), c.astype(float)) if n1 and n2 else math.nan
    return CategoricalStats(
        n_baseline=n1,
        n_analysis=n2,
        chi2=chi2,
        chi2_pvalue=pval,
        chi2_dof=dof,
        jensenshannon=js,
        psi=ps,
        unseen=tuple(x for x, a, b in zip(cats, r, c, strict=True) if a == 0 and b > 0),
        vanished=tuple(x for x, a, b in zip(cats, r, c, strict=True) if a > 0 and b == 0),
    )
