-- Tailing the log (API.md, "Audit log"): the events list shows an event only
-- once every lower seq is committed or abandoned. PostgreSQL hands out seq
-- before commit, so a reader must know the lowest seq a running transaction
-- may still commit. Before its first event, every transaction takes a shared
-- advisory lock whose key holds the sequence's last value at that moment;
-- every seq it takes afterwards is above that key. A reader then reads the
-- sequence's last value L, then the smallest such key K held (pg_locks): every
-- seq up to min(L, K) is settled. The lock is taken once per transaction (a
-- transaction-local setting remembers it), before any row's seq is drawn (a
-- statement-level BEFORE trigger fires before the statement's rows are formed).
-- Key: 0x63 in bits 48-55 (so these locks are told from the service's others),
-- the sequence value in the 48 bits below.
CREATE FUNCTION closure_audit_mark_tail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('closure_audit.tail_marked', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_advisory_xact_lock_shared(
            (99::bigint << 48) | (SELECT last_value FROM audit_events_seq_seq));
        PERFORM set_config('closure_audit.tail_marked', 'on', true);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_events_mark_tail BEFORE INSERT ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION closure_audit_mark_tail();
