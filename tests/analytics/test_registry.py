"""The registry seam: verified skops loading, trusted types only, refusals with clear errors."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics import registry
from analytics.registry import ArtifactError, ArtifactRef, load_model
from tests.analytics.test_explain_fixtures import MODEL, byo  # noqa: F401 - fixture
from warehouse.store import Warehouse


@pytest.fixture(scope="module")
def byo_con(byo: dict[str, Any]):  # noqa: F811
    with contextlib.closing(Warehouse(byo["home"]).connect()) as con:
        yield con


# ------------------------------------------------------------------------------ the demo estate


@pytest.mark.parametrize(
    ("model", "version", "family", "dropped"),
    [
        ("candidate-screener", "1.0", "linear", {"commute_zone"}),
        ("candidate-screener", "2.0", "lightgbm", set()),
        ("candidate-screener", "2.1", "lightgbm", {"commute_zone"}),
        ("ticket-router", "1.0", "lightgbm", {"customer_selected_topic"}),
        ("ticket-router", "2.1", "lightgbm", set()),
    ],
)
def test_demo_artifacts_load_with_features(
    demo_con, health_demo: Path, demo_key: dict, model: str, version: str, family: str, dropped
) -> None:
    lm = load_model(demo_con, health_demo, model, version)
    art = demo_key["models"][model]["artifacts"][version]
    assert lm.sha256 == art["sha256"]
    assert lm.family == family
    # what skops itself reports untrusted is what the generator recorded, and all allow-listed
    assert list(lm.trusted) == art["trusted_types"]
    assert set(lm.trusted) <= registry.TRUSTED_TYPES
    assert set(lm.inputs) - set(lm.features) == dropped
    assert len(lm.transformed) == len(lm.source_of)
    assert set(lm.source_of) == set(lm.features)


def test_loaded_screener_reproduces_the_logged_scores(demo_con, health_demo: Path) -> None:
    """The artifact loaded is the one that served: its P(advance) equals the logged score."""
    lm = load_model(demo_con, health_demo, "candidate-screener", "2.0")
    with demo_con.cursor() as cur:
        df = cur.sql(
            'SELECT f.*, e.score FROM inference_events e JOIN features."candidate-screener" f '
            "USING (request_id) WHERE e.model_version = '2.0' AND e.status = 'ok' "
            "ORDER BY request_id LIMIT 500"
        ).pl()
    p = lm.estimator.predict_proba(df.select(lm.inputs).to_pandas())
    p_adv = p[:, list(lm.classes).index("advance")]
    np.testing.assert_allclose(p_adv, df["score"].to_numpy(), atol=1e-6)


def test_newest_version_with_an_artifact(demo_con, health_demo: Path) -> None:
    refs = registry.artifact_refs(demo_con, "ticket-router")
    lm = load_model(demo_con, health_demo, "ticket-router")
    assert lm.version == next(r.version for r in refs if r.available)
    with pytest.raises(ArtifactError, match="no version with a skops artifact"):
        load_model(demo_con, health_demo, "support-assistant")
    with pytest.raises(ArtifactError, match="has no model artifact"):
        load_model(demo_con, health_demo, "support-assistant", "1.4")


def test_unknown_model_and_version(demo_con, health_demo: Path) -> None:
    with pytest.raises(ArtifactError, match=r"no version '9\.9'.*registered: 1\.0, 2\.0, 2\.1"):
        load_model(demo_con, health_demo, "ticket-router", "9.9")
    with pytest.raises(ArtifactError, match="'nope' has no registered versions"):
        load_model(demo_con, health_demo, "nope")


def test_bound_hides_later_versions(demo_con, health_demo: Path) -> None:
    """Under a bound before model_versions arrived, the version does not exist yet."""
    first = min(r.batch_id for r in registry.artifact_refs(demo_con, "ticket-router"))
    with pytest.raises(ArtifactError, match="no registered versions"):
        load_model(demo_con, health_demo, "ticket-router", "2.1", as_of_batch=first - 1)


# --------------------------------------------------------------------------- hostile artifacts


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("6.6-pickle", r"loan-scorer-6\.6-pickle\.skops: this is a pickle.*refused"),
        (
            "6.6-custom",
            r"refusing untrusted type\(s\) tests\.analytics\.test_explain_fixtures\.Evil",
        ),
        ("6.6-os-system", r"refusing untrusted type\(s\) os\.system"),
        ("6.6-tampered", r"loan-scorer-1\.0\.skops: SHA-256 [0-9a-f]{64} does not match"),
        ("6.6-missing", r"artifact file not found: .*absent\.skops"),
        ("6.6-escape", r"points outside the warehouse home"),
    ],
)
def test_hostile_artifacts_are_refused(byo, byo_con, version: str, message: str) -> None:  # noqa: F811
    with pytest.raises(ArtifactError, match=message):
        load_model(byo_con, byo["home"], MODEL, version)


def test_the_byo_versions_load(byo, byo_con) -> None:  # noqa: F811
    families = {
        v: load_model(byo_con, byo["home"], MODEL, v).family for v in ("1.0", "1.1", "1.2", "1.3")
    }
    assert families == {"1.0": "lightgbm", "1.1": "linear", "1.2": "tree", "1.3": "other"}


def _ref(uri: str | None, fmt: str | None = "skops", sha: str | None = "0" * 64) -> ArtifactRef:
    return ArtifactRef("m", "1", uri, sha, fmt, 1)


@pytest.mark.parametrize(
    ("uri", "fmt", "sha", "message"),
    [
        (None, "none", None, "has no model artifact"),
        ("", "skops", "0" * 64, "has no model artifact"),
        ("m.pkl", "pickle", "0" * 64, "format 'pickle' is not loaded"),
        ("m.onnx", "onnx", "0" * 64, "format 'onnx' is not loaded"),
        ("https://evil.example/m.skops", "skops", "0" * 64, "is a URL"),
        ("file:///etc/passwd", "skops", "0" * 64, "is a URL"),
        ("/etc/passwd", "skops", "0" * 64, "is absolute"),
        ("models/../../etc/passwd", "skops", "0" * 64, "outside the warehouse home"),
        ("models/a\x00b", "skops", "0" * 64, "NUL byte"),
        ("models/m.skops", "skops", None, "no artifact_sha256 registered"),
    ],
)
def test_malformed_references(tmp_path: Path, uri, fmt, sha, message: str) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.skops").write_bytes(b"PK\x03\x04")
    with pytest.raises(ArtifactError, match=message):
        registry.load_ref(tmp_path, _ref(uri, fmt, sha))


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    with pytest.raises(ArtifactError, match="not a file"):
        registry.read_verified(tmp_path / "models", "0" * 64)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "not a skops archive"),
        (b"hello world", "not a skops archive"),
        (b"\x80\x04\x95\x00", "this is a pickle"),
        (b"PK\x05\x06" + b"\x00" * 18, "unreadable skops archive"),  # an empty zip
    ],
)
def test_load_skops_bytes_refuses_junk(blob: bytes, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        registry.load_skops_bytes(blob, "x.skops")


def test_allow_list_is_what_is_trusted(byo) -> None:  # noqa: F811
    """Without LightGBM on the allow-list, a LightGBM artifact is refused by name."""
    blob = (byo["home"] / "byo" / "models" / f"{MODEL}-1.0.skops").read_bytes()
    with pytest.raises(ArtifactError, match=r"lightgbm\.basic\.Booster"):
        registry.load_skops_bytes(blob, "m.skops", trusted=frozenset())
