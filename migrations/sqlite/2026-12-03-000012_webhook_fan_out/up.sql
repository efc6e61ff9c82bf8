-- Webhooks, issue 14's performance: the transaction of a change writes one
-- outbox row (the message) whatever the number of subscriptions; the delivery
-- worker fans it out to one delivery row per subscription later.
-- `recipients` holds, chosen when the change commits, each subscription the
-- message is for with its delivery's webhook-id ("sub=msg_...,..."), and
-- `recipient_count` how many; `fanned_out_at` is set in the transaction that
-- writes those delivery rows. Messages written before this migration already
-- have their delivery rows: they count as fanned out.
ALTER TABLE webhook_messages ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_messages ADD COLUMN recipient_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_messages ADD COLUMN fanned_out_at BIGINT;
UPDATE webhook_messages SET fanned_out_at = created_at;
CREATE INDEX webhook_messages_to_fan_out ON webhook_messages (id)
    WHERE fanned_out_at IS NULL;
