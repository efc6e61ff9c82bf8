DROP TABLE audit_events;
DROP TABLE login_failures;
DROP TABLE users;
