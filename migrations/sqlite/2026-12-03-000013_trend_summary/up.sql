-- The trend summary: what trends.csv grouped by month and force counts, kept
-- in the same transaction as every change to a closure (insert, decision,
-- reopening), so that a read of it is exact at its snapshot, on every
-- instance alike. `month` is the UTC month of closure_proposed_at.
CREATE TABLE trend_cells (
    month TEXT NOT NULL,
    force_id TEXT NOT NULL,
    closures BIGINT NOT NULL,
    outcome_15 BIGINT NOT NULL,
    outcome_16 BIGINT NOT NULL,
    signed_off BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    pending BIGINT NOT NULL,
    reopened BIGINT NOT NULL,
    flagged BIGINT NOT NULL,
    PRIMARY KEY (month, force_id)
);
-- Hours from received_at to the latest decision, per cell, in buckets of
-- 1/1000 h (floor of the microseconds / 3,600,000): medians and p90 are read
-- from these within 0.0005 h.
CREATE TABLE trend_hours (
    month TEXT NOT NULL,
    force_id TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (month, force_id, bucket)
);

-- The closures already stored.
INSERT INTO trend_cells (month, force_id, closures, outcome_15, outcome_16, signed_off, rejected, pending, reopened, flagged)
SELECT strftime('%Y-%m', closure_proposed_at / 1000000, 'unixepoch'), force_id, COUNT(*),
    SUM(CASE WHEN outcome_code = 15 THEN 1 ELSE 0 END),
    SUM(CASE WHEN outcome_code = 16 THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'signed_off' THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'pending_signoff' THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'reopened' THEN 1 ELSE 0 END),
    SUM(CASE WHEN review_flags <> '' THEN 1 ELSE 0 END)
FROM closures GROUP BY 1, 2;
INSERT INTO trend_hours (month, force_id, bucket, n)
SELECT strftime('%Y-%m', closure_proposed_at / 1000000, 'unixepoch'), force_id, CASE WHEN decided_at - received_at >= 0 THEN (decided_at - received_at) / 3600000 ELSE -((received_at - decided_at - 1) / 3600000) - 1 END, COUNT(*)
FROM closures WHERE decided_at IS NOT NULL GROUP BY 1, 2, 3;
