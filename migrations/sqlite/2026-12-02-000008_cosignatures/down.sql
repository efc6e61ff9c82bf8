DROP TABLE witness_status;
DROP TRIGGER cosignatures_no_delete;
DROP TRIGGER cosignatures_no_update;
DROP TABLE cosignatures;
