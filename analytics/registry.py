"""The model registry seam: a model version's artifact, loaded safely, with what it needs.

A version's artifact is named by ``model_versions`` (``artifact_uri`` relative to the warehouse
home, ``artifact_sha256``, ``artifact_format``; the latest row of the version under the data
bound). Loading is refused, with an :class:`ArtifactError` naming the file or the type, when:

- the version has no artifact (``artifact_format`` ``none`` or no ``artifact_uri``);
- the format is not ``skops`` (a pickle, joblib or ONNX file is never loaded here);
- the URI is absolute, has a scheme, or resolves outside the warehouse home;
- the file is missing, or its SHA-256 differs from the registered ``artifact_sha256``;
- the bytes are not a skops archive (a pickle starts with ``0x80``; skops files are zips);
- skops reports a type it does not trust by default that is not in :data:`TRUSTED_TYPES`.

The file is read once: the same bytes are hashed, checked and loaded (no time-of-check /
time-of-use gap). skops never unpickles; it rebuilds objects from a JSON schema and refuses any
type it was not told to trust. Its defaults trust scikit-learn, numpy and scipy types; the
extra types trusted here are the few a LightGBM estimator needs.

What comes back (:class:`LoadedModel`): the fitted estimator, the input columns it is called
with, the input features it actually uses (a ``ColumnTransformer`` may drop some), the
preprocessing (everything before the last pipeline step), the final estimator, the names of the
transformed columns and which input feature each comes from (one-hot columns map to their
source feature), the family of the final estimator (``lightgbm``, ``tree``, ``linear`` or
``other``), its classes and the verified SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import skops.io as sio
from ibis import _

from analytics.catalog import bounded
from analytics.result import Recorder

# Types trusted beyond skops's own defaults (scikit-learn estimators, numpy, scipy, builtins):
# what a LightGBM estimator is rebuilt from, and scikit-learn's fitted tree structure (used by
# its forests and decision trees). Data holders only; nothing here executes code on load.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "collections.OrderedDict",
        "sklearn.tree._tree.Tree",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
    }
)
LOADABLE_FORMATS = ("skops",)
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024  # a larger file is refused before it is read

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_LINEAR = (
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
)
_TREES = (
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
)


class ArtifactError(ValueError):
    """A model artifact that cannot be loaded safely; the message names the file or type."""


@dataclass(frozen=True)
class ArtifactRef:
    """A version's artifact reference as the warehouse holds it (latest row under the bound)."""

    model: str
    version: str
    uri: str | None
    sha256: str | None
    format: str | None
    batch_id: int

    @property
    def available(self) -> bool:
        """True when the reference names a file in a loadable format."""
        return bool(self.uri) and (self.format or "").lower() in LOADABLE_FORMATS


@dataclass(frozen=True)
class LoadedModel:
    """A verified, loaded model version and how it turns logged features into a prediction."""

    model: str
    version: str
    estimator: Any  # the fitted object: usually a Pipeline, called on a DataFrame of `inputs`
    inputs: tuple[str, ...]  # columns the estimator is called with, in order
    features: tuple[str, ...]  # input features it actually uses (subset of inputs, in order)
    preprocessing: Any | None  # the pipeline without its last step (None for a bare model)
    final: Any  # the last step: the classifier / regressor SHAP explains
    transformed: tuple[str, ...]  # names of the columns `final` sees
    source_of: tuple[str, ...]  # for each transformed column, the input feature it comes from
    family: str  # lightgbm | tree | linear | other
    classes: tuple[str, ...]  # class labels in the estimator's order ('' for regressors)
    sha256: str
    path: Path
    trusted: tuple[str, ...]  # the non-default types this load trusted

    def transform(self, x: Any) -> np.ndarray:
        """The matrix the final estimator sees, float64, for a DataFrame of ``inputs``."""
        z = self.preprocessing.transform(x) if self.preprocessing is not None else x
        if hasattr(z, "toarray"):
            z = z.toarray()
        return np.asarray(z, dtype=np.float64)

    @property
    def description(self) -> str:
        """E.g. 'LGBMClassifier (lightgbm) of ticket-router 2.1'."""
        return f"{type(self.final).__name__} ({self.family}) of {self.model} {self.version}"


# ------------------------------------------------------------------------------- the reference


def artifact_refs(
    con: duckdb.DuckDBPyConnection,
    model: str,
    *,
    as_of_batch: int | None = None,
    rec: Recorder | None = None,
) -> list[ArtifactRef]:
    """Every version of ``model`` in ``model_versions`` (latest row per version under the bound),
    newest version first (by created_at, then version label)."""
    rec = rec or Recorder(con, as_of_batch=as_of_batch)
    mv = bounded(rec, "model_versions")
    mv = mv.filter(mv.model_id == model)
    w = ibis.window(group_by=mv.model_version, order_by=ibis.desc(mv.batch_id))
    latest = (
        mv.mutate(rn=ibis.row_number().over(w))
        .filter(_.rn == 0)
        .select(
            "model_version",
            "created_at",
            "artifact_uri",
            "artifact_sha256",
            "artifact_format",
            "batch_id",
        )
        .order_by([ibis.desc("created_at"), ibis.desc("model_version")])
    )
    rows = rec.query(
        f"registry/{model}/versions", str(ibis.to_sql(latest, dialect="duckdb"))
    ).to_dicts()
    return [
        ArtifactRef(
            model=model,
            version=r["model_version"],
            uri=r["artifact_uri"],
            sha256=r["artifact_sha256"],
            format=r["artifact_format"],
            batch_id=int(r["batch_id"]),
        )
        for r in rows
    ]


