DROP TABLE witness_state;
