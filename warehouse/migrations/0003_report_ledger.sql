-- Attest warehouse schema, version 3: the report ledger.
-- One row per generated report (append-only, batch-stamped like every other record): what was
-- generated, from which data bound and code, the hashes of the PDF and of its evidence manifest,
-- and the signing key. The generation parameters are kept so the report can be re-performed.

CREATE TABLE report_ledger (
    report_id         VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,
    template_version  VARCHAR NOT NULL,
    title             VARCHAR NOT NULL,
    generation        VARCHAR NOT NULL,   -- canonical JSON of the generation parameters
    as_of_batch       BIGINT NOT NULL,
    code_version      VARCHAR NOT NULL,
    pdf_sha256        VARCHAR NOT NULL,
    manifest_sha256   VARCHAR NOT NULL,
    key_id            VARCHAR NOT NULL,
    pages             INTEGER NOT NULL,
    file_name         VARCHAR,
    generated_at      TIMESTAMPTZ NOT NULL,
    generated_by      VARCHAR NOT NULL,
    batch_id          BIGINT NOT NULL
);