def artifact_ref(
    con: duckdb.DuckDBPyConnection,
    model: str,
    version: str | None = None,
    *,
    as_of_batch: int | None = None,
    rec: Recorder | None = None,
) -> ArtifactRef:
    """The reference of one version; ``version=None``: the newest version with an artifact.

    Raises ``ArtifactError`` when the model has no such version, or (``version=None``) no
    version with a loadable artifact.
    """
    refs = artifact_refs(con, model, as_of_batch=as_of_batch, rec=rec)
    if not refs:
        raise ArtifactError(f"model {model!r} has no registered versions (model_versions)")
    if version is None:
        usable = [r for r in refs if r.available]
        if not usable:
            raise ArtifactError(f"model {model!r} has no version with a skops artifact")
        return usable[0]
    for r in refs:
        if r.version == version:
            return r
    known = ", ".join(sorted(r.version for r in refs))
    raise ArtifactError(f"model {model!r} has no version {version!r} (registered: {known})")


# ------------------------------------------------------------------------------------ loading


def resolve_artifact_path(home: Path, uri: str) -> Path:
    """The file an ``artifact_uri`` names, which must lie inside the warehouse home."""
    if not uri or not uri.strip():
        raise ArtifactError("the artifact reference is empty")
    if "\x00" in uri:
        raise ArtifactError(f"artifact reference {uri!r} contains a NUL byte")
    if _SCHEME.match(uri):
        raise ArtifactError(
            f"artifact reference {uri!r} is a URL; only paths relative to the warehouse home "
            "are loaded"
        )
    rel = Path(uri)
    if rel.is_absolute():
        raise ArtifactError(
            f"artifact reference {uri!r} is absolute; it must be relative to the warehouse home"
        )
    root = Path(home).resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise ArtifactError(f"artifact reference {uri!r} points outside the warehouse home")
    return path


def read_verified(path: Path, expected_sha256: str | None) -> bytes:
    """The file's bytes, if their SHA-256 is the registered one."""
    if not expected_sha256:
        raise ArtifactError(f"{path.name}: no artifact_sha256 registered; refusing to load it")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ArtifactError(f"artifact file not found: {path}") from None
    if not path.is_file():
        raise ArtifactError(f"artifact path is not a file: {path}")
    if size > MAX_ARTIFACT_BYTES:
        raise ArtifactError(f"{path.name}: {size} bytes exceeds the {MAX_ARTIFACT_BYTES} limit")
    blob = path.read_bytes()
    actual = hashlib.sha256(blob).hexdigest()
    if actual != expected_sha256.strip().lower():
        raise ArtifactError(
            f"{path.name}: SHA-256 {actual} does not match the registered {expected_sha256}"
        )
    return blob


def load_skops_bytes(blob: bytes, name: str, trusted: frozenset[str] = TRUSTED_TYPES) -> Any:
    """Rebuild an object from skops bytes, trusting skops's defaults plus ``trusted`` only."""
    return _load_checked(blob, name, trusted)[0]


def _load_checked(
    blob: bytes, name: str, trusted: frozenset[str] = TRUSTED_TYPES
) -> tuple[Any, tuple[str, ...]]:
    """The object and the non-default types its load trusted (the schema is read once)."""
    if blob[:1] == b"\x80":
        raise ArtifactError(f"{name}: this is a pickle, not a skops archive; pickles are refused")
    if not zipfile.is_zipfile(io.BytesIO(blob)):
        raise ArtifactError(f"{name}: not a skops archive (not a zip file)")
    try:
        untrusted = sorted(sio.get_untrusted_types(data=blob))
    except Exception as exc:  # skops raises assorted errors on a malformed schema
        raise ArtifactError(f"{name}: unreadable skops archive ({exc})") from None
    refused = [t for t in untrusted if t not in trusted]
    if refused:
        raise ArtifactError(f"{name}: refusing untrusted type(s) {', '.join(refused)}")
    try:
        return sio.loads(blob, trusted=untrusted), tuple(untrusted)
    except Exception as exc:
        raise ArtifactError(f"{name}: skops could not load the archive ({exc})") from None


def load_model(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    model: str,
    version: str | None = None,
    *,
    as_of_batch: int | None = None,
    rec: Recorder | None = None,
) -> LoadedModel:
    """Load a version's artifact safely (see the module docstring for what is refused)."""
    ref = artifact_ref(con, model, version, as_of_batch=as_of_batch, rec=rec)
    return load_ref(home, ref)


