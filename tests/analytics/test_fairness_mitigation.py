"""ThresholdOptimizer what-if: a seeded sample of labelled requests, fit on one half and
evaluated on the other; the constraint it optimises for goes down, the "before" row is the
logged decisions, and too few labels give no what-if."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference

from analytics.mitigation import MitigationConfig, sample_rows, threshold_what_if
from analytics.scope import Scope, Window

MODEL = "candidate-screener"


def _scope(key: dict[str, Any], version: str) -> Scope:
    first, last = key["scenarios"]["bias"]["served"][version]
    return Scope(
        model=MODEL,
        analysis=Window.days(date.fromisoformat(first[:10]), date.fromisoformat(last[:10])),
        versions=(version,),
    )


def test_what_if_reduces_the_disparity_it_targets(demo_con: Any, demo_key: dict[str, Any]) -> None:
    scope = _scope(demo_key, "2.0")
    result = threshold_what_if(demo_con, scope, ["sex"])
    m = {r["constraint"]: r for r in result.frame("mitigation").iter_rows(named=True)}
    assert set(m) == {"none", "demographic_parity", "equalized_odds"}
    before = m["none"]
    assert (
        m["demographic_parity"]["demographic_parity_difference"]
        < 0.5 * (before["demographic_parity_difference"])
    )
    assert m["equalized_odds"]["equalized_odds_difference"] < before["equalized_odds_difference"]
    # "before" is the logged decisions of the evaluation half: recompute it from the sample.
    df, *_ = sample_rows(demo_con, scope, ["sex"])
    assert df["y_true"].null_count() == 0 and df["group"].null_count() == 0
    rng = np.random.default_rng(MitigationConfig().seed)
    ev = ~(rng.permutation(df.height) % 2 == 0)
    y, p, g = (df[c].to_numpy()[ev] for c in ("y_true", "y_pred", "group"))
    assert before["accuracy"] == np.mean(y == p)
    assert before["demographic_parity_difference"] == demographic_parity_difference(
        y, p, sensitive_features=g
    )
    again = threshold_what_if(demo_con, scope, ["sex"])
    assert again.frame("mitigation").equals(result.frame("mitigation"))  # seeded
    assert any("not a recommendation" in f.message for f in result.findings)


def test_too_few_labels_gives_no_what_if(demo_con: Any, demo_key: dict[str, Any]) -> None:
    result = threshold_what_if(demo_con, _scope(demo_key, "2.1"), ["sex"])  # ~45 labels
    assert result.frame("mitigation").height == 0
    assert "no what-if" in result.findings[0].message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_size": 10}, "sample_size"),
        ({"sample_size": True}, "whole number"),
        ({"constraints": ("true_positive_rate_parity",)}, "constraints"),
        ({"constraints": ()}, "constraints"),
    ],
)
def test_bad_config(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MitigationConfig(**kwargs)
