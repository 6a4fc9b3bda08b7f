"""Costs of AI services: LLM token spend priced from the versioned price table, infrastructure
and other costs, unit economics, quota headroom, budgets with a forecast to period end, spend
anomalies, what-if repricing and a chargeback table per team.

Definitions (money is exact: DECIMAL arithmetic in the engine, polars Decimal after it):

- **LLM spend** of a request = ((tokens_in - tokens_cached) x input + tokens_cached x
  cached_input + tokens_out x output) / 1000, at the price row of its provider and LLM model in
  effect at the request time (``effective_from <= ts`` and before the row's ``effective_to`` or
  the next row's ``effective_from``, whichever is first; a missing cached price means the input
  price). A missing token count counts 0. Requests without a price in effect are counted as
  ``unpriced``, never guessed. ``logged_cost`` (what the gateway logged) is kept beside it and the
  difference is reported in ``reconciliation``.
- **Other costs** are the ``costs`` rows (compute, storage, labelling, ...), attributed to the
  day of their ``period_start``; rows spanning more than one day are *fixed* (booked once, e.g.
  monthly storage), one-day rows are *variable*. Spend in a window = LLM spend of the requests
  in it + cost rows whose ``period_start`` is in it.
- **Team** of LLM spend: the model's ``team``; of a cost row: its own ``team``, else the model's.
- **Unit economics** over the analysis window: cost per request, per successful request (status
  not in ``failed_statuses``), per correct prediction (served, labelled, prediction = latest
  label), per resolved request (successful and not escalated: resolved without a human; only
  for models that log ``escalated``); tokens per request; the peak tokens and requests per minute
  of each provider model against its quota (quota row in effect at that minute) and the
  smallest headroom = 1 - peak / quota.
- **Budgets** overlapping the analysis window (``scope_type`` ``model``, ``team`` or ``estate``):
  spend to date up to the *as-of* time (the end of the analysis window, the end of the data or
  the end of the budget period, whichever is first), plus a forecast of the remaining days:
  a linear trend on the last ``fit_days`` days of variable spend (``analytics.forecast``) with
  its prediction interval, plus fixed rows already booked later in the period. Status:
  ``over budget`` (spent > budget), ``projected overrun`` (forecast > budget), ``alert`` (spent
  >= ``alert_at_share`` x budget), else ``within budget``.
- **Anomalies**: each day's variable spend of a model against the ``anomaly_window`` days before
  it by robust z (``analytics.forecast.robust_anomalies``); increases only.
- **What-if**: the window's LLM requests repriced with every other provider model in the price
  table (the price in effect at each request's time), with ``cache_share`` of the uncached input
  tokens moved to the cached price, and with a ``batch_discount`` (the price table has no batch
  price: the discount is an assumption, 50% by default as the providers' batch APIs advertise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import ibis
import numpy as np
import polars as pl
from ibis import _

from analytics.catalog import bounded
from analytics.forecast import robust_anomalies, trend_forecast
from analytics.kpis import failed_flag, latest_labels, served_flag, utc_column
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope

MONEY = pl.Decimal(38, 9)
DAY = timedelta(days=1)
PER_1K = Decimal("0.001")
BUDGET_SCOPES = ("model", "team", "estate")


@dataclass(frozen=True)
class CostConfig:
    """Choices behind the cost analysis; the defaults are the documented behaviour.

    failed_statuses: statuses that do not count as a successful request. fit_days: days of
    variable spend the forecast trend is fitted on. alpha: 1 - level of the forecast interval.
    anomaly_window / anomaly_min_days / anomaly_z / anomaly_min_ratio: the robust-z anomaly rule.
    cache_share: share of uncached input tokens the caching what-if serves from cache.
    batch_discount: price reduction the batching what-if assumes. quota_warn_headroom: a peak
    minute with less headroom than this is a warning.
    """

    failed_statuses: tuple[str, ...] = ("error", "timeout")
    fit_days: int = 28
    alpha: float = 0.05
    anomaly_window: int = 28
    anomaly_min_days: int = 14
    anomaly_z: float = 4.0
    anomaly_min_ratio: float = 1.25
    cache_share: Decimal = Decimal("0.5")
    batch_discount: Decimal = Decimal("0.5")
    quota_warn_headroom: float = 0.2

    def __post_init__(self) -> None:
        if self.fit_days < 3:
            raise ValueError(f"fit_days must be at least 3, got {self.fit_days}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not Decimal(0) <= Decimal(self.cache_share) <= Decimal(1):
            raise ValueError(f"cache_share must be in [0, 1], got {self.cache_share}")
        if not Decimal(0) <= Decimal(self.batch_discount) < Decimal(1):
            raise ValueError(f"batch_discount must be in [0, 1), got {self.batch_discount}")


# ------------------------------------------------------------------------------ helpers


def exact(rec: Recorder, name: str, expr: Any) -> pl.DataFrame:
    """Run an Ibis expression through the Recorder keeping money exact: DECIMAL columns stay
    Decimal (integer sums, HUGEINT in DuckDB, come back as Int64)."""
    df = rec.query(name, str(ibis.to_sql(expr, dialect="duckdb")))
    casts = {}
    for c, t in df.schema.items():
        if isinstance(t, pl.Decimal):
            casts[c] = pl.Int64 if t.scale == 0 else MONEY
    return df.cast(casts) if casts else df


def money(x: Any) -> Decimal:
    """A money value as Decimal (None: 0)."""
    return Decimal(0) if x is None else Decimal(str(x)) if isinstance(x, float) else Decimal(x)


def cents(x: Decimal | None) -> Decimal | None:
    """Rounded to the cent, half up (how a bill is rounded)."""
    return None if x is None else Decimal(x).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def resolve_bound(con: duckdb.DuckDBPyConnection, scope: Scope) -> Scope:
    """The scope with its data bound made explicit (the newest batch when unset)."""
    if scope.as_of_batch is not None:
        return scope
    with con.cursor() as cur:
        rows = cur.sql("SELECT max(batch_id) FROM ingest_batches").fetchall()
    top = rows[0][0] if rows else None
    return scope.with_(as_of_batch=int(top) if top is not None else 0)


def _days(start: date, end: date) -> list[date]:
    """Days in [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def _utc_day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def price_table(rec: Recorder) -> Any:
    """Price rows with the end of their validity: ``valid_to`` = the earlier of ``effective_to``
    and the next row's ``effective_from`` (same provider and model); a row restated in a later
    batch replaces the earlier one."""
    p = bounded(rec, "prices")
    latest = ibis.window(
        group_by=[p.provider, p.llm_model, p.effective_from], order_by=ibis.desc(p.batch_id)
    )
    p = p.mutate(_rn=ibis.row_number().over(latest)).filter(_._rn == 0).drop("_rn")
    nxt = p.effective_from.lead().over(
        ibis.window(group_by=[p.provider, p.llm_model], order_by=p.effective_from)
    )
    return p.mutate(valid_to=ibis.least(p.effective_to, nxt))


def llm_cost_expr(tokens_in: Any, tokens_out: Any, tokens_cached: Any, p: Any) -> Any:
    """The exact cost of a request from its tokens and a price row (DECIMAL in the engine)."""
    cached = tokens_cached.fill_null(0)
    uncached = tokens_in.fill_null(0) - cached
    cached_price = ibis.coalesce(p.cached_input_per_1k, p.input_per_1k)
    per_1k = (
        uncached * p.input_per_1k
        + cached * cached_price
        + tokens_out.fill_null(0) * p.output_per_1k
    )
    return per_1k * ibis.literal(PER_1K, type="decimal(4, 3)")


def _priced(ev: Any, prices: Any) -> Any:
    """LLM events joined to the price in effect at their time (left join: unpriced keep nulls)."""
    on = [
        ev.provider == prices.provider,
        ev.llm_model == prices.llm_model,
        ev.ts >= prices.effective_from,
        prices.valid_to.isnull() | (ev.ts < prices.valid_to),
    ]
    j = ev.left_join(prices, on)
    return j


# ------------------------------------------------------------------------------ the analysis


def cost_analysis(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: CostConfig | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """Spend, unit economics, quotas, budgets with forecasts, anomalies, what-if and chargeback
    over ``scope.analysis`` (``scope.model`` None: the whole estate; ``scope.versions``
    restricts requests and version-tagged cost rows).

    Frames: ``spend`` (per model: LLM, other, total), ``by_dimension`` (model, version,
    endpoint, team, cost type, provider model), ``daily`` (per model and day, with anomaly
    scores), ``anomalies``, ``unit_economics``, ``quota``, ``budgets``, ``whatif``,
    ``chargeback``, ``reconciliation``, ``prices``.
    """
    cfg = config or CostConfig()
    if scope.segment:
        raise ValueError("costs are not split by segment: clear the segment filter")
    scope = resolve_bound(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    models = exact(
        rec,
        "costs/models",
        _latest_models(rec).select("model_id", "team", "task").order_by("model_id"),
    )
    if scope.model is not None and scope.model not in models["model_id"].to_list():
        raise ValueError(f"model {scope.model!r} is not registered (as of batch {rec.as_of_batch})")
    team_of = dict(zip(models["model_id"], models["team"], strict=True))

    start, end = scope.analysis.start, scope.analysis.end
    budgets = _budgets(rec, scope)
    # History reaches back for the trend fit and the anomaly baseline, and to the start of
    # every budget period the window touches.
    earliest = min([start, *budgets["period_start"].to_list()]) if budgets.height else start
    lookback = max(cfg.fit_days, cfg.anomaly_window)
    lo = _utc_day(earliest.date()) - lookback * DAY
    hi = max([end, *budgets["period_end"].to_list()]) if budgets.height else end

    prices = price_table(rec)
    price_rows = exact(
        rec,
        "costs/prices",
        prices.select(
            "provider",
            "llm_model",
            "input_per_1k",
            "output_per_1k",
            "cached_input_per_1k",
            "currency",
            "effective_from",
            "valid_to",
        ).order_by("provider", "llm_model", "effective_from"),
    )
    ev = _events(rec, scope)
    llm = _llm_daily(rec, ev, prices, lo, min(hi, end))
    other = _other_daily(rec, scope, lo, hi, team_of)
    data_end = _data_end(rec)
    as_of = min(end, data_end) if data_end is not None else end

    in_window_llm = llm.filter((pl.col("day") >= start.date()) & (pl.col("day") < end.date()))
    in_window_other = other.filter((pl.col("day") >= start.date()) & (pl.col("day") < end.date()))
    frames: dict[str, pl.DataFrame] = {}
    frames["spend"] = _spend(in_window_llm, in_window_other, models, scope)
    frames["by_dimension"] = _by_dimension(in_window_llm, in_window_other, team_of)
    daily = _daily(llm, other, lo.date(), end.date(), cfg)
    frames["daily"] = daily.filter(pl.col("day") >= start.date())
    frames["anomalies"] = (
        frames["daily"]
        .filter(pl.col("anomaly"))
        .select("model_id", "day", "variable", "median", "robust_z", "ratio")
    )
    frames["unit_economics"] = _unit_economics(rec, ev, scope, cfg, frames["spend"], models)
    frames["quota"] = _quota(rec, ev, scope, cfg)
    frames["budgets"] = _budget_status(budgets, llm, other, team_of, as_of, cfg)
    if scope.versions:
        # Budgets cover every version of their model or team; one version's spend against them
        # would read as "within budget" when the model is over it.
        measured = ("llm_to_date", "other_to_date", "spent", "spent_share", "forecast")
        frames["budgets"] = frames["budgets"].with_columns(
            *[pl.lit(None).cast(BUDGET_SCHEMA[c]).alias(c) for c in measured],
            pl.lit(None, pl.Float64).alias("forecast_low"),
            pl.lit(None, pl.Float64).alias("forecast_high"),
            pl.lit(None, pl.String).alias("p_overrun_note"),
            status=pl.lit("not evaluated"),
            method=pl.lit("a version filter is set: budgets cover all versions"),
        )
    frames["whatif"] = _whatif(rec, ev, prices, scope, cfg)
    frames["chargeback"] = _chargeback(in_window_llm, in_window_other, team_of)
    frames["reconciliation"] = _reconciliation(in_window_llm)
    frames["prices"] = price_rows
    findings = _findings(frames, scope, cfg, as_of)
    return Result(scope=scope, frames=frames, findings=findings, evidence=rec.evidence)


def _latest_models(rec: Recorder) -> Any:
    m = bounded(rec, "models")
    w = ibis.window(group_by=m.model_id, order_by=ibis.desc(m.batch_id))
    return m.mutate(_rn=ibis.row_number().over(w)).filter(_._rn == 0)


def _events(rec: Recorder, scope: Scope) -> Any:
    ev = bounded(rec, "inference_events")
    if scope.model is not None:
        ev = ev.filter(ev.model_id == scope.model)
    if scope.versions:
        ev = ev.filter(ev.model_version.isin(list(scope.versions)))
    return ev


def _data_end(rec: Recorder) -> datetime | None:
    """The end of the data: the day after the newest request (UTC), None without requests."""
    ev = bounded(rec, "inference_events")
    last = exact(rec, "costs/data_end", ev.aggregate(last=ev.ts.max()))["last"][0]
    if last is None:
        return None
    last = last if last.tzinfo else last.replace(tzinfo=UTC)
    return _utc_day(last.astimezone(UTC).date()) + DAY


def _llm_daily(rec: Recorder, ev: Any, prices: Any, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Per day, model, version, endpoint and provider model: requests, tokens and exact cost."""
    llm = ev.filter(ev.provider.notnull() & (ev.ts >= lo) & (ev.ts < hi))
    j = _priced(llm, prices)
    cost = llm_cost_expr(j.tokens_in, j.tokens_out, j.tokens_cached, j)
    priced = j.input_per_1k.notnull()
    out = exact(
        rec,
        "costs/llm_daily",
        j.group_by(
            day=j.ts.date(),
            model_id=j.model_id,
            model_version=j.model_version,
            endpoint=j.endpoint,
            provider=j.provider,
            llm_model=j.llm_model,
        )
        .aggregate(
            requests=_.count(),
            unpriced=(~priced).cast("int64").sum(),
            tokens_in=j.tokens_in.sum(),
            tokens_out=j.tokens_out.sum(),
            tokens_cached=j.tokens_cached.sum(),
            cost=cost.sum(),
            logged_cost=j.logged_cost.sum(),
        )
        .order_by("day", "model_id", "model_version", "provider", "llm_model"),
    )
    out = out.cast(LLM_SCHEMA)  # an empty result has no types of its own
    return out.with_columns(
        pl.col("cost").fill_null(Decimal(0)),
        pl.col("tokens_in", "tokens_out", "tokens_cached").fill_null(0),
    )


def _other_daily(
    rec: Recorder, scope: Scope, lo: datetime, hi: datetime, team_of: Mapping[str, str]
) -> pl.DataFrame:
    """Cost rows by the day of their period start, with whether they are fixed (> 1 day)."""
    c = bounded(rec, "costs")
    c = c.filter((c.period_start >= lo) & (c.period_start < hi))
    if scope.model is not None:
        c = c.filter(c.model_id == scope.model)
    if scope.versions:
        c = c.filter(c.model_version.isnull() | c.model_version.isin(list(scope.versions)))
    fixed = c.period_end > c.period_start + ibis.interval(days=1)
    out = exact(
        rec,
        "costs/other_daily",
        c.group_by(
            day=c.period_start.date(),
            model_id=c.model_id,
            model_version=c.model_version,
            endpoint=c.endpoint,
            team=c.team,
            cost_type=c.cost_type,
            currency=c.currency,
            fixed=fixed,
        )
        .aggregate(rows=_.count(), amount=c.amount.sum())
        .order_by("day", "model_id", "cost_type"),
    )
    out = out.cast(OTHER_SCHEMA)  # an empty result has no types of its own
    return out.with_columns(team=pl.coalesce("team", _team_expr(team_of)))


def _team_expr(team_of: Mapping[str, str]) -> pl.Expr:
    """The model's team (a string column even when no model is registered)."""
    return pl.col("model_id").replace_strict(dict(team_of), default=None, return_dtype=pl.String)


def _spend(
    llm: pl.DataFrame, other: pl.DataFrame, models: pl.DataFrame, scope: Scope
) -> pl.DataFrame:
    ids = models["model_id"].to_list() if scope.model is None else [scope.model]
    a = llm.group_by("model_id").agg(
        requests=pl.col("requests").sum(),
        llm_cost=pl.col("cost").sum(),
        logged_cost=pl.col("logged_cost").sum(),
        unpriced_requests=pl.col("unpriced").sum(),
    )
    b = other.group_by("model_id").agg(
        other_cost=pl.col("amount").sum(),
        fixed_cost=pl.col("amount").filter(pl.col("fixed")).sum(),
    )
    base = pl.DataFrame({"model_id": ids}, schema={"model_id": pl.String})
    extra = sorted(set(other["model_id"].drop_nulls()) - set(ids)) if scope.model is None else []
    if other["model_id"].null_count() and scope.model is None:
        extra.append(None)
    if extra:
        base = pl.concat([base, pl.DataFrame({"model_id": extra}, schema=base.schema)])
    out = base.join(a, on="model_id", how="left", nulls_equal=True).join(
        b, on="model_id", how="left", nulls_equal=True
    )
    out = out.with_columns(
        pl.col("requests", "unpriced_requests").fill_null(0),
        pl.col("llm_cost", "other_cost", "fixed_cost").cast(MONEY).fill_null(Decimal(0)),
        pl.col("logged_cost").cast(MONEY),
    )
    return out.with_columns(total_cost=pl.col("llm_cost") + pl.col("other_cost")).select(
        "model_id",
        "requests",
        "llm_cost",
        "other_cost",
        "fixed_cost",
        "total_cost",
        "logged_cost",
        "unpriced_requests",
    )


def _by_dimension(
    llm: pl.DataFrame, other: pl.DataFrame, team_of: Mapping[str, str]
) -> pl.DataFrame:
    """Spend split by one dimension at a time: model, version, endpoint, team, cost type,
    provider model (LLM spend only). Missing keys read ``(shared)``."""
    llm = llm.with_columns(
        team=_team_expr(team_of),
        cost_type=pl.lit("llm_tokens"),
        provider_model=pl.col("provider") + pl.lit(" / ") + pl.col("llm_model"),
    )
    other = other.with_columns(provider_model=pl.lit(None, dtype=pl.String))
    parts = []
    for dim, keys in (
        ("model", ["model_id"]),
        ("version", ["model_id", "model_version"]),
        ("endpoint", ["model_id", "endpoint"]),
        ("team", ["team"]),
        ("cost_type", ["cost_type"]),
        ("provider_model", ["provider_model"]),
    ):
        a = llm.group_by(keys).agg(llm_cost=pl.col("cost").sum(), requests=pl.col("requests").sum())
        b = other.group_by(keys).agg(other_cost=pl.col("amount").sum())
        if dim == "provider_model":
            b = b.filter(pl.lit(False))
        j = a.join(b, on=keys, how="full", coalesce=True, nulls_equal=True)
        label = pl.concat_str(
            [pl.col(k).fill_null("(shared)") for k in keys], separator=" · "
        ).alias("key")
        parts.append(
            j.select(
                pl.lit(dim).alias("dimension"),
                label,
                pl.col("requests").fill_null(0).cast(pl.Int64),
                pl.col("llm_cost").cast(MONEY).fill_null(Decimal(0)),
                pl.col("other_cost").cast(MONEY).fill_null(Decimal(0)),
            )
        )
    out = pl.concat(parts).with_columns(total_cost=pl.col("llm_cost") + pl.col("other_cost"))
    return out.sort(["dimension", "total_cost"], descending=[False, True])


def _daily(
    llm: pl.DataFrame, other: pl.DataFrame, first: date, end: date, cfg: CostConfig
) -> pl.DataFrame:
    """Per model and day over [first, end): LLM, variable and fixed spend, dense (0 on days
    without any), with the robust-z anomaly score of the variable spend."""
    a = llm.group_by("model_id", "day").agg(
        llm=pl.col("cost").sum(), requests=pl.col("requests").sum()
    )
    var = (
        other.filter(~pl.col("fixed"))
        .group_by("model_id", "day")
        .agg(other_variable=pl.col("amount").sum())
    )
    fix = (
        other.filter(pl.col("fixed")).group_by("model_id", "day").agg(fixed=pl.col("amount").sum())
    )
    ids = sorted(set(a["model_id"].drop_nulls()) | set(var["model_id"].drop_nulls()))
    days = _days(first, end)
    rows = []
    for m in ids:
        grid = pl.DataFrame({"model_id": [m] * len(days), "day": days})
        g = (
            grid.join(a, on=["model_id", "day"], how="left")
            .join(var, on=["model_id", "day"], how="left")
            .join(fix, on=["model_id", "day"], how="left")
            .with_columns(
                pl.col("llm", "other_variable", "fixed").cast(MONEY).fill_null(Decimal(0)),
                pl.col("requests").fill_null(0).cast(pl.Int64),
            )
            .with_columns(variable=pl.col("llm") + pl.col("other_variable"))
        )
        # Judge only days after the model's first spend (no flags from a cold start).
        values = g["variable"].cast(pl.Float64).to_numpy()
        nz = np.flatnonzero(values > 0)
        start = int(nz[0]) if nz.size else len(values)
        scores = robust_anomalies(
            values[start:],
            window=cfg.anomaly_window,
            min_days=cfg.anomaly_min_days,
            z=cfg.anomaly_z,
            min_ratio=cfg.anomaly_min_ratio,
        )
        med = [None] * start + [s.median for s in scores]
        zs = [None] * start + [s.z for s in scores]
        flag = [False] * start + [s.flagged for s in scores]
        rows.append(
            g.with_columns(
                median=pl.Series(med, dtype=pl.Float64),
                robust_z=pl.Series(zs, dtype=pl.Float64),
                anomaly=pl.Series(flag, dtype=pl.Boolean),
            )
        )
    if not rows:
        return pl.DataFrame(schema=DAILY_SCHEMA)
    out = pl.concat(rows).with_columns(
        total=pl.col("variable") + pl.col("fixed"),
        ratio=pl.when(pl.col("median") > 0).then(
            pl.col("variable").cast(pl.Float64) / pl.col("median")
        ),
    )
    return out.select(list(DAILY_SCHEMA)).cast(DAILY_SCHEMA)


def _unit_economics(
    rec: Recorder,
    ev: Any,
    scope: Scope,
    cfg: CostConfig,
    spend: pl.DataFrame,
    models: pl.DataFrame,
) -> pl.DataFrame:
    w = ev.filter((ev.ts >= scope.analysis.start) & (ev.ts < scope.analysis.end))
    served = served_flag(w, cfg.failed_statuses)
    ok = ~failed_flag(w, cfg.failed_statuses)
    counts = exact(
        rec,
        "costs/outcomes",
        w.group_by("model_id")
        .aggregate(
            requests=_.count(),
            successful=ok.cast("int64").sum(),
            escalation_logged=w.escalated.count(),
            # An LLM answer has no prediction column: success, not "served", is the test.
            resolved=(ok & ~w.escalated).fill_null(False).cast("int64").sum(),
            tokens_in=w.tokens_in.sum(),
            tokens_out=w.tokens_out.sum(),
            tokens_cached=w.tokens_cached.sum(),
            token_requests=w.tokens_in.count(),
        )
        .order_by("model_id"),
    )
    s = w.filter(served & w.prediction.notnull())
    labels = latest_labels(rec, scope.model, requests=s.request_id)
    keys = ["request_id"] if scope.model is not None else ["model_id", "request_id"]
    j = s.select("model_id", "request_id", "prediction").join(
        labels.filter(labels.label.notnull()), keys
    )
    correct = exact(
        rec,
        "costs/correct_predictions",
        j.group_by(model_id=j.model_id).aggregate(
            labelled=_.count(), correct=(j.prediction == j.label).cast("int64").sum()
        ),
    )
    tasks = dict(zip(models["model_id"], models["task"], strict=True))
    out = (
        spend.filter(pl.col("model_id").is_not_null())
        .select("model_id", "llm_cost", "other_cost", "total_cost")
        .join(counts, on="model_id", how="left")
        .join(correct, on="model_id", how="left")
    )
    rows = []
    for r in out.iter_rows(named=True):
        total = r["total_cost"]
        classifier = tasks.get(r["model_id"]) in ("binary", "multiclass")

        def per(n: int | None, total: Decimal = total) -> float | None:
            return float(total) / n if n else None

        n_tok = r["token_requests"] or 0
        rows.append(
            {
                "model_id": r["model_id"],
                "total_cost": total,
                "requests": r["requests"] or 0,
                "successful": r["successful"] or 0,
                "labelled": (r["labelled"] or 0) if classifier else None,
                "correct": (r["correct"] or 0) if classifier else None,
                "resolved": r["resolved"] if r["escalation_logged"] else None,
                "cost_per_request": per(r["requests"]),
                "cost_per_success": per(r["successful"]),
                "cost_per_correct": per(r["correct"]) if classifier else None,
                "cost_per_resolved": per(r["resolved"]) if r["escalation_logged"] else None,
                "tokens_in_per_request": (r["tokens_in"] or 0) / n_tok if n_tok else None,
                "tokens_out_per_request": (r["tokens_out"] or 0) / n_tok if n_tok else None,
                "cached_share": (r["tokens_cached"] or 0) / r["tokens_in"]
                if r["tokens_in"]
                else None,
            }
        )
    return pl.DataFrame(rows, schema=UNIT_SCHEMA)


def _quota(rec: Recorder, ev: Any, scope: Scope, cfg: CostConfig) -> pl.DataFrame:
    """Per provider model and day: the peak minute's tokens and requests against the quota in
    effect at that minute, and the smallest headroom of the day."""
    w = ev.filter(
        ev.provider.notnull() & (ev.ts >= scope.analysis.start) & (ev.ts < scope.analysis.end)
    )
    minute = w.group_by(
        provider=w.provider, llm_model=w.llm_model, minute=w.ts.truncate("m")
    ).aggregate(
        tokens=(w.tokens_in.fill_null(0) + w.tokens_out.fill_null(0)).sum(), requests=_.count()
    )
    q = bounded(rec, "quotas")
    latest = ibis.window(
        group_by=[q.provider, q.llm_model, q.effective_from], order_by=ibis.desc(q.batch_id)
    )
    q = q.mutate(_rn=ibis.row_number().over(latest)).filter(_._rn == 0)
    q = q.mutate(
        valid_to=q.effective_from.lead().over(
            ibis.window(group_by=[q.provider, q.llm_model], order_by=q.effective_from)
        )
    ).select(
        q_provider=q.provider,
        q_model=q.llm_model,
        q_from=q.effective_from,
        q_to=_.valid_to,
        tpm=q.tokens_per_minute,
        rpm=q.requests_per_minute,
    )
    j = minute.left_join(
        q,
        [
            minute.provider == q.q_provider,
            minute.llm_model == q.q_model,
            minute.minute >= q.q_from,
            q.q_to.isnull() | (minute.minute < q.q_to),
        ],
    )
    tok_head = 1 - j.tokens.cast("float64") / j.tpm.cast("float64")
    req_head = 1 - j.requests.cast("float64") / j.rpm.cast("float64")
    out = exact(
        rec,
        "costs/quota_peaks",
        j.group_by(provider=j.provider, llm_model=j.llm_model, day=j.minute.date())
        .aggregate(
            peak_tpm=j.tokens.max(),
            peak_rpm=j.requests.max(),
            tpm_quota=j.tpm.max(),
            rpm_quota=j.rpm.max(),
            tpm_headroom=tok_head.min(),
            rpm_headroom=req_head.min(),
            minutes=_.count(),
        )
        .order_by("provider", "llm_model", "day"),
    )
    return out.with_columns(
        warning=pl.min_horizontal("tpm_headroom", "rpm_headroom") < cfg.quota_warn_headroom
    )


def _budgets(rec: Recorder, scope: Scope) -> pl.DataFrame:
    b = bounded(rec, "budgets")
    w = ibis.window(group_by=b.budget_id, order_by=ibis.desc(b.batch_id))
    b = b.mutate(_rn=ibis.row_number().over(w)).filter(_._rn == 0)
    b = b.filter((b.period_start < scope.analysis.end) & (b.period_end > scope.analysis.start))
    rows = exact(
        rec,
        "costs/budgets",
        b.select(
            "budget_id",
            "scope_type",
            "scope_value",
            "period_start",
            "period_end",
            "amount",
            "currency",
            "alert_at_share",
            "owner",
        ).order_by("period_start", "budget_id"),
    )
    rows = utc_column(utc_column(rows, "period_start"), "period_end")
    if scope.model is not None:
        keep = (pl.col("scope_type") == "model") & (pl.col("scope_value") == scope.model)
        rows = rows.filter(keep)
    return rows


def _spend_series(
    llm: pl.DataFrame, other: pl.DataFrame, team_of: Mapping[str, str], kind: str, value: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """LLM days and cost rows that belong to a budget's scope."""
    if kind == "model":
        return llm.filter(pl.col("model_id") == value), other.filter(pl.col("model_id") == value)
    if kind == "team":
        ids = [m for m, t in team_of.items() if t == value]
        return llm.filter(pl.col("model_id").is_in(ids)), other.filter(pl.col("team") == value)
    return llm, other


def _budget_status(
    budgets: pl.DataFrame,
    llm: pl.DataFrame,
    other: pl.DataFrame,
    team_of: Mapping[str, str],
    as_of: datetime,
    cfg: CostConfig,
) -> pl.DataFrame:
    rows = []
    for b in budgets.iter_rows(named=True):
        kind = b["scope_type"]
        amount = money(b["amount"])
        p_start, p_end = b["period_start"], b["period_end"]
        cut = min(max(as_of, p_start), p_end)
        base = {
            "budget_id": b["budget_id"],
            "scope_type": kind,
            "scope_value": b["scope_value"],
            "period_start": p_start,
            "period_end": p_end,
            "budget": amount,
            "currency": b["currency"],
            "alert_at_share": b["alert_at_share"],
            "owner": b["owner"],
            "as_of": cut,
        }
        if kind not in BUDGET_SCOPES:
            rows.append(base | {"status": "not evaluated", "method": f"scope {kind!r} unknown"})
            continue
        lf, of = _spend_series(llm, other, team_of, kind, b["scope_value"])
        d0, d_cut, d_end = p_start.date(), cut.date(), p_end.date()
        in_p = (pl.col("day") >= d0) & (pl.col("day") < d_cut)
        llm_to_date = money(lf.filter(in_p)["cost"].sum())
        other_to_date = money(of.filter(in_p)["amount"].sum())
        spent = llm_to_date + other_to_date
        booked_later = money(
            of.filter(pl.col("fixed") & (pl.col("day") >= d_cut) & (pl.col("day") < d_end))[
                "amount"
            ].sum()
        )
        # Variable spend per day over the fit window ending at the cut.
        fit_from = d_cut - timedelta(days=cfg.fit_days)
        days = _days(fit_from, d_cut)
        var = (
            pl.concat(
                [
                    lf.select("day", pl.col("cost").alias("v")),
                    of.filter(~pl.col("fixed")).select("day", pl.col("amount").alias("v")),
                ]
            )
            .group_by("day")
            .agg(pl.col("v").sum())
        )
        series = (
            pl.DataFrame({"day": days}, schema={"day": pl.Date})
            .join(var, on="day", how="left")
            .with_columns(pl.col("v").cast(pl.Float64).fill_null(0.0))
        )
        values = series["v"].to_numpy()
        nz = np.flatnonzero(values > 0)
        values = values[nz[0] :] if nz.size else values[:0]
        horizon = (d_end - d_cut).days
        fc = trend_forecast(values, horizon, alpha=cfg.alpha)
        point = float(spent + booked_later) + max(fc.point, 0.0)
        low = float(spent + booked_later) + max(fc.low, 0.0)
        high = float(spent + booked_later) + max(fc.high, 0.0)
        share = float(spent / amount) if amount else None
        if spent > amount:
            status = "over budget"
        elif horizon > 0 and point > float(amount):
            status = "projected overrun"
        elif share is not None and b["alert_at_share"] is not None and share >= b["alert_at_share"]:
            status = "alert"
        else:
            status = "within budget"
        rows.append(
            base
            | {
                "llm_to_date": llm_to_date,
                "other_to_date": other_to_date,
                "spent": spent,
                "spent_share": share,
                "days_left": horizon,
                "forecast": point,
                "forecast_low": low,
                "forecast_high": high,
                "p_overrun_note": _overrun_note(point, low, high, float(amount))
                if horizon > 0
                else None,
                "status": status,
                "method": fc.method,
            }
        )
    return pl.DataFrame(rows, schema=BUDGET_SCHEMA)


def _overrun_note(point: float, low: float, high: float, amount: float) -> str:
    if low > amount:
        return "overrun even at the low end of the interval"
    if high > amount:
        return "overrun inside the interval" if point <= amount else "overrun likely"
    return "no overrun inside the interval"


def _whatif(rec: Recorder, ev: Any, prices: Any, scope: Scope, cfg: CostConfig) -> pl.DataFrame:
    """The window's LLM traffic priced as it ran, with caching, with batching, and with each
    provider model of the price table (the row in effect at each request's time)."""
    w = ev.filter(
        ev.provider.notnull() & (ev.ts >= scope.analysis.start) & (ev.ts < scope.analysis.end)
    )
    actual = _priced(w, prices)
    share = ibis.literal(Decimal(cfg.cache_share), type="decimal(10, 4)")
    keep = ibis.literal(Decimal(1) - Decimal(cfg.batch_discount), type="decimal(10, 4)")
    cost = llm_cost_expr(actual.tokens_in, actual.tokens_out, actual.tokens_cached, actual)
    # Caching: a share of the uncached input moves to the cached price (input price if none).
    uncached = actual.tokens_in.fill_null(0) - actual.tokens_cached.fill_null(0)
    saving = (
        uncached
        * share
        * (actual.input_per_1k - ibis.coalesce(actual.cached_input_per_1k, actual.input_per_1k))
        * ibis.literal(PER_1K, type="decimal(4, 3)")
    )
    base = exact(
        rec,
        "costs/whatif_as_run",
        actual.group_by(model_id=actual.model_id)
        .aggregate(
            requests=_.count(),
            actual=cost.sum(),
            cached=(cost - saving).sum(),
            batched=(cost * keep).sum(),
        )
        .order_by("model_id"),
    )
    # Every other provider model: same tokens, its price in effect at the request time.
    alt_p = prices.select(
        a_provider=prices.provider,
        a_model=prices.llm_model,
        a_from=prices.effective_from,
        a_to=prices.valid_to,
        input_per_1k=prices.input_per_1k,
        output_per_1k=prices.output_per_1k,
        cached_input_per_1k=prices.cached_input_per_1k,
    )
    x = w.select(
        "model_id", "ts", "provider", "llm_model", "tokens_in", "tokens_out", "tokens_cached"
    )
    j = x.join(
        alt_p,
        [
            x.ts >= alt_p.a_from,
            alt_p.a_to.isnull() | (x.ts < alt_p.a_to),
        ],
    )
    alt_cost = llm_cost_expr(j.tokens_in, j.tokens_out, j.tokens_cached, j)
    alts = exact(
        rec,
        "costs/whatif_other_models",
        j.group_by(model_id=j.model_id, provider=j.a_provider, llm_model=j.a_model)
        .aggregate(requests=_.count(), cost=alt_cost.sum())
        .order_by("model_id", "provider", "llm_model"),
    )
    rows = []
    for r in base.iter_rows(named=True):
        act = money(r["actual"])
        rows.append(_wi(r["model_id"], "as run", "prices in effect", r["requests"], act, act))
        rows.append(
            _wi(
                r["model_id"],
                "caching",
                f"{Decimal(cfg.cache_share):.0%} of uncached input tokens at the cached price",
                r["requests"],
                act,
                money(r["cached"]),
            )
        )
        rows.append(
            _wi(
                r["model_id"],
                "batching",
                f"{Decimal(cfg.batch_discount):.0%} batch discount (assumed)",
                r["requests"],
                act,
                money(r["batched"]),
            )
        )
        for a in alts.filter(pl.col("model_id") == r["model_id"]).iter_rows(named=True):
            complete = a["requests"] == r["requests"]
            rows.append(
                _wi(
                    r["model_id"],
                    f"{a['provider']} / {a['llm_model']}",
                    "all traffic on this model"
                    if complete
                    else f"priced for {a['requests']:,} of {r['requests']:,} requests "
                    "(no price in effect for the rest)",
                    a["requests"],
                    act,
                    money(a["cost"]),
                )
            )
    return pl.DataFrame(rows, schema=WHATIF_SCHEMA)


def _wi(
    model: str, scenario: str, note: str, requests: int, actual: Decimal, cost: Decimal
) -> dict[str, Any]:
    return {
        "model_id": model,
        "scenario": scenario,
        "assumption": note,
        "requests": requests,
        "actual_cost": actual,
        "scenario_cost": cost,
        "difference": cost - actual,
        "change": float((cost - actual) / actual) if actual else None,
    }


def _chargeback(llm: pl.DataFrame, other: pl.DataFrame, team_of: Mapping[str, str]) -> pl.DataFrame:
    """Team x cost type over the window (LLM tokens are a cost type of their own)."""
    a = llm.with_columns(
        team=_team_expr(team_of),
        cost_type=pl.lit("llm_tokens"),
        amount=pl.col("cost"),
    ).select("team", "model_id", "cost_type", "amount")
    b = other.select("team", "model_id", "cost_type", "amount")
    both = pl.concat([a, b.cast(a.schema)])
    out = (
        both.group_by("team", "model_id", "cost_type")
        .agg(amount=pl.col("amount").sum())
        .with_columns(pl.col("team").fill_null("(unassigned)"))
        .sort("team", "model_id", "cost_type", nulls_last=True)
    )
    return out.with_columns(pl.col("amount").cast(MONEY))


def _reconciliation(llm: pl.DataFrame) -> pl.DataFrame:
    """Priced spend against the spend the gateway logged, per model and month."""
    return (
        llm.with_columns(month=pl.col("day").dt.strftime("%Y-%m"))
        .group_by("model_id", "month")
        .agg(
            requests=pl.col("requests").sum(),
            unpriced=pl.col("unpriced").sum(),
            priced_cost=pl.col("cost").sum(),
            logged_cost=pl.col("logged_cost").sum(),
        )
        .with_columns(difference=pl.col("priced_cost") - pl.col("logged_cost"))
        .sort("model_id", "month")
    )


def _findings(
    frames: dict[str, pl.DataFrame], scope: Scope, cfg: CostConfig, as_of: datetime
) -> list[Finding]:
    out: list[Finding] = []
    for b in frames["budgets"].iter_rows(named=True):
        if b["status"] in ("over budget", "projected overrun"):
            sev = "critical" if b["status"] == "over budget" else "warning"
            out.append(
                Finding(
                    sev,
                    f"{b['budget_id']}: {b['status']}: spent {cents(b['spent'])} of "
                    f"{cents(b['budget'])} {b['currency']} by {b['as_of']:%Y-%m-%d}, forecast "
                    f"{b['forecast']:,.2f} ({b['forecast_low']:,.2f} to "
                    f"{b['forecast_high']:,.2f}) at period end",
                    subject=b["budget_id"],
                )
            )
        elif b["status"] == "alert":
            out.append(
                Finding(
                    "warning",
                    f"{b['budget_id']}: {b['spent_share']:.0%} of the budget spent by "
                    f"{b['as_of']:%Y-%m-%d} (alert at {b['alert_at_share']:.0%})",
                    subject=b["budget_id"],
                )
            )
    an = frames["anomalies"]
    for model_id, g in an.group_by("model_id", maintain_order=True):
        g = g.sort("day")
        first = g.row(0, named=True)
        out.append(
            Finding(
                "warning",
                f"{model_id[0]}: daily spend anomaly on {g.height} day(s) from "
                f"{first['day']:%Y-%m-%d} ({float(first['variable']):,.2f} against a median of "
                f"{first['median']:,.2f}, {first['ratio']:.1f}x)",
                subject=str(model_id[0]),
            )
        )
    q = frames["quota"].filter(pl.col("warning"))
    for (prov, mod), g in q.group_by("provider", "llm_model", maintain_order=True):
        worst = g.sort(pl.min_horizontal("tpm_headroom", "rpm_headroom")).row(0, named=True)
        out.append(
            Finding(
                "warning",
                f"{prov} / {mod}: peak minute on {worst['day']:%Y-%m-%d} left "
                f"{min(worst['tpm_headroom'], worst['rpm_headroom']):.0%} quota headroom",
            )
        )
    spend = frames["spend"]
    unpriced = int(spend["unpriced_requests"].sum())
    if unpriced:
        out.append(
            Finding(
                "warning",
                f"{unpriced:,} LLM request(s) have no price in effect: their token spend is not "
                "counted (add the price rows)",
            )
        )
    rec = frames["reconciliation"]
    if rec.height:
        diff = money(rec["difference"].sum())
        if abs(diff) >= Decimal("0.01"):
            out.append(
                Finding(
                    "info",
                    f"Priced LLM spend differs from the logged cost by {cents(diff)} over the "
                    "window (the price table is authoritative)",
                )
            )
    if as_of < scope.analysis.end:
        out.append(
            Finding(
                "info",
                f"The data ends on {(as_of - DAY):%Y-%m-%d}: budgets are judged and forecast "
                "from there",
            )
        )
    return out


_TS = pl.Datetime("us", "UTC")
LLM_SCHEMA: dict[str, Any] = {
    "day": pl.Date,
    "model_id": pl.String,
    "model_version": pl.String,
    "endpoint": pl.String,
    "provider": pl.String,
    "llm_model": pl.String,
    "requests": pl.Int64,
    "unpriced": pl.Int64,
    "tokens_in": pl.Int64,
    "tokens_out": pl.Int64,
    "tokens_cached": pl.Int64,
    "cost": MONEY,
    "logged_cost": MONEY,
}
OTHER_SCHEMA: dict[str, Any] = {
    "day": pl.Date,
    "model_id": pl.String,
    "model_version": pl.String,
    "endpoint": pl.String,
    "team": pl.String,
    "cost_type": pl.String,
    "currency": pl.String,
    "fixed": pl.Boolean,
    "rows": pl.Int64,
    "amount": MONEY,
}
DAILY_SCHEMA: dict[str, Any] = {
    "model_id": pl.String,
    "day": pl.Date,
    "requests": pl.Int64,
    "llm": MONEY,
    "other_variable": MONEY,
    "variable": MONEY,
    "fixed": MONEY,
    "total": MONEY,
    "median": pl.Float64,
    "robust_z": pl.Float64,
    "ratio": pl.Float64,
    "anomaly": pl.Boolean,
}
UNIT_SCHEMA: dict[str, Any] = {
    "model_id": pl.String,
    "total_cost": MONEY,
    "requests": pl.Int64,
    "successful": pl.Int64,
    "labelled": pl.Int64,
    "correct": pl.Int64,
    "resolved": pl.Int64,
    "cost_per_request": pl.Float64,
    "cost_per_success": pl.Float64,
    "cost_per_correct": pl.Float64,
    "cost_per_resolved": pl.Float64,
    "tokens_in_per_request": pl.Float64,
    "tokens_out_per_request": pl.Float64,
    "cached_share": pl.Float64,
}
BUDGET_SCHEMA: dict[str, Any] = {
    "budget_id": pl.String,
    "scope_type": pl.String,
    "scope_value": pl.String,
    "period_start": _TS,
    "period_end": _TS,
    "budget": MONEY,
    "currency": pl.String,
    "alert_at_share": pl.Float64,
    "owner": pl.String,
    "as_of": _TS,
    "llm_to_date": MONEY,
    "other_to_date": MONEY,
    "spent": MONEY,
    "spent_share": pl.Float64,
    "days_left": pl.Int64,
    "forecast": pl.Float64,
    "forecast_low": pl.Float64,
    "forecast_high": pl.Float64,
    "p_overrun_note": pl.String,
    "status": pl.String,
    "method": pl.String,
}
WHATIF_SCHEMA: dict[str, Any] = {
    "model_id": pl.String,
    "scenario": pl.String,
    "assumption": pl.String,
    "requests": pl.Int64,
    "actual_cost": MONEY,
    "scenario_cost": MONEY,
    "difference": MONEY,
    "change": pl.Float64,
}

__all__ = [
    "CostConfig",
    "cents",
    "cost_analysis",
    "llm_cost_expr",
    "price_table",
]