def load_ref(home: Path, ref: ArtifactRef) -> LoadedModel:
    """Load the artifact of a reference (verified, trusted types only)."""
    fmt = (ref.format or "none").lower()
    if fmt == "none" or not ref.uri:
        raise ArtifactError(f"{ref.model} {ref.version} has no model artifact registered")
    if fmt not in LOADABLE_FORMATS:
        raise ArtifactError(
            f"{ref.model} {ref.version}: artifact format {ref.format!r} is not loaded "
            f"(only {', '.join(LOADABLE_FORMATS)})"
        )
    path = resolve_artifact_path(home, ref.uri)
    blob = read_verified(path, ref.sha256)
    obj, trusted = _cached_load(hashlib.sha256(blob).hexdigest(), blob, path.name)
    return describe(obj, trusted, ref.model, ref.version, ref.sha256 or "", path)


_CACHE: dict[str, tuple[Any, tuple[str, ...]]] = {}
_CACHE_MAX = 16


def _cached_load(sha: str, blob: bytes, name: str) -> tuple[Any, tuple[str, ...]]:
    # Content-addressed: equal bytes give an equal model, so a verified hash is a safe key.
    hit = _CACHE.get(sha)
    if hit is None:
        hit = _load_checked(blob, name)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[sha] = hit
    return hit


def describe(
    obj: Any, trusted: tuple[str, ...], model: str, version: str, sha256: str, path: Path
) -> LoadedModel:
    """Take a loaded estimator apart into its inputs, preprocessing and final step."""
    steps = getattr(obj, "steps", None)
    if steps:
        final = steps[-1][1]
        pre = obj[:-1] if len(steps) > 1 else None
    else:
        final, pre = obj, None
    if not (hasattr(final, "predict") or hasattr(final, "predict_proba")):
        raise ArtifactError(f"{path.name}: the loaded object has no predict method")
    names_in = getattr(obj, "feature_names_in_", None)
    if names_in is None:
        raise ArtifactError(
            f"{path.name}: the estimator was not fitted on named columns (no feature_names_in_)"
        )
    inputs = tuple(str(n) for n in names_in)
    transformed, source_of = _transformed_columns(pre, inputs)
    used = [f for f in inputs if f in set(source_of)]
    classes = tuple(str(c) for c in getattr(final, "classes_", getattr(obj, "classes_", ())))
    return LoadedModel(
        model=model,
        version=version,
        estimator=obj,
        inputs=inputs,
        features=tuple(used),
        preprocessing=pre,
        final=final,
        transformed=transformed,
        source_of=source_of,
        family=_family(final),
        classes=classes,
        sha256=sha256,
        path=path,
        trusted=trusted,
    )


def _family(final: Any) -> str:
    name = f"{type(final).__module__}.{type(final).__qualname__}"
    if name.startswith("lightgbm."):
        return "lightgbm"
    if name in _TREES:
        return "tree"
    if name in _LINEAR:
        return "linear"
    return "other"


def _transformed_columns(
    pre: Any, inputs: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names of the columns the final step sees and the input feature each comes from."""
    if pre is None:
        return inputs, inputs
    ct = pre[-1] if len(pre.steps) == 1 else None
    transformers = getattr(ct, "transformers_", None)
    if transformers is None:
        # A preprocessing chain this seam cannot take apart: one column per input if the
        # widths agree, else every output column is attributed to all inputs jointly.
        out = tuple(str(n) for n in pre.get_feature_names_out())
        if len(out) == len(inputs):
            return out, inputs
        joint = "+".join(inputs)
        return out, tuple(joint for _ in out)
    names: list[str] = []
    sources: list[str] = []
    for _name, trans, cols in transformers:
        if trans == "drop" or not len(cols):
            continue
        cols = [inputs[c] if isinstance(c, (int, np.integer)) else str(c) for c in cols]
        if trans == "passthrough":
            out = cols
        else:
            out = [str(n) for n in trans.get_feature_names_out(cols)]
        if len(out) == len(cols):
            src = cols
        elif hasattr(trans, "categories_"):  # one-hot: one block of columns per input
            src = []
            drop = getattr(trans, "drop_idx_", None)
            for i, (col, cats) in enumerate(zip(cols, trans.categories_, strict=True)):
                k = len(cats) - (1 if drop is not None and drop[i] is not None else 0)
                src += [col] * k
            if len(src) != len(out):
                src = ["+".join(cols)] * len(out)
        else:
            src = ["+".join(cols)] * len(out)
        names += out
        sources += src
    return tuple(names), tuple(sources)


__all__ = [
    "LOADABLE_FORMATS",
    "TRUSTED_TYPES",
    "ArtifactError",
    "ArtifactRef",
    "LoadedModel",
    "artifact_ref",
    "artifact_refs",
    "load_model",
    "load_ref",
    "load_skops_bytes",
    "read_verified",
    "resolve_artifact_path",
]
