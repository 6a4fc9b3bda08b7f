"""Service-management records of the demo estate: the storyline as changes, incidents and more.

Every date comes from :class:`Story`, so events, records and the answer key agree by
construction. Times are epoch milliseconds until they are written as ISO text.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from sample_data._common import (
    MS_PER_DAY,
    MS_PER_HOUR,
    MS_PER_MINUTE,
    Calendar,
    iso,
    iso_date,
    month_starts,
    rng_for,
    to_ms,
)

ROUTER, SCREENER, ASSISTANT = "ticket-router", "candidate-screener", "support-assistant"
TEAMS = {ROUTER: "service-desk-ml", SCREENER: "people-analytics", ASSISTANT: "customer-care-ai"}
OWNERS = {ROUTER: "amira.hassan", SCREENER: "priya.nair", ASSISTANT: "elena.rossi"}
CAB_CHAIR = "mei.tanaka"


@dataclass(frozen=True)
class Story:
    """Scenario timestamps (epoch ms) on the scaled calendar."""

    cal: Calendar
    # router
    rtr_v20_created: int
    rtr_canary: int
    rtr_promote: int
    rtr_latency_from: int
    rtr_latency_to: int
    rtr_v21_created: int
    rtr_bad: int
    rtr_rollback: int
    rtr_drift: int
    # screener
    scr_v20_created: int
    scr_v2: int
    scr_fairness_incident: int
    scr_v21_created: int
    scr_v21: int
    # assistant
    ast_v15: int
    ast_v151: int
    ast_outage_from: int
    ast_outage_to: int
    price_change: int

    @classmethod
    def build(cls, cal: Calendar) -> Story:
        a = cal.at
        return cls(
            cal=cal,
            rtr_v20_created=a(28, 15),
            rtr_canary=a(40, 10),
            rtr_promote=a(47, 10),
            rtr_latency_from=a(60, 8),
            rtr_latency_to=a(66, 14),
            rtr_v21_created=a(92, 15),
            rtr_bad=a(100, 10),
            rtr_rollback=a(110, 16),
            rtr_drift=a(130, 0),
            scr_v20_created=a(60, 11),
            scr_v2=a(75, 9),
            scr_fairness_incident=a(118, 9.5),
            scr_v21_created=a(115, 14),
            scr_v21=a(125, 9),
            ast_v15=a(95, 9),
            ast_v151=a(122, 9),
            ast_outage_from=a(150, 13 + 5 / 60),
            ast_outage_to=a(150, 15 + 50 / 60),
            price_change=a(61, 0),
        )

    @property
    def pre(self) -> int:
        """Well before the period: when the first versions went live."""
        return self.cal.start_ms - 100 * MS_PER_DAY


# ------------------------------------------------------------------------------------ changes


@dataclass
class Change:
    key: str
    model: str | None
    version: str | None
    change_type: str
    category: str
    title: str
    requested_by: str
    requested_at: int
    deployed_by: str | None
    deployed_at: int | None
    approved_by: str | None = None
    approved_at: int | None = None
    retrospective: bool = False
    cab_ref: str | None = None
    risk: str = "medium"
    backout: str = "Redeploy the previous release from the registry."
    outcome: str = "successful"
    violation: str | None = None
    change_id: str = ""


def build_changes(s: Story) -> list[Change]:
    """The change calendar, four planted control violations included (see ``violation``)."""
    a = s.cal.at
    catalogue = s.pre - 20 * MS_PER_DAY  # when the CAB approved the standard-change catalogue
    cab = "CAB-{}"
    changes = [
        Change(
            "ast-fallback-config",
            ASSISTANT,
            "1.4",
            "normal",
            "config",
            "Gateway: fail over to the fallback model after one upstream error",
            "daniel.roth",
            a(18, 10),
            "tom.okafor",
            a(20, 9),
            CAB_CHAIR,
            a(19, 14),
            cab_ref=cab.format("W21"),
            risk="low",
        ),
        Change(
            "rtr-canary",
            ROUTER,
            "2.0",
            "normal",
            "model",
            "Ticket router 2.0 canary at 10% of traffic",
            "lars.becker",
            a(36, 10),
            "tom.okafor",
            s.rtr_canary,
            CAB_CHAIR,
            a(38, 15),
            cab_ref=cab.format("W24"),
        ),
        Change(
            "rtr-promote",
            ROUTER,
            "2.0",
            "normal",
            "model",
            "Promote ticket router 2.0 to 100% of traffic",
            "lars.becker",
            a(45, 10),
            "tom.okafor",
            s.rtr_promote,
            CAB_CHAIR,
            a(46, 15),
            cab_ref=cab.format("W25"),
        ),
        Change(
            "rtr-autoscaler",
            ROUTER,
            "2.0",
            "normal",
            "infra",
            "Router inference pool: new autoscaler profile (cost saving)",
            "jonas.weber",
            a(57, 10),
            "jonas.weber",
            s.rtr_latency_from,
            CAB_CHAIR,
            a(58, 15),
            cab_ref=cab.format("W27"),
            outcome="rolled_back",
            backout="Restore the previous autoscaler profile.",
        ),
        Change(
            "rtr-autoscaler-revert",
            ROUTER,
            "2.0",
            "emergency",
            "infra",
            "Emergency: revert router autoscaler profile (latency incident)",
            "tom.okafor",
            s.rtr_latency_to - 30 * MS_PER_MINUTE,
            "tom.okafor",
            s.rtr_latency_to,
            risk="high",
            violation="emergency_without_retrospective_approval",
        ),
        Change(
            "scr-v2.0",
            SCREENER,
            "2.0",
            "normal",
            "model",
            "Candidate screener 2.0 (LightGBM, historical recruiter decisions)",
            "sofia.marin",
            a(71, 10),
            "tom.okafor",
            s.scr_v2,
            "kofi.mensah",
            a(73, 16),
            cab_ref=cab.format("W29"),
            risk="high",
        ),
        Change(
            "rtr-langdetect",
            ROUTER,
            "2.0",
            "normal",
            "data_pipeline",
            "Router feature pipeline: language-detection fallback for short tickets",
            "lars.becker",
            a(84, 9),
            "lars.becker",
            a(85, 11),
            risk="low",
            violation="deployed_without_approval",
        ),
        Change(
            "ast-quota",
            ASSISTANT,
            "1.4",
            "standard",
            "config",
            "Raise provider token quota (standard change SC-07)",
            "daniel.roth",
            a(93, 9),
            "tom.okafor",
            a(94, 10),
            CAB_CHAIR,
            catalogue,
            cab_ref="SC-07",
            risk="low",
            backout="Lower the quota again in the provider console.",
        ),
        Change(
            "ast-v3.0",
            ASSISTANT,
            "1.5",
            "normal",
            "prompt",
            "Prompt template v3.0: add the top-8 knowledge-base articles to the context",
            "daniel.roth",
            a(93, 11),
            "daniel.roth",
            s.ast_v15,
            "daniel.roth",
            a(94, 16),
            cab_ref=cab.format("W32"),
            backout="Switch the gateway back to template v2.3.",
            violation="approver_is_requester",
        ),
        Change(
            "rtr-v2.1",
            ROUTER,
            "2.1",
            "normal",
            "model",
            "Ticket router 2.1 (retrained on the June ticket export)",
            "lars.becker",
            a(98, 10),
            "lars.becker",
            s.rtr_bad,
            CAB_CHAIR,
            a(102, 15),
            cab_ref=cab.format("W33"),
            outcome="rolled_back",
            violation="approved_after_deployment",
        ),
        Change(
            "rtr-rollback",
            ROUTER,
            "2.0",
            "emergency",
            "model",
            "Emergency rollback of ticket router 2.1 to 2.0 (quality incident)",
            "jonas.weber",
            s.rtr_rollback - 20 * MS_PER_MINUTE,
            "tom.okafor",
            s.rtr_rollback,
            CAB_CHAIR,
            s.rtr_rollback + 19 * MS_PER_HOUR,
            retrospective=True,
            cab_ref="ECAB-" + iso_date(s.rtr_rollback),
            risk="high",
        ),
        Change(
            "ast-v3.1",
            ASSISTANT,
            "1.5.1",
            "normal",
            "prompt",
            "Prompt template v3.1: top-3 snippets instead of full articles",
            "daniel.roth",
            a(119, 10),
            "tom.okafor",
            s.ast_v151,
            CAB_CHAIR,
            a(120, 15),
            cab_ref=cab.format("W35"),
            risk="low",
            backout="Switch the gateway back to template v3.0.",
        ),
        Change(
            "scr-v2.1",
            SCREENER,
            "2.1",
            "normal",
            "model",
            "Candidate screener 2.1 (outcome labels, commute zone removed)",
            "sofia.marin",
            a(121, 10),
            "tom.okafor",
            s.scr_v21,
            "kofi.mensah",
            a(123, 16),
            cab_ref=cab.format("W36"),
            risk="high",
        ),
        Change(
            "ast-fallback-upgrade",
            ASSISTANT,
            "1.5.1",
            "normal",
            "vendor_model",
            "Fallback model: vendor minor upgrade of cc-assist-mini",
            "daniel.roth",
            a(138, 10),
            "tom.okafor",
            a(140, 9),
            CAB_CHAIR,
            a(139, 15),
            cab_ref=cab.format("W38"),
            risk="low",
        ),
        Change(
            "ast-failover",
            ASSISTANT,
            "1.5.1",
            "emergency",
            "config",
            "Emergency: pin all assistant traffic to the fallback provider (outage)",
            "tom.okafor",
            s.ast_outage_from + 25 * MS_PER_MINUTE,
            "tom.okafor",
            s.ast_outage_from + 33 * MS_PER_MINUTE,
            "jonas.weber",
            s.ast_outage_from + 20 * MS_PER_HOUR,
            retrospective=True,
            cab_ref="ECAB-" + iso_date(s.ast_outage_from),
            risk="medium",
        ),
    ]
    for i, ref_day in enumerate((10, 40, 70, 100, 130, 160)):
        changes.append(
            Change(
                f"ast-key-rotation-{i + 1}",
                ASSISTANT,
                None,
                "standard",
                "infra",
                "Monthly rotation of the LLM provider API keys (standard change SC-02)",
                "tom.okafor",
                a(ref_day, 8),
                "tom.okafor",
                a(ref_day, 9),
                CAB_CHAIR,
                catalogue,
                cab_ref="SC-02",
                risk="low",
                backout="Re-activate the previous key (kept for 24 hours).",
            )
        )
    changes.append(
        Change(
            "rtr-cert-renewal",
            ROUTER,
            None,
            "standard",
            "infra",
            "TLS certificate renewal for the router endpoint (standard change SC-05)",
            "jonas.weber",
            a(55, 8),
            "jonas.weber",
            a(55, 9),
            CAB_CHAIR,
            catalogue,
            cab_ref="SC-05",
            risk="low",
        )
    )
    changes.sort(key=lambda c: (c.deployed_at or c.requested_at, c.key))
    year = s.cal.start.year
    for i, c in enumerate(changes):
        c.change_id = f"CHG-{year}-{101 + i:04d}"
    return changes


def change_rows(changes: list[Change]) -> list[dict[str, Any]]:
    """One row per change; emergency changes with a retrospective approval get two revisions."""
    rows = []
    for c in changes:
        base = {
            "change_id": c.change_id,
            "model": c.model,
            "model_version": c.version,
            "change_type": c.change_type,
            "category": c.category,
            "title": c.title,
            "requested_by": c.requested_by,
            "requested_at": iso(c.requested_at),
            "approved_by": c.approved_by,
            "approved_at": iso(c.approved_at),
            "retrospective_approval": c.retrospective,
            "deployed_by": c.deployed_by,
            "deployed_at": iso(c.deployed_at),
            "emergency": c.change_type == "emergency",
            "cab_ref": c.cab_ref,
            "risk": c.risk,
            "backout_plan": c.backout,
            "outcome": c.outcome,
        }
        last = max(t for t in (c.deployed_at, c.approved_at, c.requested_at) if t is not None)
        if c.retrospective:
            first = dict(base, approved_by=None, approved_at=None, retrospective_approval=False)
            first["cab_ref"] = None
            first["revision_at"] = iso((c.deployed_at or c.requested_at) + 10 * MS_PER_MINUTE)
            rows.append(first)
        rows.append(dict(base, revision_at=iso(last + 30 * MS_PER_MINUTE)))
    return rows


CHANGE_COLUMNS = [
    "change_id",
    "model",
    "model_version",
    "change_type",
    "category",
    "title",
    "requested_by",
    "requested_at",
    "approved_by",
    "approved_at",
    "retrospective_approval",
    "deployed_by",
    "deployed_at",
    "emergency",
    "cab_ref",
    "risk",
    "backout_plan",
    "outcome",
    "revision_at",
]


# ---------------------------------------------------------------------------------- incidents


@dataclass
class Incident:
    incident_id: str
    model: str | None
    title: str
    severity: str
    category: str
    opened_at: int
    acknowledged_at: int
    mitigated_at: int | None
    resolved_at: int
    closed_at: int
    detection_source: str
    root_cause: str
    change_id: str | None
    pir_ref: str | None
    requests_affected: int | None
    ai_act_serious: bool = False

    @property
    def mtta_minutes(self) -> int:
        return (self.acknowledged_at - self.opened_at) // MS_PER_MINUTE

    @property
    def mttr_minutes(self) -> int:
        return (self.resolved_at - self.opened_at) // MS_PER_MINUTE


def _minute(ms: int) -> int:
    return ms - ms % MS_PER_MINUTE


def build_incidents(
    s: Story, changes: dict[str, Change], affected: dict[str, int]
) -> list[Incident]:
    """Incidents of the period; ``affected`` holds realised request counts per scenario."""
    a = s.cal.at
    year = s.cal.start.year
    m = MS_PER_MINUTE
    lat_open = _minute(s.rtr_latency_from + 25 * m)
    out = [
        Incident(
            "",
            ROUTER,
            "Ticket labels from the service-desk tool delayed by 6 hours",
            "SEV4",
            "availability",
            a(15, 6.5),
            a(15, 6.5) + 95 * m,
            None,
            a(15, 12.5),
            a(16, 9),
            "alert",
            "Export job of the ticketing system stuck on a schema change.",
            None,
            None,
            None,
        ),
        Incident(
            "",
            ASSISTANT,
            "Customer reports card number visible in a chat transcript export",
            "SEV3",
            "privacy",
            a(33, 10 + 5 / 60),
            a(33, 10 + 40 / 60),
            a(33, 13),
            a(34, 16),
            a(36, 10),
            "user",
            "Transcript export bypassed the redaction step for attachments.",
            None,
            None,
            None,
        ),
        Incident(
            "",
            ROUTER,
            "Router p95 latency above 300 ms SLO",
            "SEV2",
            "latency",
            lat_open,
            lat_open + 7 * m,
            s.rtr_latency_to,
            _minute(s.rtr_latency_to + 70 * m),
            _minute(s.rtr_latency_to + 2 * MS_PER_DAY),
            "alert",
            "Autoscaler profile capped the inference pool at two replicas; requests queued at "
            "business-hours load.",
            changes["rtr-autoscaler"].change_id,
            f"PIR-{year}-004",
            affected["latency"],
        ),
        Incident(
            "",
            ASSISTANT,
            "Jailbreak attempts against the support assistant",
            "SEV3",
            "security",
            a(70, 21 + 14 / 60),
            a(70, 21 + 36 / 60),
            a(70, 22),
            a(71, 0 + 14 / 60),
            a(72, 10),
            "alert",
            "Burst of prompt-injection attempts from one client; blocked by the content filter.",
            None,
            None,
            None,
        ),
        Incident(
            "",
            ROUTER,
            "Misrouted tickets after router 2.1 release",
            "SEV2",
            "quality",
            a(103, 11 + 20 / 60),
            a(103, 12 + 5 / 60),
            s.rtr_rollback,
            _minute(s.rtr_rollback + 2 * MS_PER_HOUR),
            _minute(s.rtr_rollback + 3 * MS_PER_DAY),
            "user",
            "Billing and account labels swapped in the training export used for 2.1.",
            changes["rtr-v2.1"].change_id,
            f"PIR-{year}-005",
            affected["quality"],
        ),
        Incident(
            "",
            ASSISTANT,
            "LLM spend forecast above the monthly budget",
            "SEV3",
            "cost",
            a(105, 8),
            a(105, 11 + 10 / 60),
            None,
            _minute(s.ast_v151 + MS_PER_HOUR),
            _minute(s.ast_v151 + 2 * MS_PER_DAY),
            "alert",
            "Template v3.0 sends eight full knowledge-base articles with every call.",
            changes["ast-v3.0"].change_id,
            None,
            None,
        ),
        Incident(
            "",
            SCREENER,
            "Adverse impact in candidate screener 2.0 selection rates",
            "SEV1",
            "fairness",
            s.scr_fairness_incident,
            s.scr_fairness_incident + 12 * m,
            _minute(s.scr_fairness_incident + 6 * MS_PER_HOUR),
            s.scr_v21,
            _minute(s.scr_v21 + 7 * MS_PER_DAY),
            "audit",
            "Version 2.0 learned recruiters' historical penalties through the commute-zone and "
            "employment-gap features.",
            changes["scr-v2.0"].change_id,
            f"PIR-{year}-006",
            affected["fairness"],
            ai_act_serious=True,
        ),
        Incident(
            "",
            SCREENER,
            "Nightly re-scoring batch finished 9 hours late",
            "SEV4",
            "latency",
            a(140, 2 + 10 / 60),
            a(140, 6 + 10 / 60),
            None,
            a(140, 11 + 10 / 60),
            a(141, 9),
            "alert",
            "Feature-store compaction ran at the same time as the batch.",
            None,
            None,
            None,
        ),
        Incident(
            "",
            ASSISTANT,
            "Primary LLM provider outage",
            "SEV2",
            "availability",
            _minute(s.ast_outage_from + 7 * m),
            _minute(s.ast_outage_from + 15 * m),
            changes["ast-failover"].deployed_at,
            _minute(s.ast_outage_to + 5 * m),
            _minute(s.ast_outage_to + MS_PER_DAY),
            "vendor",
            "Regional outage at the primary provider; the gateway served the fallback model.",
            changes["ast-failover"].change_id,
            f"PIR-{year}-007",
            affected["outage"],
        ),
    ]
    out.sort(key=lambda i: i.opened_at)
    for k, inc in enumerate(out):
        inc.incident_id = f"INC-{year}-{k + 1:04d}"
    return out


def incident_rows(incidents: list[Incident]) -> list[dict[str, Any]]:
    """An 'opened' revision, then the final one (SEV4s are recorded once, when closed)."""
    rows = []
    for inc in incidents:
        final = {
            "incident_id": inc.incident_id,
            "model": inc.model,
            "title": inc.title,
            "severity": inc.severity,
            "category": inc.category,
            "opened_at": iso(inc.opened_at),
            "acknowledged_at": iso(inc.acknowledged_at),
            "mitigated_at": iso(inc.mitigated_at),
            "resolved_at": iso(inc.resolved_at),
            "closed_at": iso(inc.closed_at),
            "detection_source": inc.detection_source,
            "root_cause": inc.root_cause,
            "change_id": inc.change_id,
            "pir_ref": inc.pir_ref,
            "requests_affected": inc.requests_affected,
            "ai_act_serious": inc.ai_act_serious,
            "awareness_at": iso(inc.opened_at) if inc.ai_act_serious else None,
            "revision_at": iso(inc.closed_at),
        }
        if inc.severity != "SEV4":
            opened = dict(
                final,
                acknowledged_at=None,
                mitigated_at=None,
                resolved_at=None,
                closed_at=None,
                root_cause=None,
                pir_ref=None,
                requests_affected=None,
                revision_at=iso(inc.opened_at + MS_PER_MINUTE),
            )
            rows.append(opened)
        rows.append(final)
    return rows


INCIDENT_COLUMNS = [
    "incident_id",
    "model",
    "title",
    "severity",
    "category",
    "opened_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "detection_source",
    "root_cause",
    "change_id",
    "pir_ref",
    "requests_affected",
    "ai_act_serious",
    "awareness_at",
    "revision_at",
]


# ------------------------------------------------------------ versions, stages, deployments


def _commit(seed: int, *names: str) -> str:
    return "".join(f"{b:02x}" for b in rng_for(seed, "commit", *names).integers(0, 256, 20))


def version_rows(
    seed: int,
    s: Story,
    changes: dict[str, Change],
    artifacts: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    """model_versions per model. ``artifacts`` maps (model, version) to uri, sha, rows, metrics."""
    a = s.cal.at
    pre = s.pre

    def row(
        model: str,
        version: str,
        parent: str | None,
        created: int,
        approved_by: str,
        approved_at: int,
        retired: int | None,
        notes: str,
        risk: str,
        intended: str,
    ) -> dict[str, Any]:
        art = artifacts.get((model, version))
        return {
            "model_version": version,
            "parent_version": parent,
            "created_at": iso(created),
            "artifact_uri": art["uri"] if art else None,
            "artifact_sha256": art["sha256"] if art else None,
            "artifact_format": "skops" if art else "none",
            "training_data_ref": art["training_data_ref"] if art else None,
            "training_rows": art["training_rows"] if art else None,
            "code_commit": _commit(seed, model, version),
            "intended_use": intended,
            "risk_tier": risk,
            "owner": OWNERS[model],
            "approved_by": approved_by,
            "approved_at": iso(approved_at),
            "retirement_date": iso_date(retired) if retired is not None else None,
            "declared_metrics": json.dumps(art["metrics"], sort_keys=True) if art else None,
            "notes": notes,
        }

    rtr_use = "Route support tickets to service-desk queues."
    scr_use = "Advance or reject job applications for a recruiter interview (AEDT)."
    ast_use = "Answer customer questions in the help-centre chat."
    return {
        ROUTER: [
            row(ROUTER, "1.0", None, pre - 20 * MS_PER_DAY, "amira.hassan", pre - 3 * MS_PER_DAY,
                s.rtr_promote, "Baseline router without the customer-selected topic.", "low",
                rtr_use),
            row(ROUTER, "2.0", "1.0", s.rtr_v20_created, "amira.hassan", a(38, 11), None,
                "Adds the customer-selected topic; canary first.", "low", rtr_use),
            row(ROUTER, "2.1", "2.0", s.rtr_v21_created, "amira.hassan", a(102, 15),
                a(124, 0), "Retrained on the June export; rolled back.", "low", rtr_use),
        ],
        SCREENER: [
            row(SCREENER, "1.0", None, pre - 30 * MS_PER_DAY, "kofi.mensah", pre - 5 * MS_PER_DAY,
                a(89, 0), "Logistic regression on 90-day hire outcomes.", "high", scr_use),
            row(SCREENER, "2.0", "1.0", s.scr_v20_created, "kofi.mensah", a(73, 16), s.scr_v21,
                "LightGBM on historical recruiter decisions; withdrawn after the bias audit.",
                "high", scr_use),
            row(SCREENER, "2.1", "2.0", s.scr_v21_created, "kofi.mensah", a(123, 16), None,
                "LightGBM on 90-day hire outcomes; commute zone removed.", "high", scr_use),
        ],
        ASSISTANT: [
            row(ASSISTANT, "1.4", None, pre - 10 * MS_PER_DAY, "elena.rossi", pre - 2 * MS_PER_DAY,
                s.ast_v15, "Prompt template v2.3.", "medium", ast_use),
            row(ASSISTANT, "1.5", "1.4", a(92, 10), "daniel.roth", a(94, 16), s.ast_v151,
                "Prompt template v3.0 (full knowledge-base articles in context).", "medium",
                ast_use),
            row(ASSISTANT, "1.5.1", "1.5", a(118, 10), "elena.rossi", a(120, 15), None,
                "Prompt template v3.1 (top-3 snippets).", "medium", ast_use),
        ],
    }  # fmt: skip


def stage_rows(s: Story, changes: dict[str, Change]) -> dict[str, list[dict[str, Any]]]:
    a = s.cal.at
    pre = s.pre
    cid = {k: c.change_id for k, c in changes.items()}

    def st(v: str, stage: str, at: int, by: str, change: str | None, reason: str) -> dict:
        return {
            "model_version": v,
            "stage": stage,
            "effective_at": iso(at),
            "changed_by": by,
            "change_id": cid.get(change) if change else None,
            "reason": reason,
        }

    rows = {
        ROUTER: [
            st("1.0", "development", pre - 20 * MS_PER_DAY, "lars.becker", None, "registered"),
            st("1.0", "production", pre, "tom.okafor", None, "initial release"),
            st("2.0", "development", s.rtr_v20_created, "lars.becker", None, "registered"),
            st("2.0", "canary", s.rtr_canary, "tom.okafor", "rtr-canary", "10% canary"),
            st("2.0", "production", s.rtr_promote, "tom.okafor", "rtr-promote", "canary passed"),
            st("1.0", "retired", s.rtr_promote, "tom.okafor", "rtr-promote", "replaced by 2.0"),
            st("2.1", "development", s.rtr_v21_created, "lars.becker", None, "registered"),
            st("2.1", "production", s.rtr_bad, "lars.becker", "rtr-v2.1", "release"),
            st("2.0", "retired", s.rtr_bad, "lars.becker", "rtr-v2.1", "replaced by 2.1"),
            st("2.1", "rolled_back", s.rtr_rollback, "tom.okafor", "rtr-rollback",
               "accuracy regression (incident)"),
            st("2.0", "production", s.rtr_rollback, "tom.okafor", "rtr-rollback",
               "restored by rollback"),
            st("2.1", "retired", a(124, 0), "lars.becker", None, "superseded"),
        ],
        SCREENER: [
            st("1.0", "development", pre - 30 * MS_PER_DAY, "sofia.marin", None, "registered"),
            st("1.0", "production", pre, "tom.okafor", None, "initial release"),
            st("2.0", "development", s.scr_v20_created, "sofia.marin", None, "registered"),
            st("2.0", "staging", a(68, 10), "sofia.marin", None, "validation"),
            st("2.0", "production", s.scr_v2, "tom.okafor", "scr-v2.0", "release"),
            st("1.0", "retired", a(89, 0), "sofia.marin", None, "fallback hold ended"),
            st("2.1", "development", s.scr_v21_created, "sofia.marin", None, "registered"),
            st("2.1", "staging", a(120, 10), "sofia.marin", None, "validation incl. bias test"),
            st("2.1", "production", s.scr_v21, "tom.okafor", "scr-v2.1", "release"),
            st("2.0", "retired", s.scr_v21, "tom.okafor", "scr-v2.1",
               "withdrawn after bias audit"),
        ],
        ASSISTANT: [
            st("1.4", "production", pre, "tom.okafor", None, "initial release"),
            st("1.5", "production", s.ast_v15, "daniel.roth", "ast-v3.0", "template v3.0"),
            st("1.4", "retired", s.ast_v15, "daniel.roth", "ast-v3.0", "replaced by 1.5"),
            st("1.5.1", "production", s.ast_v151, "tom.okafor", "ast-v3.1", "template v3.1"),
            st("1.5", "retired", s.ast_v151, "tom.okafor", "ast-v3.1", "replaced by 1.5.1"),
        ],
    }  # fmt: skip
    return rows


def deployment_rows(s: Story, changes: dict[str, Change]) -> dict[str, list[dict[str, Any]]]:
    cid = {k: c.change_id for k, c in changes.items()}

    def d(
        dep: str,
        v: str,
        endpoint: str,
        share: float,
        at: int,
        by: str,
        change: str | None,
        rollback_of: str | None = None,
    ) -> dict[str, Any]:
        return {
            "deployment_id": dep,
            "model_version": v,
            "endpoint": endpoint,
            "environment": "production",
            "region": "eu-west-1",
            "traffic_share": share,
            "effective_at": iso(at),
            "deployed_by": by,
            "change_id": cid.get(change) if change else None,
            "rollback_of": rollback_of,
        }

    r, sc, asst = "/v1/tickets/route", "/v1/candidates/screen", "/v1/assist/chat"
    return {
        ROUTER: [
            d("dep-rtr-1.0", "1.0", r, 1.0, s.pre, "tom.okafor", None),
            d("dep-rtr-1.0", "1.0", r, 0.9, s.rtr_canary, "tom.okafor", "rtr-canary"),
            d("dep-rtr-2.0", "2.0", r, 0.1, s.rtr_canary, "tom.okafor", "rtr-canary"),
            d("dep-rtr-1.0", "1.0", r, 0.0, s.rtr_promote, "tom.okafor", "rtr-promote"),
            d("dep-rtr-2.0", "2.0", r, 1.0, s.rtr_promote, "tom.okafor", "rtr-promote"),
            d("dep-rtr-2.0", "2.0", r, 0.0, s.rtr_bad, "lars.becker", "rtr-v2.1"),
            d("dep-rtr-2.1", "2.1", r, 1.0, s.rtr_bad, "lars.becker", "rtr-v2.1"),
            d("dep-rtr-2.1", "2.1", r, 0.0, s.rtr_rollback, "tom.okafor", "rtr-rollback"),
            d("dep-rtr-2.0-r1", "2.0", r, 1.0, s.rtr_rollback, "tom.okafor", "rtr-rollback",
              rollback_of="dep-rtr-2.1"),
        ],
        SCREENER: [
            d("dep-scr-1.0", "1.0", sc, 1.0, s.pre, "tom.okafor", None),
            d("dep-scr-1.0", "1.0", sc, 0.0, s.scr_v2, "tom.okafor", "scr-v2.0"),
            d("dep-scr-2.0", "2.0", sc, 1.0, s.scr_v2, "tom.okafor", "scr-v2.0"),
            d("dep-scr-2.0", "2.0", sc, 0.0, s.scr_v21, "tom.okafor", "scr-v2.1"),
            d("dep-scr-2.1", "2.1", sc, 1.0, s.scr_v21, "tom.okafor", "scr-v2.1"),
        ],
        ASSISTANT: [
            d("dep-ast-1.4", "1.4", asst, 1.0, s.pre, "tom.okafor", None),
            d("dep-ast-1.4", "1.4", asst, 0.0, s.ast_v15, "daniel.roth", "ast-v3.0"),
            d("dep-ast-1.5", "1.5", asst, 1.0, s.ast_v15, "daniel.roth", "ast-v3.0"),
            d("dep-ast-1.5", "1.5", asst, 0.0, s.ast_v151, "tom.okafor", "ast-v3.1"),
            d("dep-ast-1.5.1", "1.5.1", asst, 1.0, s.ast_v151, "tom.okafor", "ast-v3.1"),
        ],
    }  # fmt: skip


# ----------------------------------------------------------------------------------- SLOs


def slo_rows(s: Story) -> dict[str, list[dict[str, Any]]]:
    """SLOs per model. Objective = share of good events in the window unless said otherwise."""
    since = iso(s.pre)

    def slo(
        model: str,
        sli: str,
        objective: float,
        threshold: float | None,
        comparator: str | None,
        window: int,
        description: str,
        effective: str = since,
        suffix: str = "",
    ) -> dict[str, Any]:
        return {
            "slo_id": f"slo-{model}-{sli.replace('_', '-')}{suffix}",
            "sli": sli,
            "objective": objective,
            "threshold": threshold,
            "comparator": comparator,
            "window_days": window,
            "description": description,
            "effective_from": effective,
        }

    def common(model: str, latency_ms: float, avail: float, err: float) -> list[dict[str, Any]]:
        return [
            slo(model, "availability", avail, None, None, 28,
                f"At least {avail:.1%} of requests end with status ok (rolling 28 days)."),
            slo(model, "latency_p95", 0.95, latency_ms, "<=", 28,
                f"95% of requests complete within {latency_ms:.0f} ms, i.e. p95 latency <= "
                f"{latency_ms:.0f} ms (evaluated per day and over 28 days)."),
            slo(model, "error_rate", 0.95, err, "<=", 28,
                f"Daily share of error/timeout responses <= {err:.1%} on at least 95% of the "
                "days of a 28-day window."),
        ]  # fmt: skip

    return {
        ROUTER: [
            *common(ROUTER, 300.0, 0.995, 0.005),
            slo(ROUTER, "accuracy", 0.62, 0.62, ">=", 7,
                "Accuracy against resolved queues over a rolling 7-day window >= 62% (v1.0)."),
            slo(ROUTER, "accuracy", 0.75, 0.75, ">=", 7,
                "Accuracy against resolved queues over a rolling 7-day window >= 75% "
                "(revised with router 2.0).", iso(s.rtr_promote)),
        ],
        SCREENER: [
            *common(SCREENER, 250.0, 0.999, 0.002),
            slo(SCREENER, "accuracy", 0.72, 0.72, ">=", 28,
                "Accuracy against 90-day hire outcomes over 28 days >= 72%."),
            slo(SCREENER, "impact_ratio_min", 0.8, 0.8, ">=", 28,
                "Lowest sex and race/ethnicity selection-rate impact ratio >= 0.80 over 28 "
                "days (internal four-fifths guardrail, informational)."),
        ],
        ASSISTANT: [
            *common(ASSISTANT, 12_000.0, 0.99, 0.02),
            slo(ASSISTANT, "thumbs_up_rate", 0.7, 0.7, ">=", 7,
                "Share of thumbs-up among rated answers over 7 days >= 70%."),
        ],
    }  # fmt: skip


# ----------------------------------------------------------------- prices, quotas, budgets


def price_plan(s: Story) -> tuple[tuple[str, str, float, float, float, int, int | None], ...]:
    """(provider, model, in/1k, out/1k, cached/1k, from, to): one price cut mid-period."""
    year_start = month_starts(s.pre - 40 * MS_PER_DAY, s.pre - 39 * MS_PER_DAY)[0]
    return (
        ("northwind-ai", "nw-chat-pro-2", 0.010, 0.030, 0.0025, year_start, s.price_change),
        ("northwind-ai", "nw-chat-pro-2", 0.008, 0.024, 0.0020, s.price_change, None),
        ("contoso-cloud", "cc-assist-mini", 0.0006, 0.0024, 0.0003, year_start, None),
    )


def price_rows(plan: tuple) -> list[dict[str, Any]]:
    return [
        {
            "provider": p,
            "llm_model": m,
            "input_per_1k": f"{pin:.6f}",
            "output_per_1k": f"{pout:.6f}",
            "cached_input_per_1k": f"{pc:.6f}",
            "currency": "USD",
            "effective_from": iso(frm),
            "effective_to": iso(to),
        }
        for p, m, pin, pout, pc, frm, to in plan
    ]


def quota_rows(s: Story) -> list[dict[str, Any]]:
    return [
        {"provider": "northwind-ai", "llm_model": "nw-chat-pro-2", "tokens_per_minute": 400_000,
         "requests_per_minute": 1500, "effective_from": iso(s.pre)},
        {"provider": "northwind-ai", "llm_model": "nw-chat-pro-2", "tokens_per_minute": 1_200_000,
         "requests_per_minute": 3000, "effective_from": iso(s.cal.at(94, 10))},
        {"provider": "contoso-cloud", "llm_model": "cc-assist-mini", "tokens_per_minute": 300_000,
         "requests_per_minute": 1000, "effective_from": iso(s.pre)},
    ]  # fmt: skip


# ---------------------------------------------------------------------------------- costs


def cost_rows(
    s: Story,
    daily_requests: dict[str, dict[tuple[int, str], int]],
) -> list[dict[str, Any]]:
    """Daily compute per model/version/endpoint and monthly storage and labelling.

    ``daily_requests`` maps model -> (day, version) -> requests served. LLM token spend is NOT
    here: it is derived from the events and the price table (no double counting).
    """
    cal = s.cal
    rows: list[dict[str, Any]] = []
    base = {ROUTER: 14.40, SCREENER: 6.00, ASSISTANT: 0.60}
    per_k = {ROUTER: 0.030, SCREENER: 0.050, ASSISTANT: 0.020}
    endpoints = {
        ROUTER: "/v1/tickets/route",
        SCREENER: "/v1/candidates/screen",
        ASSISTANT: "/v1/assist/chat",
    }
    for model, counts in daily_requests.items():
        for (day, version), n in sorted(counts.items()):
            start = cal.start_ms + day * MS_PER_DAY
            fixed = base[model]
            if model == ROUTER and version == "2.0" and start < s.rtr_promote:
                fixed = 7.20  # the canary pool is half the size
            amount = fixed + per_k[model] * n / 1000
            rows.append(_cost(start, start + MS_PER_DAY, model, version, endpoints[model],
                              "compute", amount, "cloud-billing-export"))  # fmt: skip
        if model == ASSISTANT:
            for day in range(cal.days):
                start = cal.start_ms + day * MS_PER_DAY
                if start >= s.ast_v15:
                    rows.append(_cost(start, start + MS_PER_DAY, model, None, "kb-vector-search",
                                      "compute", 0.40, "cloud-billing-export"))  # fmt: skip
    months = month_starts(cal.start_ms, cal.end_ms)
    storage = {ROUTER: 18.50, SCREENER: 9.20, ASSISTANT: 6.00}
    for lo, hi in itertools.pairwise(months):
        for model, amount in storage.items():
            rows.append(_cost(lo, hi, model, None, None, "storage", amount, "cloud-billing-export"))
        rows.append(_cost(lo, hi, SCREENER, None, None, "labeling", 420.00, "hr-outcome-reviews"))
    rows.sort(key=lambda r: (r["period_start"], r["model"] or "", r["cost_type"],
                             r["endpoint"] or "", r["model_version"] or ""))  # fmt: skip
    return rows


def _cost(
    lo: int,
    hi: int,
    model: str,
    version: str | None,
    endpoint: str | None,
    cost_type: str,
    amount: float,
    source: str,
) -> dict[str, Any]:
    return {
        "period_start": iso(lo),
        "period_end": iso(hi),
        "model": model,
        "model_version": version,
        "endpoint": endpoint,
        "team": TEAMS[model],
        "cost_type": cost_type,
        "amount": f"{amount:.6f}",
        "currency": "USD",
        "source": source,
    }


def other_costs_by_month(rows: list[dict[str, Any]], model: str, months: list[int]) -> np.ndarray:
    """Costs-table spend of one model per calendar month (by period_start)."""
    out = np.zeros(len(months) - 1)
    for r in rows:
        if r["model"] != model:
            continue
        t = to_ms(datetime.fromisoformat(r["period_start"].replace("Z", "+00:00")))
        k = int(np.searchsorted(months, t, side="right") - 1)
        if 0 <= k < len(out):
            out[k] += float(r["amount"])
    return out
