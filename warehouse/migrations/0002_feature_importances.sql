-- Attest warehouse schema, version 2: persisted feature importances (SHAP) per window.
-- One row per (model, version, window, segment, feature) of one computation, append-only and
-- batch-stamped like every other record: a recomputation is a new batch, never an update. The
-- rows of one computation share its batch_id; readers take the newest batch per window.

CREATE TABLE feature_importances (
    model_id           VARCHAR NOT NULL,
    model_version      VARCHAR NOT NULL,
    window_start       TIMESTAMPTZ NOT NULL,   -- analysis window [start, end) of the logged rows
    window_end         TIMESTAMPTZ NOT NULL,
    segment            VARCHAR NOT NULL,       -- 'column=value;...' or '' for all rows
    feature            VARCHAR NOT NULL,
    importance         DOUBLE NOT NULL,        -- mean |SHAP| in output units (see output_space)
    share              DOUBLE NOT NULL,        -- importance / sum over the features (sums to 1)
    ci_low             DOUBLE,                 -- bootstrap interval of the mean |SHAP|
    ci_high            DOUBLE,
    rank               INTEGER NOT NULL,       -- 1 = most important
    method             VARCHAR NOT NULL,       -- e.g. shap.TreeExplainer, shap.LinearExplainer
    output_space       VARCHAR NOT NULL,       -- e.g. 'log-odds of advance', 'raw score of billing'
    sample_size        BIGINT NOT NULL,        -- rows explained
    rows_in_window     BIGINT NOT NULL,        -- rows the sample was drawn from
    background_size    BIGINT,                 -- rows of the background set (NULL: tree path)
    sample_seed        BIGINT NOT NULL,
    artifact_sha256    VARCHAR,                -- the artifact explained (NULL for a surrogate)
    surrogate_fidelity DOUBLE,                 -- held-out fidelity when a surrogate was explained
    data_as_of_batch   BIGINT NOT NULL,        -- the data bound the rows were read under
    computed_at        TIMESTAMPTZ NOT NULL,
    computed_by        VARCHAR NOT NULL,
    code_version       VARCHAR NOT NULL,
    batch_id           BIGINT NOT NULL
);
