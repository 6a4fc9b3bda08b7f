-- Attest warehouse schema, version 1.
-- Every fact and record row carries the batch that brought it (batch_id); nothing is updated in
-- place: a revision is a new row, and any read can be bounded with batch_id <= as_of_batch.

CREATE SCHEMA IF NOT EXISTS features;   -- one table per model, features as columns
CREATE SCHEMA IF NOT EXISTS sensitive;  -- one table per model, restricted: fairness attributes

-- Ledger of ingest batches. Only committed batches exist; a rejected file leaves an audit event.
CREATE TABLE ingest_batches (
    batch_id          BIGINT PRIMARY KEY,
    operation         VARCHAR NOT NULL,   -- ingest | register | init
    kind              VARCHAR,            -- events, labels, incidents, ...
    target_table      VARCHAR,
    model_id          VARCHAR,
    source_name       VARCHAR,            -- the file's base name as given (display only)
    file_sha256       VARCHAR,            -- NULL for batches that are not files
    file_bytes        BIGINT,
    file_format       VARCHAR,
    landing_path      VARCHAR,            -- raw bytes kept under ATTEST_HOME/landing
    rows_read         BIGINT NOT NULL,
    rows_accepted     BIGINT NOT NULL,
    rows_quarantined  BIGINT NOT NULL,
    rows_duplicate    BIGINT NOT NULL,    -- the part of rows_quarantined that were duplicates
    ignored_columns   VARCHAR[],
    pii_key_id        VARCHAR,
    started_at        TIMESTAMPTZ NOT NULL,
    committed_at      TIMESTAMPTZ NOT NULL,
    actor             VARCHAR NOT NULL,
    code_version      VARCHAR NOT NULL,
    CHECK (rows_accepted + rows_quarantined = rows_read),
    CHECK (rows_duplicate <= rows_quarantined)
);
CREATE UNIQUE INDEX ingest_batches_file ON ingest_batches (file_sha256, kind, model_id);

-- Rows that failed validation, with where they were and why.
CREATE TABLE quarantine (
    batch_id      BIGINT NOT NULL,
    line_number   BIGINT,        -- physical line in a text file, row number in a Parquet file
    column_name   VARCHAR,
    error_type    VARCHAR NOT NULL,
    message       VARCHAR NOT NULL,
    raw_record    VARCHAR,       -- the offending record, cut to 4 KiB
    raw_truncated BOOLEAN NOT NULL DEFAULT false
);

-- Registered models and what their spec declared.
CREATE TABLE models (
    model_id          VARCHAR NOT NULL,
    display_name      VARCHAR NOT NULL,
    task              VARCHAR NOT NULL,
    default_version   VARCHAR NOT NULL,
    owner             VARCHAR,
    team              VARCHAR,
    risk_tier         VARCHAR,
    intended_use      VARCHAR,
    out_of_scope_uses VARCHAR,
    description       VARCHAR,
    classes           VARCHAR[],
    positive_class    VARCHAR,
    ai_act_high_risk  BOOLEAN,
    annex_iii_point   VARCHAR,
    ll144_aedt        BOOLEAN,
    ecoa_credit       BOOLEAN,
    gdpr_art22        BOOLEAN,
    spec_json         VARCHAR NOT NULL,
    spec_sha256       VARCHAR NOT NULL,
    registered_at     TIMESTAMPTZ NOT NULL,
    registered_by     VARCHAR NOT NULL,
    batch_id          BIGINT NOT NULL
);

-- The allow-list of per-model identifiers: feature and sensitive-attribute columns.
CREATE TABLE model_columns (
    model_id    VARCHAR NOT NULL,
    role        VARCHAR NOT NULL,   -- feature | sensitive
    position    INTEGER NOT NULL,
    name        VARCHAR NOT NULL,
    type        VARCHAR NOT NULL,   -- numeric | integer | categorical | boolean (sensitive: categorical)
    categories  VARCHAR[],
    description VARCHAR,
    batch_id    BIGINT NOT NULL
);

