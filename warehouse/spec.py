"""Model specs: how a user registers their own model so its logs ingest like the demo's.

A spec (YAML or JSON) names the model, its task, which file columns hold the standard event
fields (timestamp, request id, prediction, score, label, ...), its features with their types and
its sensitive attributes. Example::

    model: churn-predictor
    task: binary
    version: "2.1"
    owner: data-science@example.com
    risk_tier: medium
    positive_class: "1"
    columns: {timestamp: created_at, request_id: req_id, prediction: churn, score: p_churn, label: churned}
    features:
      - {name: tenure_months, type: numeric}
      - {name: plan, type: categorical}
    sensitive_attributes:
      - {name: age_band}

Feature and attribute names become quoted column names in per-model tables; they are checked
against ``IDENTIFIER`` so that they are safe to quote and never collide with standard columns.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from warehouse.kinds import EVENT_COLUMNS, RISK_TIERS, TASKS

MODEL_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
FEATURE_TYPES = ("numeric", "integer", "categorical", "boolean")
RESERVED = frozenset(
    {c.name for c in EVENT_COLUMNS}
    | {"batch_id", "model_id", "label", "label_value", "model", "rowid", "subject_token"}
)
# Roles a spec may map to file columns, with the event column each role fills.
ROLE_ALIASES = {"timestamp": "ts", "version": "model_version"}
MAX_SPEC_BYTES = 1_000_000


class SpecError(ValueError):
    """A model spec is malformed; the message says what to fix."""


@dataclass(frozen=True)
class Feature:
    name: str
    type: str
    column: str  # the column name in event files
    description: str = ""


@dataclass(frozen=True)
class SensitiveAttribute:
    name: str
    column: str
    categories: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ModelSpec:
    model: str
    task: str
    version: str
    display_name: str = ""
    owner: str = ""
    team: str = ""
    risk_tier: str = "medium"
    intended_use: str = ""
    out_of_scope_uses: str = ""
    description: str = ""
    classes: tuple[str, ...] = ()
    positive_class: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # event column -> file column
    probabilities: dict[str, str] = field(default_factory=dict)  # class -> file column
    label_column: str | None = None
    features: tuple[Feature, ...] = ()
    sensitive_attributes: tuple[SensitiveAttribute, ...] = ()
    regulatory: dict[str, Any] = field(default_factory=dict)

    def file_column(self, event_column: str) -> str:
        """The file column that holds a standard event column."""
        return self.columns.get(event_column, event_column)

    def canonical_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _text(d: dict, key: str, default: str = "", limit: int = 2000) -> str:
    v = d.get(key, default)
    if v is None:
        return default
    if not isinstance(v, str | int | float):
        raise SpecError(f"'{key}' must be text, got {type(v).__name__}")
    v = str(v)
    if len(v) > limit:
        raise SpecError(f"'{key}' is longer than {limit} characters")
    return v


def _identifier(name: Any, what: str) -> str:
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise SpecError(
            f"{what} name {name!r} is not allowed: use letters, digits and '_', "
            "starting with a letter or '_', at most 63 characters"
        )
    if name.lower() in RESERVED:
        raise SpecError(f"{what} name {name!r} is reserved for a standard column")
    return name


def parse_spec(data: dict[str, Any]) -> ModelSpec:
    """Validate a spec given as a mapping and return it."""
    if not isinstance(data, dict):
        raise SpecError("a model spec must be a mapping (YAML or JSON object)")
    known = {
        "model",
        "name",
        "display_name",
        "task",
        "version",
        "owner",
        "team",
        "risk_tier",
        "intended_use",
        "out_of_scope_uses",
        "description",
        "classes",
        "positive_class",
        "columns",
        "probabilities",
        "features",
        "sensitive_attributes",
        "regulatory",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(f"unknown spec keys: {', '.join(map(str, unknown))}")
    model = data.get("model", data.get("name"))
    if not isinstance(model, str) or not MODEL_ID.match(model):
        raise SpecError(
            f"model id {model!r} is not allowed: lower-case letters, digits, '-' and '_', "
            "starting with a letter, at most 63 characters"
        )
    task = data.get("task")
    if task not in TASKS:
        raise SpecError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    version = _text(data, "version", limit=64)
    if not version:
        raise SpecError("version is required (the label used for rows without a version column)")
    risk_tier = _text(data, "risk_tier", "medium")
    if risk_tier not in RISK_TIERS:
        raise SpecError(f"risk_tier must be one of {', '.join(RISK_TIERS)}; got {risk_tier!r}")

    raw_columns = data.get("columns") or {}
    if not isinstance(raw_columns, dict):
        raise SpecError("'columns' must map roles (timestamp, request_id, ...) to file columns")
    standard = {c.name for c in EVENT_COLUMNS}
    columns: dict[str, str] = {}
    label_column = None
    for role, file_col in raw_columns.items():
        if not isinstance(file_col, str) or not file_col or len(file_col) > 256:
            raise SpecError(f"column for role {role!r} must be a non-empty name")
        target = ROLE_ALIASES.get(role, role)
        if target == "label":
            label_column = file_col
        elif target in standard:
            columns[target] = file_col
        else:
            raise SpecError(
                f"unknown column role {role!r}; known roles: timestamp, label, "
                + ", ".join(sorted(standard))
            )

    classes = data.get("classes") or []
    if not isinstance(classes, list) or not all(isinstance(c, str | int) for c in classes):
        raise SpecError("'classes' must be a list of class names")
    classes = tuple(str(c) for c in classes)
    if len(set(classes)) != len(classes):
        raise SpecError("'classes' has duplicates")
    positive = data.get("positive_class")
    positive = None if positive is None else str(positive)
    if task == "binary" and positive is None:
        raise SpecError("a binary model needs 'positive_class'")
    if positive is not None and classes and positive not in classes:
        raise SpecError(f"positive_class {positive!r} is not one of the classes")

    probabilities = data.get("probabilities") or {}
    if not isinstance(probabilities, dict):
        raise SpecError("'probabilities' must map class names to file columns")
    probabilities = {str(k): str(v) for k, v in probabilities.items()}
    if probabilities and classes and set(probabilities) - set(classes):
        raise SpecError("'probabilities' names classes that are not in 'classes'")

    features = []
    for i, f in enumerate(data.get("features") or []):
        if not isinstance(f, dict):
            raise SpecError(f"feature #{i + 1} must be a mapping with name and type")
        name = _identifier(f.get("name"), "feature")
        ftype = f.get("type", "numeric")
        if ftype not in FEATURE_TYPES:
            raise SpecError(
                f"feature {name!r}: type must be one of {', '.join(FEATURE_TYPES)}; got {ftype!r}"
            )
        features.append(
            Feature(name, ftype, _text(f, "column", name, 256), _text(f, "description"))
        )
    sensitive = []
    for i, a in enumerate(data.get("sensitive_attributes") or []):
        if not isinstance(a, dict):
            raise SpecError(f"sensitive attribute #{i + 1} must be a mapping with a name")
        name = _identifier(a.get("name"), "sensitive attribute")
        cats = a.get("categories") or []
        if not isinstance(cats, list):
            raise SpecError(f"sensitive attribute {name!r}: categories must be a list")
        sensitive.append(
            SensitiveAttribute(
                name, _text(a, "column", name, 256), tuple(map(str, cats)), _text(a, "description")
            )
        )
    names = [f.name.lower() for f in features] + [a.name.lower() for a in sensitive]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"duplicate feature/attribute names: {', '.join(dupes)}")
    if task != "llm" and not features:
        raise SpecError("a non-LLM model needs at least one feature")

    regulatory = data.get("regulatory") or {}
    if not isinstance(regulatory, dict):
        raise SpecError("'regulatory' must be a mapping")

    return ModelSpec(
        model=model,
        task=task,
        version=version,
        display_name=_text(data, "display_name", model),
        owner=_text(data, "owner"),
        team=_text(data, "team"),
        risk_tier=risk_tier,
        intended_use=_text(data, "intended_use"),
        out_of_scope_uses=_text(data, "out_of_scope_uses"),
        description=_text(data, "description"),
        classes=classes,
        positive_class=positive,
        columns=columns,
        probabilities=probabilities,
        label_column=label_column,
        features=tuple(features),
        sensitive_attributes=tuple(sensitive),
        regulatory={str(k): v for k, v in regulatory.items()},
    )


def load_spec(path: str | Path) -> ModelSpec:
    """Read a YAML or JSON spec file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read spec {p}: {e.strerror}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"spec {p} is larger than {MAX_SPEC_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"spec {p} is not UTF-8") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        fmt = "JSON" if p.suffix.lower() == ".json" else "YAML"
        raise SpecError(f"spec {p} is not valid {fmt}: {e}") from None
    return parse_spec(data)
