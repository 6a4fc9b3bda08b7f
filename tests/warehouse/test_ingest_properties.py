"""Properties of ingestion over generated input: no traceback on arbitrary bytes, conservation,
idempotence."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.warehouse.conftest import COLUMNS, SPEC, make_rows, write_csv
from warehouse.errors import IngestError
from warehouse.store import Warehouse

HEADER = (",".join(COLUMNS) + "\n").encode()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("props") / "home")
    with wh.writer(actor="test") as w:
        w.register_model(SPEC)
    return wh


def ingest_bytes(wh: Warehouse, data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"events{suffix}"
        path.write_bytes(data)
        with wh.writer(actor="test") as w:
            try:
                return w.ingest(path, kind="events", model="loan-risk")
            except IngestError as e:
                assert str(e) and "\n" not in str(e).strip()
                return None


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.binary(max_size=2000),
    with_header=st.booleans(),
    suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]),
)
def test_arbitrary_bytes_never_raise_anything_but_ingest_error(
    shared: Warehouse, body: bytes, with_header: bool, suffix: str
) -> None:
    receipt = ingest_bytes(shared, (HEADER if with_header else b"") + body, suffix)
    if receipt is not None:
        assert receipt.rows_accepted + receipt.rows_quarantined == receipt.rows_read


field_text = st.text(max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    mutations=st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from(COLUMNS), field_text), max_size=12
    ),
    start=st.integers(0, 10_000),
)
def test_conservation_and_idempotence_on_mutated_rows(
    shared: Warehouse, mutations: list, start: int
) -> None:
    rows = make_rows(10, seed=start, start=start)
    for i, col, value in mutations:
        rows[i][col] = value
    with tempfile.TemporaryDirectory() as d:
        path = write_csv(Path(d) / "e.csv", rows)
        with shared.writer(actor="test") as w:
            first = w.ingest(path, kind="events", model="loan-risk")
            again = w.ingest(path, kind="events", model="loan-risk")
    assert first.rows_read == 10
    assert first.rows_accepted + first.rows_quarantined == first.rows_read
    assert again.already_ingested and again.batch_id == first.batch_id
