"""The ingestion contract: every kind of file Attest accepts, its columns and their rules.

A *kind* names what a file holds (inference events of one model, late labels, incidents, ...).
Each kind lists its columns with a logical type; ingestion validates every row against it and
quarantines the rows that break it. Model-specific columns (features, sensitive attributes) come
from the model's spec (see ``warehouse.spec``), never from this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

LogicalType = Literal[
    "id",  # identifier: non-empty text, at most 256 characters, no control characters
    "text",  # free text: personal data scrubbed at the door (e-mails, phones, card numbers)
    "str",  # short label or category
    "subject",  # personal identifier: replaced by a keyed HMAC token at the door
    "double",  # finite floating point
    "nonneg_double",  # finite and >= 0
    "probability",  # finite, 0 <= x <= 1
    "int",  # 64-bit integer
    "nonneg_int",  # integer >= 0
    "bool",  # true/false/1/0/yes/no
    "timestamp",  # ISO 8601; without an offset it is read as UTC
    "date",  # ISO date
    "money",  # DECIMAL(18,6), finite and >= 0
    "flags",  # a list of short labels, separated by ';' or '|' in text files
]


@dataclass(frozen=True)
class Column:
    """One column of a kind: its name in files and in the table, and its rule."""

    name: str
    type: LogicalType
    required: bool = False
    doc: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kind:
    """A kind of file: where its rows land and which columns identify a duplicate."""

    name: str
    table: str
    columns: tuple[Column, ...]
    doc: str
    model_bound: bool = False  # rows belong to one registered model (--model or a `model` column)
    dedupe_on: tuple[str, ...] | None = None  # None: an identical row is a duplicate
    extra: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


STATUS = ("ok", "error", "timeout")
STAGES = (
    "development",
    "staging",
    "shadow",
    "canary",
    "production",
    "rolled_back",
    "retired",
)
CHANGE_TYPES = ("standard", "normal", "emergency")
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
RISK_TIERS = ("minimal", "low", "medium", "high")
TASKS = ("binary", "multiclass", "regression", "llm")

# Standard operational columns of an inference event, common to every model. A model spec maps
# its own column names onto these; features and sensitive attributes are declared by the spec.
EVENT_COLUMNS: tuple[Column, ...] = (
    Column("request_id", "id", required=True, doc="unique per model; joins labels and feedback"),
    Column("ts", "timestamp", required=True, doc="when the request was served"),
    Column("model_version", "id", doc="version label; defaults to the spec's version"),
    Column("deployment_id", "id", doc="deployment / endpoint that served it"),
    Column("endpoint", "str"),
    Column("prediction", "str", doc="predicted class or decision"),
    Column("prediction_value", "double", doc="regression output"),
    Column("score", "double", doc="score or probability of the positive class"),
    Column("confidence", "probability", doc="confidence of the prediction, 0..1"),
    Column("decision_threshold", "double"),
    Column("escalated", "bool", doc="handed to a human (low confidence, policy, fallback)"),
    Column("latency_ms", "nonneg_double"),
    Column("status", "str", choices=STATUS),
    Column("error_code", "str"),
    Column("subject_id", "subject", doc="who the decision is about; pseudonymised"),
    # LLM calls
    Column("provider", "str"),
    Column("llm_model", "str"),
    Column("prompt_template_version", "str"),
    Column("prompt", "text", doc="scrubbed of e-mails, phone and card numbers"),
    Column("response", "text", doc="scrubbed of e-mails, phone and card numbers"),
    Column("tokens_in", "nonneg_int"),
    Column("tokens_out", "nonneg_int"),
    Column("tokens_cached", "nonneg_int"),
    Column("fallback_used", "bool"),
    Column("content_filter_flags", "flags"),
    Column("logged_cost", "money", doc="cost reported by the gateway, if any"),
    Column("session_id", "subject"),
)

KINDS: dict[str, Kind] = {}


def _kind(kind: Kind) -> None:
    KINDS[kind.name] = kind


_kind(
    Kind(
        name="events",
        table="inference_events",
        columns=EVENT_COLUMNS,
        model_bound=True,
        dedupe_on=("request_id",),
        doc="Inference log of one registered model: one row per request, features as columns.",
    )
)
_kind(
    Kind(
        name="labels",
        table="labels",
        columns=(
            Column("request_id", "id", required=True),
            Column("label", "str", doc="true class (classification)"),
            Column("label_value", "double", doc="true value (regression)"),
            Column("labeled_at", "timestamp", required=True),
            Column("source", "str", doc="where the ground truth came from"),
        ),
        model_bound=True,
        doc="Ground truth arriving after the prediction, joined by request id. Corrections are new rows.",
    )
)
_kind(
    Kind(
        name="feedback",
        table="feedback",
        columns=(
            Column("request_id", "id", required=True),
            Column(
                "feedback_type",
                "str",
                required=True,
                choices=("thumbs", "rating", "override", "escalation", "comment"),
            ),
            Column("value", "str", doc="thumbs up/down, the overriding decision, ..."),
            Column("score", "double"),
            Column("reason", "text"),
            Column("actor_id", "subject", doc="agent or user; pseudonymised"),
            Column("given_at", "timestamp", required=True),
        ),
        model_bound=True,
        doc="Human overrides and user feedback on individual requests.",
    )
)
_kind(
    Kind(
        name="model_versions",
        table="model_versions",
        columns=(
            Column("model_version", "id", required=True),
            Column("parent_version", "id"),
            Column("created_at", "timestamp", required=True),
            Column("artifact_uri", "str", doc="where the artifact lives (relative to ATTEST_HOME)"),
            Column("artifact_sha256", "str"),
            Column("artifact_format", "str", choices=("skops", "onnx", "none")),
            Column("training_data_ref", "str"),
            Column("training_rows", "nonneg_int"),
            Column("code_commit", "str"),
            Column("intended_use", "text"),
            Column("risk_tier", "str", choices=RISK_TIERS),
            Column("owner", "str"),
            Column("approved_by", "str"),
            Column("approved_at", "timestamp"),
            Column("retirement_date", "date"),
            Column("declared_metrics", "str", doc="JSON object of metric -> declared value"),
            Column("notes", "text"),
        ),
        model_bound=True,
        dedupe_on=("model_version",),
        doc="Versions of a registered model with their artifact, approval and retirement date.",
    )
)
_kind(
    Kind(
        name="version_stages",
        table="version_stages",
        columns=(
            Column("model_version", "id", required=True),
            Column("stage", "str", required=True, choices=STAGES),
            Column("effective_at", "timestamp", required=True),
            Column("changed_by", "str"),
            Column("change_id", "id"),
            Column("reason", "text"),
        ),
        model_bound=True,
        doc="Lifecycle stage transitions of model versions (canary, production, rollback, ...).",
    )
)
_kind(
    Kind(
        name="deployments",
        table="deployments",
        columns=(
            Column("deployment_id", "id", required=True),
            Column("model_version", "id", required=True),
            Column("endpoint", "str", required=True),
            Column("environment", "str", choices=("production", "staging", "shadow", "dev")),
            Column("region", "str"),
            Column("traffic_share", "probability", required=True),
            Column("effective_at", "timestamp", required=True),
            Column("deployed_by", "str"),
            Column("change_id", "id"),
            Column("rollback_of", "id", doc="deployment this one rolls back"),
        ),
        model_bound=True,
        doc="Deployments and traffic splits over time; a new row for every change of share.",
    )
)
_kind(
    Kind(
        name="slos",
        table="slo_definitions",
        columns=(
            Column("slo_id", "id", required=True),
            Column("sli", "str", required=True, doc="availability, latency_p95, error_rate, ..."),
            Column("objective", "probability", required=True, doc="e.g. 0.995 of windows/events"),
            Column("threshold", "double", doc="e.g. 800 (ms) for a latency SLI"),
            Column("comparator", "str", choices=("<=", ">=", "<", ">")),
            Column("window_days", "nonneg_int", required=True),
            Column("description", "text"),
            Column("effective_from", "timestamp", required=True),
        ),
        model_bound=True,
        doc="Service level objectives per model; a revision is a new row with a later effective_from.",
    )
)
_kind(
    Kind(
        name="incidents",
        table="incidents",
        columns=(
            Column("incident_id", "id", required=True),
            Column("model", "id", doc="affected model, if any"),
            Column("title", "text", required=True),
            Column("severity", "str", required=True, choices=SEVERITIES),
            Column(
                "category",
                "str",
                choices=(
                    "availability",
                    "latency",
                    "quality",
                    "fairness",
                    "cost",
                    "security",
                    "privacy",
                    "safety",
                ),
            ),
            Column("opened_at", "timestamp", required=True),
            Column("acknowledged_at", "timestamp"),
            Column("mitigated_at", "timestamp"),
            Column("resolved_at", "timestamp"),
            Column("closed_at", "timestamp"),
            Column("detection_source", "str", choices=("alert", "user", "vendor", "audit")),
            Column("root_cause", "text"),
            Column("change_id", "id", doc="change that caused or fixed it"),
            Column("pir_ref", "str", doc="post-incident review document, if one exists"),
            Column("requests_affected", "nonneg_int"),
            Column("ai_act_serious", "bool"),
            Column("awareness_at", "timestamp", doc="for regulatory clocks (AI Act Art. 73)"),
            Column("revision_at", "timestamp", doc="when this revision of the record was made"),
        ),
        doc="Incidents; an update is a new revision row of the same incident_id.",
    )
)
_kind(
    Kind(
        name="changes",
        table="changes",
        columns=(
            Column("change_id", "id", required=True),
            Column("model", "id"),
            Column("model_version", "id"),
            Column("change_type", "str", required=True, choices=CHANGE_TYPES),
            Column(
                "category",
                "str",
                choices=("model", "prompt", "config", "data_pipeline", "infra", "vendor_model"),
            ),
            Column("title", "text", required=True),
            Column("requested_by", "str", required=True),
            Column("requested_at", "timestamp", required=True),
            Column("approved_by", "str"),
            Column("approved_at", "timestamp"),
            Column("retrospective_approval", "bool", doc="approved after the fact (emergencies)"),
            Column("deployed_by", "str"),
            Column("deployed_at", "timestamp"),
            Column("emergency", "bool"),
            Column("cab_ref", "str"),
            Column("risk", "str", choices=("low", "medium", "high")),
            Column("backout_plan", "text"),
            Column("outcome", "str", choices=("successful", "failed", "rolled_back", "pending")),
            Column("revision_at", "timestamp"),
        ),
        doc="Change records (ITIL change enablement) with their CAB approval.",
    )
)
_kind(
    Kind(
        name="costs",
        table="costs",
        columns=(
            Column("period_start", "timestamp", required=True),
            Column("period_end", "timestamp", required=True),
            Column("model", "id"),
            Column("model_version", "id"),
            Column("endpoint", "str"),
            Column("team", "str"),
            Column(
                "cost_type",
                "str",
                required=True,
                choices=("compute", "storage", "llm_tokens", "license", "labeling", "other"),
            ),
            Column("amount", "money", required=True),
            Column("currency", "str", required=True),
            Column("source", "str"),
        ),
        doc="Compute, storage and other costs per period, model, endpoint and team.",
    )
)
_kind(
    Kind(
        name="prices",
        table="prices",
        columns=(
            Column("provider", "str", required=True),
            Column("llm_model", "str", required=True),
            Column("input_per_1k", "money", required=True),
            Column("output_per_1k", "money", required=True),
            Column("cached_input_per_1k", "money"),
            Column("currency", "str", required=True),
            Column("effective_from", "timestamp", required=True),
            Column("effective_to", "timestamp"),
        ),
        doc="Versioned LLM token prices per provider and model.",
    )
)
_kind(
    Kind(
        name="budgets",
        table="budgets",
        columns=(
            Column("budget_id", "id", required=True),
            Column(
                "scope_type", "str", required=True, choices=("model", "team", "provider", "all")
            ),
            Column("scope_value", "str"),
            Column("period_start", "timestamp", required=True),
            Column("period_end", "timestamp", required=True),
            Column("amount", "money", required=True),
            Column("currency", "str", required=True),
            Column("alert_at_share", "probability", doc="alert when this share is projected"),
            Column("owner", "str"),
        ),
        doc="Budgets per model, team or provider and period.",
    )
)
_kind(
    Kind(
        name="quotas",
        table="quotas",
        columns=(
            Column("provider", "str", required=True),
            Column("llm_model", "str", required=True),
            Column("tokens_per_minute", "nonneg_int"),
            Column("requests_per_minute", "nonneg_int"),
            Column("effective_from", "timestamp", required=True),
        ),
        doc="Provider rate limits (TPM/RPM) for headroom calculations.",
    )
)

FORMATS = ("csv", "parquet", "jsonl")
