-- The audit row names the permission the request needed and how long the upstream took (SPEC §4.6).
ALTER TABLE gateway_audit_logs
    ADD COLUMN permission  text,
    ADD COLUMN upstream_ms double precision;
ALTER TABLE gateway_audit_logs RENAME COLUMN duration_ms TO total_ms;
