"""Drift statistics from counts against scipy (and Evidently's formulas) on the same rows, and
the binned mode's error bounds on adversarial distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from analytics import drift_stats as ds

RNG = np.random.default_rng(20260501)


def _counts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.unique(np.concatenate([a, b]))
    ra = np.bincount(np.searchsorted(values, a), minlength=len(values))
    rb = np.bincount(np.searchsorted(values, b), minlength=len(values))
    return values, ra, rb


def _evidently_psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """Evidently 0.7.23's ``get_binned_data`` + ``_psi`` for a numeric column (copied logic)."""
    if len(np.unique(ref)) > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        rp = np.histogram(ref, bins)[0] / len(ref)
        cp = np.histogram(cur, bins)[0] / len(cur)
    else:
        keys = np.unique(np.concatenate([ref, cur]))
        rp = np.array([(ref == k).sum() / len(ref) for k in keys])
        cp = np.array([(cur == k).sum() / len(cur) for k in keys])
    for arr in (rp, cp):
        low = arr[arr != 0].min()
        np.place(arr, arr == 0, low / 10**6 if low <= 0.0001 else 0.0001)
    return float(np.sum((rp - cp) * np.log(rp / cp)))


SAMPLES = {
    "normal shift": lambda n: (RNG.normal(0, 1, n), RNG.normal(0.3, 1, n + 7)),
    "ties": lambda n: (np.round(RNG.normal(0, 1, n), 1), np.round(RNG.normal(0.1, 1.2, n), 1)),
    "point mass": lambda n: (
        np.where(RNG.random(n) < 0.4, 0.0, RNG.gamma(2, 3, n)),
        np.where(RNG.random(n) < 0.2, 0.0, RNG.gamma(2, 3, n)),
    ),
    "cauchy tails": lambda n: (RNG.standard_cauchy(n), RNG.standard_cauchy(n) * 1.3),
    "identical": lambda n: (np.arange(n, dtype=float), np.arange(n, dtype=float)),
    "disjoint": lambda n: (RNG.uniform(0, 1, n), RNG.uniform(5, 6, n)),
    "few values": lambda n: (
        RNG.integers(0, 4, n).astype(float),
        RNG.integers(0, 5, n).astype(float),
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("n", [60, 3000])
def test_exact_numeric_equals_scipy(name: str, n: int) -> None:
    a, b = SAMPLES[name](n)
    values, ra, rb = _counts(a, b)
    st = ds.exact_numeric(values, ra, rb)
    ref = stats.ks_2samp(a, b, method="exact")
    assert st.ks == ref.statistic  # bit for bit
    auto = stats.ks_2samp(a, b, method="auto")
    assert st.ks_pvalue == pytest.approx(auto.pvalue, rel=1e-12, abs=1e-300)
    assert st.ks_pvalue_method == "exact"
    w = stats.wasserstein_distance(a, b) / np.std(a)
    assert st.wasserstein == pytest.approx(w, rel=1e-9, abs=1e-12)
    edges = np.unique(np.quantile(a, ds.DECILES, method="inverted_cdf"))
    pa = np.bincount(np.searchsorted(edges, a, side="left"), minlength=len(edges) + 1)
    pb = np.bincount(np.searchsorted(edges, b, side="left"), minlength=len(edges) + 1)
    assert st.jensenshannon == pytest.approx(jensenshannon(pa / n, pb / len(b)), abs=1e-9)
    assert st.psi_equal_width == pytest.approx(_evidently_psi(a, b), rel=1e-9, abs=1e-12)


def test_large_samples_use_the_asymptotic_p_value() -> None:
    a, b = RNG.normal(0, 1, 12_000), RNG.normal(0.02, 1, 15_000)
    values, ra, rb = _counts(a, b)
    st = ds.exact_numeric(values, ra, rb)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert st.ks == ref.statistic and st.ks_pvalue_method == "asymp"
    assert st.ks_pvalue == pytest.approx(ref.pvalue, rel=1e-12)


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        (["a"] * 30 + ["b"] * 10, ["a"] * 12 + ["b"] * 20),  # 2 x 2: Yates applies
        (["x"] * 50 + ["y"] * 30 + ["z"] * 20, ["x"] * 20 + ["y"] * 20 + ["w"] * 5),
    ],
)
def test_categorical_equals_chi2_contingency(ref: list[str], cur: list[str]) -> None:
    cats = sorted(set(ref) | set(cur))
    r = np.array([ref.count(c) for c in cats])
    c = np.array([cur.count(x) for x in cats])
    st = ds.categorical(cats, r, c)
    res = stats.chi2_contingency(np.vstack([r, c]))
    assert st.chi2 == pytest.approx(res.statistic, rel=1e-12)
    assert st.chi2_pvalue == pytest.approx(res.pvalue, rel=1e-12)
    assert st.jensenshannon == pytest.approx(jensenshannon(r / r.sum(), c / c.sum()), abs=1e-12)
    if "w" in cats:
        assert st.unseen == ("w",) and st.vanished == ("z",)


