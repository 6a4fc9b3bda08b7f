"""Build the demo warehouse: generate the estate, then ingest it through the warehouse writer.

Ingestion goes through the same public writer API a user's files go through (no back door), in
the order of ``answer_key["files"]``: specs first, then versions, stages, deployments, SLOs,
prices, quotas, budgets, events, labels, feedback, costs, incidents and changes. One writer
session publishes one snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sample_data.generator import generate


def build_demo(
    home: Path,
    *,
    seed: int = 7,
    events: int | None = None,
    progress: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Generate ``home/demo`` and ingest it into the warehouse at ``home``; returns the answer key.

    Rows that the warehouse quarantines are reported through ``progress`` (the demo files are
    meant to be clean, so any quarantine points at a contract mismatch). Re-running on an existing
    home regenerates identical files, which idempotent ingestion reports as duplicates.
    """
    from warehouse.store import Warehouse  # the generator itself does not need the warehouse

    home = Path(home)
    out = home / "demo"
    t0 = time.perf_counter()
    progress(f"Generating the demo estate in {out} (seed {seed}) ...")
    key = generate(out, seed=seed, events=events)
    n_events = sum(f["rows"] for f in key["files"] if f["kind"] == "events")
    progress(
        f"Generated {len(key['files'])} files, {n_events:,} inference events, in "
        f"{time.perf_counter() - t0:.1f} s"
    )

    warnings: list[str] = []
    wh = Warehouse(home)
    with wh.writer(actor="system:sample") as w:
        for spec in key["specs"]:
            w.register_model(out / spec["path"])
            progress(f"Registered model {spec['model']}")
        for f in key["files"]:
            if f["rows"] == 0:  # tiny test runs can leave a kind empty; empty files are refused
                progress(f"Skipped {f['path']} ({f['kind']}): no rows")
                continue
            t1 = time.perf_counter()
            if f["model"]:
                receipt = w.ingest(out / f["path"], kind=f["kind"], model=f["model"])
            else:
                receipt = w.ingest(out / f["path"], kind=f["kind"])
            progress(
                f"Ingested {f['path']} ({f['kind']}): {receipt.rows_accepted:,} of "
                f"{receipt.rows_read:,} rows in {time.perf_counter() - t1:.1f} s"
            )
            duplicates = receipt.rows_duplicate
            if receipt.already_ingested:
                continue
            if receipt.rows_read != f["rows"]:
                warnings.append(f"{f['path']}: read {receipt.rows_read} rows, wrote {f['rows']}")
            if receipt.rows_quarantined and receipt.rows_quarantined != duplicates:
                warnings.append(
                    f"{f['path']}: {receipt.rows_quarantined - duplicates} rows quarantined "
                    f"(batch {receipt.batch_id})"
                )
    for message in warnings:
        progress(f"warning: {message}")
    progress(f"Demo warehouse ready in {time.perf_counter() - t0:.1f} s")
    return key
