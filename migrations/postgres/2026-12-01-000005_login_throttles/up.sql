-- When throttling of a user name was last recorded (an auth.login_throttled
-- event): a throttled user name writes at most one such event per window, and
-- its further refusals are only counted in /metrics.
CREATE TABLE login_throttles (
    username TEXT PRIMARY KEY NOT NULL,
    since BIGINT NOT NULL
);
CREATE INDEX login_throttles_since ON login_throttles (since);