def _fine_bins(a: np.ndarray, b: np.ndarray, cells: int) -> tuple[np.ndarray, ...]:
    """The engine's binning in numpy: equal-width cells over the baseline's 0.1-99.9 %
    quantiles, doubling bins outside; per bin and sample: count, min, max."""
    lo, hi = np.quantile(a, [0.001, 0.999], method="inverted_cdf")
    inv = cells / (hi - lo)

    def bin_of(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where(
                x < lo,
                -1 - np.floor(np.log2(1 + (lo - x) * inv)),
                np.where(
                    x > hi,
                    cells + np.floor(np.log2(1 + (x - hi) * inv)),
                    np.minimum(np.floor((x - lo) * inv), cells - 1),
                ),
            ).astype(np.int64)

    ba, bb = bin_of(a), bin_of(b)
    keys = np.unique(np.concatenate([ba, bb]))
    out = []
    for x, bx in ((a, ba), (b, bb)):
        pos = np.searchsorted(keys, bx)
        n = np.bincount(pos, minlength=len(keys)).astype(float)
        mn = np.full(len(keys), np.inf)
        mx = np.full(len(keys), -np.inf)
        np.minimum.at(mn, pos, x)
        np.maximum.at(mx, pos, x)
        out += [n, np.where(np.isinf(mn), np.nan, mn), np.where(np.isinf(mx), np.nan, mx)]
    return tuple(out)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("cells", [20, 400])
def test_binned_stays_within_its_bound(name: str, cells: int) -> None:
    a, b = SAMPLES[name](5000)
    # Every sample has a central range (a column without one is counted exactly, not binned).
    assert np.quantile(a, 0.001) < np.quantile(a, 0.999)
    values, ra, rb = _counts(a, b)
    exact = ds.exact_numeric(values, ra, rb)
    n1, lo1, hi1, n2, lo2, hi2 = _fine_bins(a, b, cells)
    approx = ds.binned_numeric(n1, lo1, hi1, n2, lo2, hi2, float(np.std(a)))
    assert abs(approx.ks - exact.ks) <= approx.ks_bound + 1e-12
    assert abs(approx.wasserstein - exact.wasserstein) <= approx.wasserstein_bound + 1e-12
    assert approx.ks <= exact.ks + 1e-12  # the estimate is attained: a lower bound


def test_binned_bounds_are_tight_on_continuous_data() -> None:
    """The bound is not vacuous: 4000 cells on 50k normal rows pin KS within 0.005."""
    a, b = RNG.normal(0, 1, 50_000), RNG.normal(0.1, 1, 50_000)
    approx = ds.binned_numeric(*_fine_bins(a, b, 4000), float(np.std(a)))
    assert approx.ks_bound < 0.005
    assert approx.wasserstein_bound < 0.005
    assert approx.ks == pytest.approx(stats.ks_2samp(a, b).statistic, abs=0.005)


def test_single_value_bins_are_exact() -> None:
    a = RNG.integers(0, 30, 4000).astype(float)
    b = np.minimum(RNG.integers(2, 33, 4000), 29).astype(float)  # inside the central range
    approx = ds.binned_numeric(*_fine_bins(a, b, 2000), float(np.std(a)))
    assert approx.ks_bound == 0 and approx.wasserstein_bound == 0
    assert approx.ks == stats.ks_2samp(a, b).statistic
    w = stats.wasserstein_distance(a, b) / np.std(a)
    assert approx.wasserstein == pytest.approx(w, rel=1e-12)


def test_fill_zeros_follows_evidently() -> None:
    assert ds.fill_zeros(np.array([0.5, 0.5, 0.0]))[2] == 0.0001
    assert ds.fill_zeros(np.array([0.99995, 0.00005, 0.0]))[2] == pytest.approx(5e-11)


@pytest.mark.parametrize("n", [60, 3000, 12_000])
def test_ks_pvalue_on_demand_equals_the_eager_one(n: int) -> None:
    """Series and segments skip the KS p-value unless KS is their method; computed later it is
    the same statistic and p-value, bit for bit, in exact and binned mode."""
    a, b = RNG.normal(0, 1, n), RNG.normal(0.05, 1.1, n + 3)
    values, ra, rb = _counts(a, b)
    eager = ds.exact_numeric(values, ra, rb)
    lazy = ds.exact_numeric(values, ra, rb, pvalue=False)
    assert np.isnan(lazy.ks_pvalue) and lazy.ks_pvalue_method == "not computed"
    assert ds.with_ks_pvalue(lazy, exact=True) == eager
    bins = _fine_bins(a, b, 200)
    eager_b = ds.binned_numeric(*bins, float(np.std(a)))
    lazy_b = ds.binned_numeric(*bins, float(np.std(a)), pvalue=False)
    assert ds.with_ks_pvalue(lazy_b, exact=False) == eager_b
    assert ds.with_ks_pvalue(eager, exact=True) is eager
