//! Webhook subscriptions, the outbox of changes (messages) and their deliveries.
//!
//! A subscription's deliveries go out in `seq` order from one worker at a time:
//! the worker holds the subscription's lease (`lease_owner`, `lease_until`),
//! taken in [`claim`] with `FOR NO KEY UPDATE SKIP LOCKED` on PostgreSQL (so
//! that instances skip each other's subscriptions, and a decision inserting a
//! delivery, whose foreign key takes a key-share lock, never waits for it), and
//! taken over by another instance once it has expired.
//!
//! The transaction of a change writes one message (the outbox entry), naming
//! its recipients; the worker fans messages out to delivery rows
//! ([`unfanned`], [`insert_deliveries`], [`mark_fanned_out`]) one fan-out at a
//! time across instances ([`try_fan_out_lock`]), so that delivery `seq` order
//! is the order in which messages became visible, that is committed.

use super::schema::{webhook_deliveries, webhook_messages, webhook_subscriptions};
use super::{Conn, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_subscriptions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SubscriptionRow {
    pub id: String,
    pub force_id: String,
    pub url: String,
    pub events: String,
    pub secret: String,
    pub created_by_user_id: String,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
    pub paused_at: Option<i64>,
    pub paused_reason: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_messages)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct MessageRow {
    pub id: i64,
    pub event_type: String,
    pub force_id: String,
    pub closure_id: String,
    pub body: String,
    pub created_at: i64,
    pub recipients: String,
    pub recipient_count: i32,
    pub fanned_out_at: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_messages)]