CREATE TABLE model_versions (
    model_id          VARCHAR NOT NULL,
    model_version     VARCHAR NOT NULL,
    parent_version    VARCHAR,
    created_at        TIMESTAMPTZ NOT NULL,
    artifact_uri      VARCHAR,
    artifact_sha256   VARCHAR,
    artifact_format   VARCHAR,
    training_data_ref VARCHAR,
    training_rows     BIGINT,
    code_commit       VARCHAR,
    intended_use      VARCHAR,
    risk_tier         VARCHAR,
    owner             VARCHAR,
    approved_by       VARCHAR,
    approved_at       TIMESTAMPTZ,
    retirement_date   DATE,
    declared_metrics  VARCHAR,
    notes             VARCHAR,
    batch_id          BIGINT NOT NULL
);

CREATE TABLE version_stages (
    model_id       VARCHAR NOT NULL,
    model_version  VARCHAR NOT NULL,
    stage          VARCHAR NOT NULL,
    effective_at   TIMESTAMPTZ NOT NULL,
    changed_by     VARCHAR,
    change_id      VARCHAR,
    reason         VARCHAR,
    batch_id       BIGINT NOT NULL
);

CREATE TABLE deployments (
    model_id       VARCHAR NOT NULL,
    deployment_id  VARCHAR NOT NULL,
    model_version  VARCHAR NOT NULL,
    endpoint       VARCHAR NOT NULL,
    environment    VARCHAR,
    region         VARCHAR,
    traffic_share  DOUBLE NOT NULL,
    effective_at   TIMESTAMPTZ NOT NULL,
    deployed_by    VARCHAR,
    change_id      VARCHAR,
    rollback_of    VARCHAR,
    batch_id       BIGINT NOT NULL
);

-- One row per request for every model, classic ML and LLM alike.
CREATE TABLE inference_events (
    model_id                VARCHAR NOT NULL,
    request_id              VARCHAR NOT NULL,
    ts                      TIMESTAMPTZ NOT NULL,
    model_version           VARCHAR NOT NULL,
    deployment_id           VARCHAR,
    endpoint                VARCHAR,
    prediction              VARCHAR,
    prediction_value        DOUBLE,
    score                   DOUBLE,
    confidence              DOUBLE,
    probabilities           MAP(VARCHAR, DOUBLE),
    decision_threshold      DOUBLE,
    escalated               BOOLEAN,
    latency_ms              DOUBLE,
    status                  VARCHAR,
    error_code              VARCHAR,
    subject_token           VARCHAR,   -- keyed HMAC of the subject id
    provider                VARCHAR,
    llm_model               VARCHAR,
    prompt_template_version VARCHAR,
    prompt_scrubbed         VARCHAR,
    response_scrubbed       VARCHAR,
    tokens_in               BIGINT,
    tokens_out              BIGINT,
    tokens_cached           BIGINT,
    fallback_used           BOOLEAN,
    content_filter_flags    VARCHAR[],
    content_filtered        BOOLEAN,
    logged_cost             DECIMAL(18, 6),
    session_token           VARCHAR,
    pii_key_id              VARCHAR,
    batch_id                BIGINT NOT NULL
);

CREATE TABLE labels (
    model_id     VARCHAR NOT NULL,
    request_id   VARCHAR NOT NULL,
    label        VARCHAR,
    label_value  DOUBLE,
    labeled_at   TIMESTAMPTZ NOT NULL,
    source       VARCHAR,
    batch_id     BIGINT NOT NULL
);

CREATE TABLE feedback (
    model_id       VARCHAR NOT NULL,
    request_id     VARCHAR NOT NULL,
    feedback_type  VARCHAR NOT NULL,
    value          VARCHAR,
    score          DOUBLE,
    reason         VARCHAR,
    actor_token    VARCHAR,
    given_at       TIMESTAMPTZ NOT NULL,
    pii_key_id     VARCHAR,
    batch_id       BIGINT NOT NULL
);

CREATE TABLE slo_definitions (
    model_id        VARCHAR NOT NULL,
    slo_id          VARCHAR NOT NULL,
    sli             VARCHAR NOT NULL,
    objective       DOUBLE NOT NULL,
    threshold       DOUBLE,
    comparator      VARCHAR,
    window_days     BIGINT NOT NULL,
    description     VARCHAR,
    effective_from  TIMESTAMPTZ NOT NULL,
    batch_id        BIGINT NOT NULL
);

