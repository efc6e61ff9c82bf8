DROP TABLE witness_status;
DROP TABLE cosignatures;
