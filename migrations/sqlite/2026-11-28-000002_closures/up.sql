-- Closures: one proposal to close one crime under outcome 15 or 16.
CREATE TABLE closures (
    id TEXT PRIMARY KEY NOT NULL,
    force_id TEXT NOT NULL,
    source_event_id TEXT NOT NULL,
    division TEXT,
    crime_reference TEXT NOT NULL,
    offence_category TEXT NOT NULL,
    home_office_offence_code TEXT,
    domestic_abuse_flag BOOLEAN NOT NULL,
    outcome_code INTEGER NOT NULL,
    named_suspect BOOLEAN NOT NULL,
    crime_recorded_at BIGINT NOT NULL,
    closure_proposed_at BIGINT NOT NULL,
    proposed_by_officer_id TEXT NOT NULL,
    proposed_by_rank TEXT NOT NULL,
    rationale TEXT NOT NULL,
    victim_wishes_recorded BOOLEAN,
    evidence_led_prosecution_considered BOOLEAN,
    safeguarding_in_place BOOLEAN,
    victim_informed BOOLEAN,
    risk_level TEXT,
    evidence_references TEXT NOT NULL,
    victim_sex TEXT,
    victim_age_band TEXT,
    victim_ethnicity TEXT,
    victim_disability TEXT,
    victim_religion_or_belief TEXT,
    victim_sexual_orientation TEXT,
    victim_gender_reassignment TEXT,
    victim_marriage_or_civil_partnership TEXT,
    victim_pregnancy_or_maternity TEXT,
    review_flags TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending_signoff', 'signed_off', 'rejected', 'reopened')),
    version BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    received_by_user_id TEXT NOT NULL,
    decision TEXT,
    decided_by_user_id TEXT,
    decided_by_officer_id TEXT,
    decided_by_rank TEXT,
    decided_at BIGINT,
    decision_rationale TEXT,
    UNIQUE (force_id, source_event_id)
);
-- The list (newest received first) and its filters; the exports and trends.
CREATE INDEX closures_received ON closures (received_at, id);
CREATE INDEX closures_force_received ON closures (force_id, received_at, id);
CREATE INDEX closures_status_received ON closures (status, received_at, id);
CREATE INDEX closures_force_status_received ON closures (force_id, status, received_at, id);
CREATE INDEX closures_case ON closures (force_id, crime_reference, received_at);
CREATE INDEX closures_proposed ON closures (closure_proposed_at);
CREATE INDEX closures_force_proposed ON closures (force_id, closure_proposed_at);

-- Every decision on a closure, in order.
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    closure_id TEXT NOT NULL REFERENCES closures (id),
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    by_user_id TEXT NOT NULL,
    by_officer_id TEXT NOT NULL,
    by_rank TEXT NOT NULL,
    rationale TEXT NOT NULL,
    checklist TEXT NOT NULL,
    decided_at BIGINT NOT NULL
);
CREATE INDEX decisions_closure ON decisions (closure_id, id);

-- Monthly totals of VAWG crimes finalised: the denominators of rates. An empty
-- division is the force as a whole.
CREATE TABLE volumes (
    force_id TEXT NOT NULL,
    division TEXT NOT NULL,
    month TEXT NOT NULL,
    offence_category TEXT NOT NULL,
    finalised_total BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by_user_id TEXT NOT NULL,
    PRIMARY KEY (force_id, division, month, offence_category)
);