CREATE TABLE incidents (
    incident_id       VARCHAR NOT NULL,
    model_id          VARCHAR,
    title             VARCHAR NOT NULL,
    severity          VARCHAR NOT NULL,
    category          VARCHAR,
    opened_at         TIMESTAMPTZ NOT NULL,
    acknowledged_at   TIMESTAMPTZ,
    mitigated_at      TIMESTAMPTZ,
    resolved_at       TIMESTAMPTZ,
    closed_at         TIMESTAMPTZ,
    detection_source  VARCHAR,
    root_cause        VARCHAR,
    change_id         VARCHAR,
    pir_ref           VARCHAR,
    requests_affected BIGINT,
    ai_act_serious    BOOLEAN,
    awareness_at      TIMESTAMPTZ,
    revision_at       TIMESTAMPTZ,
    batch_id          BIGINT NOT NULL
);

CREATE TABLE changes (
    change_id              VARCHAR NOT NULL,
    model_id               VARCHAR,
    model_version          VARCHAR,
    change_type            VARCHAR NOT NULL,
    category               VARCHAR,
    title                  VARCHAR NOT NULL,
    requested_by           VARCHAR NOT NULL,
    requested_at           TIMESTAMPTZ NOT NULL,
    approved_by            VARCHAR,
    approved_at            TIMESTAMPTZ,
    retrospective_approval BOOLEAN,
    deployed_by            VARCHAR,
    deployed_at            TIMESTAMPTZ,
    emergency              BOOLEAN,
    cab_ref                VARCHAR,
    risk                   VARCHAR,
    backout_plan           VARCHAR,
    outcome                VARCHAR,
    revision_at            TIMESTAMPTZ,
    batch_id               BIGINT NOT NULL
);

CREATE TABLE costs (
    period_start   TIMESTAMPTZ NOT NULL,
    period_end     TIMESTAMPTZ NOT NULL,
    model_id       VARCHAR,
    model_version  VARCHAR,
    endpoint       VARCHAR,
    team           VARCHAR,
    cost_type      VARCHAR NOT NULL,
    amount         DECIMAL(18, 6) NOT NULL,
    currency       VARCHAR NOT NULL,
    source         VARCHAR,
    batch_id       BIGINT NOT NULL
);

CREATE TABLE prices (
    provider             VARCHAR NOT NULL,
    llm_model            VARCHAR NOT NULL,
    input_per_1k         DECIMAL(18, 6) NOT NULL,
    output_per_1k        DECIMAL(18, 6) NOT NULL,
    cached_input_per_1k  DECIMAL(18, 6),
    currency             VARCHAR NOT NULL,
    effective_from       TIMESTAMPTZ NOT NULL,
    effective_to         TIMESTAMPTZ,
    batch_id             BIGINT NOT NULL
);

CREATE TABLE budgets (
    budget_id       VARCHAR NOT NULL,
    scope_type      VARCHAR NOT NULL,
    scope_value     VARCHAR,
    period_start    TIMESTAMPTZ NOT NULL,
    period_end      TIMESTAMPTZ NOT NULL,
    amount          DECIMAL(18, 6) NOT NULL,
    currency        VARCHAR NOT NULL,
    alert_at_share  DOUBLE,
    owner           VARCHAR,
    batch_id        BIGINT NOT NULL
);

CREATE TABLE quotas (
    provider             VARCHAR NOT NULL,
    llm_model            VARCHAR NOT NULL,
    tokens_per_minute    BIGINT,
    requests_per_minute  BIGINT,
    effective_from       TIMESTAMPTZ NOT NULL,
    batch_id             BIGINT NOT NULL
);

-- Append-only, hash-chained log of everything that changed the warehouse or was exported.
-- entry_hash = sha256(prev_hash || record); record is the canonical JSON that was hashed.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    ts          TIMESTAMPTZ NOT NULL,
    actor       VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,
    object_ref  VARCHAR,
    batch_id    BIGINT,
    record      VARCHAR NOT NULL,
    prev_hash   VARCHAR NOT NULL,
    entry_hash  VARCHAR NOT NULL
);
