DROP INDEX webhook_messages_to_fan_out;
ALTER TABLE webhook_messages DROP COLUMN fanned_out_at;
ALTER TABLE webhook_messages DROP COLUMN recipient_count;
ALTER TABLE webhook_messages DROP COLUMN recipients;
