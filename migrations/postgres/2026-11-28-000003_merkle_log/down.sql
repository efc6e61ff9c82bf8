DROP TABLE log_state;
DROP TABLE checkpoints;
DROP TABLE merkle_leaves;
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION closure_audit_append_only();
DROP INDEX audit_events_txid;
ALTER TABLE audit_events DROP COLUMN txid;
ALTER TABLE audit_events ADD COLUMN leaf_index BIGINT, ADD COLUMN leaf_hash TEXT;
