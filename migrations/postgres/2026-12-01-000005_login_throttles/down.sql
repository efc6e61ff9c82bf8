DROP TABLE login_throttles;