pub struct NewMessage {
    pub event_type: &'static str,
    pub force_id: String,
    pub closure_id: String,
    pub body: String,
    pub created_at: i64,
    /// `domain::webhooks::recipients_text`.
    pub recipients: String,
    pub recipient_count: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct DeliveryRow {
    pub seq: i64,
    pub id: String,
    pub subscription_id: String,
    pub message_id: i64,
    pub status: String,
    pub attempts: i32,
    pub first_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery {
    pub id: String,
    pub subscription_id: String,
    pub message_id: i64,
    pub status: &'static str,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// What one attempt changed.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = webhook_deliveries)]
#[diesel(treat_none_as_null = true)]
pub struct AttemptChange {
    pub status: &'static str,
    pub attempts: i32,
    pub first_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
}

pub fn insert_subscription(conn: &mut Conn, row: &SubscriptionRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(webhook_subscriptions::table)
        .values(row)
        .execute(c))?;
    Ok(())
}

/// The force's subscriptions that are not deleted, oldest first.
pub fn of_force(conn: &mut Conn, force_id: &str) -> AppResult<Vec<SubscriptionRow>> {
    Ok(with_conn!(conn, c => webhook_subscriptions::table
        .filter(webhook_subscriptions::force_id.eq(force_id))
        .filter(webhook_subscriptions::deleted_at.is_null())
        .order((webhook_subscriptions::created_at.asc(), webhook_subscriptions::id.asc()))
        .select(SubscriptionRow::as_select())
        .load(c))?)
}

/// A subscription that is not deleted.
pub fn find(conn: &mut Conn, id: &str) -> AppResult<Option<SubscriptionRow>> {
    Ok(with_conn!(conn, c => webhook_subscriptions::table
        .filter(webhook_subscriptions::id.eq(id))
        .filter(webhook_subscriptions::deleted_at.is_null())
        .select(SubscriptionRow::as_select())
        .first(c)
        .optional())?)
}

pub fn mark_deleted(conn: &mut Conn, id: &str, at: i64) -> AppResult<bool> {
    let n = with_conn!(conn, c => diesel::update(webhook_subscriptions::table)
        .filter(webhook_subscriptions::id.eq(id))
        .filter(webhook_subscriptions::deleted_at.is_null())
        .set(webhook_subscriptions::deleted_at.eq(Some(at)))
        .execute(c))?;
    Ok(n == 1)
}

/// Lifts a pause; the waiting deliveries are due at once, each with a new window.
pub fn resume(conn: &mut Conn, id: &str, now: i64) -> AppResult<()> {
    with_conn!(conn, c => {
        diesel::update(webhook_subscriptions::table)
            .filter(webhook_subscriptions::id.eq(id))
            .set((
                webhook_subscriptions::paused_at.eq(None::<i64>),
                webhook_subscriptions::paused_reason.eq(None::<String>),
            ))
            .execute(c)?;
        diesel::update(webhook_deliveries::table)
            .filter(webhook_deliveries::subscription_id.eq(id))
            .filter(webhook_deliveries::status.eq("pending"))
            .set((
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::first_attempt_at.eq(None::<i64>),
            ))
            .execute(c)
    })?;
    Ok(())
}

/// Puts a delivered or failed delivery back in the queue, due now, with a new
/// window; its `webhook-id` stays. False when there is no such delivery.
pub fn redeliver(conn: &mut Conn, subscription_id: &str, id: &str, now: i64) -> AppResult<bool> {
    let n = with_conn!(conn, c => diesel::update(webhook_deliveries::table)
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .filter(webhook_deliveries::id.eq(id))
        .set((
            webhook_deliveries::status.eq("pending"),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::first_attempt_at.eq(None::<i64>),
        ))
        .execute(c))?;
    Ok(n == 1)
}

pub fn delivery(
    conn: &mut Conn,
    subscription_id: &str,
    id: &str,
) -> AppResult<Option<DeliveryRow>> {
    Ok(with_conn!(conn, c => webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .filter(webhook_deliveries::id.eq(id))
        .select(DeliveryRow::as_select())
        .first(c)
        .optional())?)
}

/// (id, force_id, events) of every subscription, not deleted, of these forces.
/// Paused ones are included: their deliveries wait rather than being lost.
pub fn subscribers(conn: &mut Conn, forces: &[&str]) -> AppResult<Vec<(String, String, String)>> {
    Ok(with_conn!(conn, c => webhook_subscriptions::table
        .filter(webhook_subscriptions::force_id.eq_any(forces))
        .filter(webhook_subscriptions::deleted_at.is_null())
        .order(webhook_subscriptions::id.asc())
        .select((
            webhook_subscriptions::id,
            webhook_subscriptions::force_id,
            webhook_subscriptions::events,
        ))
        .load(c))?)
}

/// Stores messages, in one statement per few hundred.
pub fn insert_messages(conn: &mut Conn, rows: &[NewMessage]) -> AppResult<()> {
    for part in rows.chunks(500) {
        with_conn!(conn, c => diesel::insert_into(webhook_messages::table)
            .values(part)
            .execute(c))?;
    }
    Ok(())
}

/// A message not yet fanned out to its delivery rows.
#[derive(Debug, Clone, Queryable)]
pub struct Unfanned {
    pub id: i64,
    pub event_type: String,
    pub closure_id: String,
    pub created_at: i64,
    pub recipients: String,
}

/// PostgreSQL: takes the fan-out lock until the transaction ends, unless
/// another transaction holds it (false). SQLite: the one writer is the lock.
pub fn try_fan_out_lock(conn: &mut Conn) -> AppResult<bool> {
    #[derive(QueryableByName)]
    struct Got {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        v: bool,
    }
    match conn {
        Conn::Sqlite(_) => Ok(true),
        Conn::Postgres(c) => Ok(
            diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS v")
                .bind::<BigInt, _>(FAN_OUT_LOCK)
                .get_result::<Got>(*c)?
                .v,
        ),
    }
}

/// The fan-out's advisory lock key: 0x77 in bits 48-55 (the tail marks of
/// `audit_events` use 0x63), 14 (the issue) below.
const FAN_OUT_LOCK: i64 = (0x77 << 48) | 14;

/// The oldest messages (by id) not yet fanned out, at most `limit`.
pub fn unfanned(conn: &mut Conn, limit: i64) -> AppResult<Vec<Unfanned>> {
    Ok(with_conn!(conn, c => webhook_messages::table
        .filter(webhook_messages::fanned_out_at.is_null())
        .order(webhook_messages::id.asc())
        .limit(limit)
        .select((
            webhook_messages::id,
            webhook_messages::event_type,
            webhook_messages::closure_id,
            webhook_messages::created_at,
            webhook_messages::recipients,
        ))
        .load(c))?)
}

/// The messages not yet fanned out that name `subscription_id` among their
/// recipients, newest first, with id below `before`, at most `limit`.
pub fn unfanned_for(
    conn: &mut Conn,
    subscription_id: &str,
    before: i64,
    limit: i64,
) -> AppResult<Vec<Unfanned>> {
    // A subscription id is a UUID: no LIKE wildcard in it.
    let pattern = format!("%{subscription_id}=%");
    Ok(with_conn!(conn, c => webhook_messages::table
        .filter(webhook_messages::fanned_out_at.is_null())
        .filter(webhook_messages::id.lt(before))
        .filter(webhook_messages::recipients.like(pattern))
        .order(webhook_messages::id.desc())
        .limit(limit)
        .select((
            webhook_messages::id,
            webhook_messages::event_type,
            webhook_messages::closure_id,
            webhook_messages::created_at,
            webhook_messages::recipients,
        ))
        .load(c))?)
}

/// The messages not yet fanned out whose recipients text holds this delivery
/// (LIKE's `_` and `%` match more than themselves: the caller checks).
pub fn unfanned_delivery(
    conn: &mut Conn,
    subscription_id: &str,
    delivery_id: &str,
) -> AppResult<Vec<Unfanned>> {
    let pattern = format!("%{subscription_id}={delivery_id}%");
    Ok(with_conn!(conn, c => webhook_messages::table
        .filter(webhook_messages::fanned_out_at.is_null())
        .filter(webhook_messages::recipients.like(pattern))
        .select((
            webhook_messages::id,
            webhook_messages::event_type,
            webhook_messages::closure_id,
            webhook_messages::created_at,
            webhook_messages::recipients,
        ))
        .load(c))?)
}

pub fn mark_fanned_out(conn: &mut Conn, ids: &[i64], at: i64) -> AppResult<()> {
    for part in ids.chunks(1000) {
        with_conn!(conn, c => diesel::update(webhook_messages::table)
            .filter(webhook_messages::id.eq_any(part))
            .set(webhook_messages::fanned_out_at.eq(Some(at)))
            .execute(c))?;
    }
    Ok(())
}

pub fn insert_deliveries(conn: &mut Conn, rows: &[NewDelivery]) -> AppResult<()> {
    for part in rows.chunks(500) {
        with_conn!(conn, c => diesel::insert_into(webhook_deliveries::table)
            .values(part)
            .execute(c))?;
    }
    Ok(())
}

/// One row of a subscription's delivery list.
#[derive(Debug, Clone, Queryable)]
pub struct ListedDelivery {
    pub seq: i64,
    pub id: String,
    pub event_type: String,
    pub closure_id: String,
    pub created_at: i64,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
}

/// A subscription's deliveries, newest first, below `before` (a `seq`).
pub fn list_deliveries(
    conn: &mut Conn,
    subscription_id: &str,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<ListedDelivery>> {
    Ok(with_conn!(conn, c => webhook_deliveries::table
        .inner_join(webhook_messages::table)
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .filter(webhook_deliveries::seq.lt(before.unwrap_or(i64::MAX)))
        .order(webhook_deliveries::seq.desc())
        .limit(limit)
        .select((
            webhook_deliveries::seq,
            webhook_deliveries::id,
            webhook_messages::event_type,
            webhook_messages::closure_id,
            webhook_deliveries::created_at,
            webhook_deliveries::status,
            webhook_deliveries::attempts,
            webhook_deliveries::last_status_code,
            webhook_deliveries::last_error,
            webhook_deliveries::next_attempt_at,
        ))
        .load(c))?)
}

/// A subscription this worker now holds.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub secret: String,
}

const CLAIM: &str = "UPDATE webhook_subscriptions SET lease_owner = $1, lease_until = $2 \
    WHERE id IN (SELECT s.id FROM webhook_subscriptions s \
        WHERE s.deleted_at IS NULL AND s.paused_at IS NULL \
        AND (s.lease_until IS NULL OR s.lease_until < $3 OR s.lease_owner = $1) \
        AND (SELECT d.next_attempt_at FROM webhook_deliveries d \
             WHERE d.subscription_id = s.id AND d.status = 'pending' \
             ORDER BY d.seq LIMIT 1) <= $3 \
        ORDER BY s.id LIMIT $4 LOCKING) \
    RETURNING id, url, secret";

/// Takes the lease, until `until`, of up to `max` subscriptions whose oldest
/// pending delivery is due at `now` and that no other live worker holds.
pub fn claim(
    conn: &mut Conn,
    owner: &str,
    now: i64,
    until: i64,
    max: i64,
) -> AppResult<Vec<Claimed>> {
    Ok(match conn {
        Conn::Postgres(c) => {
            diesel::sql_query(CLAIM.replace("LOCKING", "FOR NO KEY UPDATE SKIP LOCKED"))
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(until)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(max)
                .load(*c)?
        }
        // One writer at a time: the statement itself is the lock.
        Conn::Sqlite(c) => diesel::sql_query(CLAIM.replace("LOCKING", "").replace('$', "?"))
            .bind::<Text, _>(owner)
            .bind::<BigInt, _>(until)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(max)
            .load(*c)?,
    })
}

/// A pending delivery with its body, for the worker.
#[derive(Debug, Clone, QueryableByName)]
pub struct DueDelivery {
    #[diesel(sql_type = Text)]
    pub subscription_id: String,
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    pub first_attempt_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub next_attempt_at: i64,
    #[diesel(sql_type = Text)]
    pub body: String,
}

/// The oldest pending deliveries of each of these subscriptions, in `seq`
/// order, at most `limit` of each, in one statement.
pub fn pending_of(
    conn: &mut Conn,
    subscription_ids: &[String],
    limit: i64,
) -> AppResult<Vec<DueDelivery>> {
    if subscription_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut marks = String::new();
    for i in 0..subscription_ids.len() {
        if i > 0 {
            marks.push_str(", ");
        }
        marks.push_str(&format!("${}", i + 2));
    }
    let q = format!(
        "SELECT p.subscription_id, p.seq, p.id, p.attempts, p.first_attempt_at, p.next_attempt_at, m.body \
         FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.subscription_id ORDER BY d.seq) AS n \
               FROM webhook_deliveries d WHERE d.status = 'pending' AND d.subscription_id IN ({marks})) p \
         JOIN webhook_messages m ON m.id = p.message_id \
         WHERE p.n <= $1 ORDER BY p.subscription_id, p.seq"
    );
    Ok(match conn {
        Conn::Postgres(c) => {
            let mut q = diesel::sql_query(q)
                .into_boxed::<diesel::pg::Pg>()
                .bind::<BigInt, _>(limit);
            for id in subscription_ids {
                q = q.bind::<Text, _>(id.clone());
            }
            q.load(*c)?
        }
        Conn::Sqlite(c) => {
            // Numbered `?NNN`: `$1` would be a name, numbered by first use.
            let mut q = diesel::sql_query(q.replace('$', "?"))
                .into_boxed::<diesel::sqlite::Sqlite>()
                .bind::<BigInt, _>(limit);
            for id in subscription_ids {
                q = q.bind::<Text, _>(id.clone());
            }
            q.load(*c)?
        }
    })
}

pub fn record_attempt(conn: &mut Conn, seq: i64, change: &AttemptChange) -> AppResult<()> {
    with_conn!(conn, c => diesel::update(webhook_deliveries::table)
        .filter(webhook_deliveries::seq.eq(seq))
        .set(change)
        .execute(c))?;
    Ok(())
}

/// Marks deliveries delivered by attempts made at about `at` and answered
/// `code`: one statement for a round's successes. `first` sets their first
/// attempt (they had none before).
pub fn mark_delivered(
    conn: &mut Conn,
    seqs: &[i64],
    at: i64,
    code: i32,
    first: bool,
) -> AppResult<()> {
    use webhook_deliveries::dsl as d;
    for part in seqs.chunks(1000) {
        with_conn!(conn, c => {
            let q = diesel::update(d::webhook_deliveries).filter(d::seq.eq_any(part));
            let set = (
                d::status.eq("delivered"),
                d::attempts.eq(d::attempts + 1),
                d::last_attempt_at.eq(Some(at)),
                d::last_status_code.eq(Some(code)),
                d::last_error.eq(None::<String>),
                d::next_attempt_at.eq(at),
                d::delivered_at.eq(Some(at)),
            );
            if first {
                q.set((set, d::first_attempt_at.eq(Some(at)))).execute(c)
            } else {
                q.set(set).execute(c)
            }
        })?;
    }
    Ok(())
}

/// Gives up the leases this worker holds, but those of `keep`.
pub fn release_but(conn: &mut Conn, owner: &str, keep: &[String]) -> AppResult<()> {
    with_conn!(conn, c => diesel::update(webhook_subscriptions::table)
        .filter(webhook_subscriptions::lease_owner.eq(owner))
        .filter(webhook_subscriptions::id.ne_all(keep))
        .set((
            webhook_subscriptions::lease_owner.eq(None::<String>),
            webhook_subscriptions::lease_until.eq(None::<i64>),
        ))
        .execute(c))?;
    Ok(())
}

pub fn pause(conn: &mut Conn, subscription_id: &str, at: i64, reason: &str) -> AppResult<()> {
    with_conn!(conn, c => diesel::update(webhook_subscriptions::table)
        .filter(webhook_subscriptions::id.eq(subscription_id))
        .set((
            webhook_subscriptions::paused_at.eq(Some(at)),
            webhook_subscriptions::paused_reason.eq(Some(reason)),
        ))
        .execute(c))?;
    Ok(())
}

/// How many deliveries are pending (of subscriptions not deleted; and those
/// of messages not yet fanned out), and when the oldest was queued.
pub fn queue(conn: &mut Conn) -> AppResult<(i64, Option<i64>)> {
    let (rows, oldest): (i64, Option<i64>) = with_conn!(conn, c => webhook_deliveries::table
        .inner_join(webhook_subscriptions::table)
        .filter(webhook_deliveries::status.eq("pending"))
        .filter(webhook_subscriptions::deleted_at.is_null())
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(webhook_deliveries::created_at),
        ))
        .first(c))?;
    let (unfanned, unfanned_oldest): (Option<i64>, Option<i64>) = with_conn!(conn, c => webhook_messages::table
            .filter(webhook_messages::fanned_out_at.is_null())
            .select((
                diesel::dsl::sum(webhook_messages::recipient_count),
                diesel::dsl::min(webhook_messages::created_at),
            ))
            .first(c))?;
    let oldest = match (oldest, unfanned_oldest) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok((rows + unfanned.unwrap_or(0), oldest))
}
