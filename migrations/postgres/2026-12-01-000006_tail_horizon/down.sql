DROP TRIGGER audit_events_mark_tail ON audit_events;
DROP FUNCTION closure_audit_mark_tail();
