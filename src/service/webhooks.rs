//! Webhooks for force systems: subscriptions (each change an audit event), the
//! outbox written in the transaction of the change it reports, and the two use
//! cases of the delivery worker (`crate::webhooks`): claim due deliveries, and
//! settle what their attempts gave.

use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::webhooks::{
    self as store, AttemptChange, ListedDelivery, NewDelivery, NewMessage, SubscriptionRow,
};
use crate::db::{Conn, now_micros};
use crate::domain::authorize::{self, Resource};
use crate::domain::conflicts::Clash;
use crate::domain::time::rfc3339;
use crate::domain::webhooks::{
    AfterFailure, AllowedHosts, DeliveryStatus, EventType, MAX_SUBSCRIPTIONS_PER_FORCE, Recipient,
    RetrySchedule, SubscriptionDraft, events_of, events_text, paused_reason, recipients_of,
    recipients_text, validate_subscription,
};
use crate::error::{AppError, AppResult};
use crate::service::closures::Closure;
use crate::service::permit::{permit, permit_or};
use crate::service::{Context, Parsed};
use base64::Engine;
use rand::{Rng, RngCore};
use serde_json::json;
use std::time::Duration;

/// How a face renders a closure as JSON: the outbox stores each delivery's body
/// as the API shows the closure (`app.rs` hands in the API's renderer).
pub type ClosureBody = fn(&Closure) -> serde_json::Value;

/// A subscription as its owner sees it (never with its secret).
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub force_id: String,
    pub url: String,
    pub events: Vec<EventType>,
    pub created_at: i64,
    pub paused_at: Option<i64>,
    pub paused_reason: Option<String>,
}

fn subscription_of(r: SubscriptionRow) -> Subscription {
    Subscription {
        events: events_of(&r.events),
        id: r.id,
        force_id: r.force_id,
        url: r.url,
        created_at: r.created_at,
        paused_at: r.paused_at,
        paused_reason: r.paused_reason,
    }
}

fn no_such_subscription() -> AppError {
    AppError::NotFound("no such webhook subscription".into())
}

/// The subscription, when it exists and is the caller's force's; 404 otherwise.
fn owned(c: &mut Conn, caller: &AuthUser, id: &str) -> AppResult<SubscriptionRow> {
    let row = store::find(c, id)?.ok_or_else(no_such_subscription)?;
    permit_or(
        caller,
        authorize::Action::ManageWebhooks,
        Resource::Force(&row.force_id),
        no_such_subscription,
    )?;
    Ok(row)
}

/// A new secret: `whsec_` and the base64 of 32 random bytes.
fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// `POST /webhooks`: the subscription and its secret (shown this once).
pub async fn create(
    state: &Context,
    caller: &AuthUser,
    draft: Parsed<SubscriptionDraft>,
) -> AppResult<(Subscription, String)> {
    permit(caller, authorize::Action::ManageWebhooks, Resource::Any)?;
    let allowed = AllowedHosts::parse(&state.settings.webhook_allowed_hosts);
    let input = validate_subscription(draft?, &allowed).map_err(AppError::Validation)?;
    let force_id = caller.force_id.clone().unwrap_or_default();
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            if store::of_force(c, &force_id)?.len() >= MAX_SUBSCRIPTIONS_PER_FORCE {
                return Err(AppError::Conflict(
                    Clash::TooManySubscriptions,
                    format!(
                        "the force holds {MAX_SUBSCRIPTIONS_PER_FORCE} webhook subscriptions, \
                         as many as it may; delete one first"
                    ),
                ));
            }
            let row = SubscriptionRow {
                id: uuid::Uuid::now_v7().to_string(),
                force_id: force_id.clone(),
                url: input.url.clone(),
                events: events_text(&input.events),
                secret: new_secret(),
                created_by_user_id: caller.id.clone(),
                created_at: now_micros(),
                deleted_at: None,
                paused_at: None,
                paused_reason: None,
                lease_owner: None,
                lease_until: None,
            };
            store::insert_subscription(c, &row)?;
            let actor = caller.actor();
            let details = json!({
                "subscription_id": row.id,
                "url": row.url,
                "events": input.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            });
            audit::append(
                c,
                Event::new(
                    Action::WebhookCreated,
                    &actor,
                    Some(&caller.request_id),
                    details,
                )
                .force(Some(&force_id)),
            )?;
            let secret = row.secret.clone();
            Ok((subscription_of(row), secret))
        })
        .await
}

/// `GET /webhooks`: the force's subscriptions, oldest first.
pub async fn list(state: &Context, caller: &AuthUser) -> AppResult<Vec<Subscription>> {
    permit(caller, authorize::Action::ManageWebhooks, Resource::Any)?;
    let force_id = caller.force_id.clone().unwrap_or_default();
    let rows = state
        .db
        .read(move |c| store::of_force(c, &force_id))
        .await?;
    Ok(rows.into_iter().map(subscription_of).collect())
}

/// `GET /webhooks/{id}`.
pub async fn get(state: &Context, caller: &AuthUser, id: String) -> AppResult<Subscription> {
    permit(caller, authorize::Action::ManageWebhooks, Resource::Any)?;
    let caller = caller.clone();
    let row = state.db.read(move |c| owned(c, &caller, &id)).await?;
    Ok(subscription_of(row))
}

/// The audit event of a change to a subscription.
fn subscription_event(
    c: &mut Conn,
    caller: &AuthUser,
    action: Action,
    row: &SubscriptionRow,
    extra: serde_json::Value,
) -> AppResult<()> {
    let actor = caller.actor();
    let mut details = json!({"subscription_id": row.id, "url": row.url});
    if let (Some(d), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
        d.extend(more);
    }
    audit::append(
        c,
        Event::new(action, &actor, Some(&caller.request_id), details).force(Some(&row.force_id)),
    )?;
    Ok(())
}

/// `DELETE /webhooks/{id}`: nothing more is queued or sent for it.
pub async fn delete(state: &Context, caller: &AuthUser, id: String) -> AppResult<()> {
    permit(caller, authorize::Action::ManageWebhooks, Resource::Any)?;
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            let row = owned(c, &caller, &id)?;
            if !store::mark_deleted(c, &id, now_micros())? {
                return Err(no_such_subscription());
            }
            subscription_event(c, &caller, Action::WebhookDeleted, &row, json!({}))
        })
        .await
}

/// `POST /webhooks/{id}/resume`: lifts a pause; waiting deliveries go out now.
pub async fn resume(state: &Context, caller: &AuthUser, id: String) -> AppResult<Subscription> {
    permit(caller, authorize::Action::ManageWebhooks, Resource::Any)?;
    let caller = caller.clone();
    let sub = state
        .db
        .write(move |c| {
            let row = owned(c, &caller, &id)?;
            store::resume(c, &id, now_micros())?;
            let was = json!({"paused_reason": row.paused_reason});
            subscription_event(c, &caller, Action::WebhookResumed, &row, was)?;
            Ok(subscription_of(
                store::find(c, &id)?.ok_or_else(no_such_subscription)?,
            ))
        })
        .await?;
    state.webhook_signal.nudge();
    Ok(sub)
}

/// `POST /webhooks/{id}/deliveries/{delivery_id}/retry`: sends a delivered or
/// failed delivery again, with the same `webhook-id` (replay).
pub async fn redeliver(
    state: &Context,
    caller: &AuthUser,
    id: String,
    delivery_id: String,
) -> AppResult<Delivery> {
    permit(caller, authorize::Action::ManageWebhooks, Resource::Any)?;
    let caller = caller.clone();
    let delivery = state
        .db
        .write(move |c| {
            let row = owned(c, &caller, &id)?;
            let no_such = || AppError::NotFound("no such delivery".into());
            // Not yet fanned out, it is pending and due: nothing to put back.
            // Looked for first: a fan-out committing meanwhile then leaves
            // its row for the second look.
            let unfanned = store::unfanned_delivery(c, &id, &delivery_id)?
                .into_iter()
                .find(|m| {
                    recipients_of(&m.recipients)
                        .iter()
                        .any(|r| r.subscription_id == id && r.delivery_id == delivery_id)
                });
            let Some(before) = store::delivery(c, &id, &delivery_id)? else {
                let m = unfanned.ok_or_else(no_such)?;
                let extra = json!({"delivery_id": delivery_id, "status_before": "pending"});
                subscription_event(c, &caller, Action::WebhookRedeliveryRequested, &row, extra)?;
                return unfanned_listed(&id, m).map(delivery_of).ok_or_else(no_such);
            };
            store::redeliver(c, &id, &delivery_id, now_micros())?;
            let extra = json!({"delivery_id": delivery_id, "status_before": before.status});
            subscription_event(c, &caller, Action::WebhookRedeliveryRequested, &row, extra)?;
            let listed = store::list_deliveries(c, &id, Some(before.seq + 1), 1)?;
            listed
                .into_iter()
                .next()
                .map(delivery_of)
                .ok_or_else(no_such)
        })
        .await?;
    state.webhook_signal.nudge();
    Ok(delivery)
}

/// One delivery as its owner sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub seq: i64,
    /// The `webhook-id`.
    pub id: String,
    pub event: String,
    pub closure_id: String,
    pub created_at: i64,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    /// While pending.
    pub next_attempt_at: Option<i64>,
}

fn delivery_of(d: ListedDelivery) -> Delivery {
    let pending = d.status == DeliveryStatus::Pending.as_str();
    Delivery {
        seq: d.seq,
        id: d.id,
        event: d.event_type,
        closure_id: d.closure_id,
        created_at: d.created_at,
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        next_attempt_at: pending.then_some(d.next_attempt_at),
    }
}

/// `GET /webhooks/{id}/deliveries`: newest first, below the `seq` of `before`.
pub async fn deliveries(
    state: &Context,
    caller: &AuthUser,
    id: String,
    page: Parsed<(Option<i64>, i64)>,
) -> AppResult<Vec<Delivery>> {
    permit(caller, authorize::Action::ManageWebhooks, Resource::Any)?;
    let caller = caller.clone();
    let rows = state
        .db
        .read(move |c| {
            owned(c, &caller, &id)?;
            let (before, limit) = page?;
            let before = before.unwrap_or(i64::MAX);
            // Messages not yet fanned out are the newest: every delivery row
            // fanned out later comes after those there are. Listed as
            // pending, with a `seq` above every row's. Read first, so that a
            // fan-out committing between the two reads shows a delivery twice
            // (the row wins) rather than not at all.
            let mut rows: Vec<ListedDelivery> = Vec::new();
            if before > UNFANNED_SEQ {
                for m in store::unfanned_for(c, &id, before - UNFANNED_SEQ, limit)? {
                    rows.extend(unfanned_listed(&id, m));
                }
            }
            let room = limit - rows.len() as i64;
            if room > 0 {
                let fanned = store::list_deliveries(c, &id, Some(before.min(UNFANNED_SEQ)), room)?;
                rows.retain(|u| fanned.iter().all(|d| d.id != u.id));
                rows.extend(fanned);
            }
            Ok(rows)
        })
        .await?;
    Ok(rows.into_iter().map(delivery_of).collect())
}

/// Above every delivery row's `seq`: a message not yet fanned out is listed
/// with `seq` this plus its id (the cursor of a page may name it).
const UNFANNED_SEQ: i64 = 1 << 62;

/// The delivery to `subscription_id` of a message not yet fanned out.
fn unfanned_listed(subscription_id: &str, m: store::Unfanned) -> Option<ListedDelivery> {
    let r = recipients_of(&m.recipients)
        .into_iter()
        .find(|r| r.subscription_id == subscription_id)?;
    Some(ListedDelivery {
        seq: UNFANNED_SEQ + m.id,
        id: r.delivery_id,
        event_type: m.event_type,
        closure_id: m.closure_id,
        created_at: m.created_at,
        status: DeliveryStatus::Pending.as_str().into(),
        attempts: 0,
        last_status_code: None,
        last_error: None,
        next_attempt_at: m.created_at,
    })
}

/// The outbox of one transaction: which subscriptions hear of which changes,
/// and the messages to queue. Opened, fed and closed inside the transaction of
/// the changes, so that a message exists exactly when its change committed.
/// One row per change, whatever the number of subscriptions: the message names
/// its recipients, each with its delivery's `webhook-id`, and the delivery
/// worker fans it out to their delivery rows ([`fan_out`]).
pub struct Outbox {
    /// (subscription id, force, events) of the forces concerned.
    subscribers: Vec<(String, String, Vec<EventType>)>,
    body_of: ClosureBody,
    messages: Vec<NewMessage>,
    now: i64,
}

impl Outbox {
    /// The subscriptions of `forces`.
    pub fn open(c: &mut Conn, forces: &[&str], body_of: ClosureBody) -> AppResult<Outbox> {
        let subscribers = store::subscribers(c, forces)?
            .into_iter()
            .map(|(id, force, events)| (id, force, events_of(&events)))
            .collect();
        Ok(Outbox {
            subscribers,
            body_of,
            messages: Vec::new(),
            now: now_micros(),
        })
    }

    /// Whether any subscription hears of `event` on closures of `force_id`.
    pub fn wants(&self, force_id: &str, event: EventType) -> bool {
        self.subscribers
            .iter()
            .any(|(_, f, events)| f == force_id && events.contains(&event))
    }

    /// Queues `event`, which happened to `closure` at `at`, for each subscription that hears of it.
    pub fn add(&mut self, event: EventType, closure: &Closure, at: i64) {
        let recipients: Vec<Recipient> = self
            .subscribers
            .iter()
            .filter(|(_, f, events)| *f == closure.force_id && events.contains(&event))
            .map(|(id, _, _)| Recipient {
                subscription_id: id.clone(),
                delivery_id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
            })
            .collect();
        if recipients.is_empty() {
            return;
        }
        let body = json!({
            "type": event.as_str(),
            "timestamp": rfc3339(at),
            "data": (self.body_of)(closure),
        })
        .to_string();
        self.messages.push(NewMessage {
            event_type: event.as_str(),
            force_id: closure.force_id.clone(),
            closure_id: closure.id.clone(),
            body,
            created_at: self.now,
            recipient_count: recipients.len() as i32,
            recipients: recipients_text(&recipients),
        });
    }

    /// Writes the messages; how many deliveries they hold.
    pub fn close(self, c: &mut Conn) -> AppResult<usize> {
        store::insert_messages(c, &self.messages)?;
        Ok(self
            .messages
            .iter()
            .map(|m| m.recipient_count as usize)
            .sum())
    }
}

/// Wakes the delivery worker when a change's transaction queued deliveries;
/// a change that no subscription hears of costs the worker (and the
/// database) no round. The worker's poll still finds what another instance
/// queued.
pub fn nudge_if_queued(state: &Context, queued: usize) {
    if queued > 0 {
        state.webhook_signal.nudge();
    }
}

/// Queues one change of one closure, in the caller's transaction: how many
/// deliveries it queued.
pub fn queue_change(
    c: &mut Conn,
    body_of: ClosureBody,
    event: EventType,
    closure: &Closure,
    at: i64,
) -> AppResult<usize> {
    let mut outbox = Outbox::open(c, &[&closure.force_id], body_of)?;
    outbox.add(event, closure, at);
    outbox.close(c)
}

/// Fans out up to `limit` messages, oldest id first, to one pending delivery
/// row per recipient, and marks them fanned out, in the caller's transaction;
/// how many messages. On PostgreSQL only one transaction fans out at a time
/// (the others skip it: 0): a message is fanned out once, and a later fan-out
/// draws higher delivery `seq`s, so that each subscription's deliveries are
/// in the order their messages became visible, which is the order their
/// changes committed (a lower message id that commits later is fanned out
/// later, behind those already visible).
pub fn fan_out(c: &mut Conn, now: i64, limit: i64) -> AppResult<usize> {
    if !store::try_fan_out_lock(c)? {
        return Ok(0);
    }
    let messages = store::unfanned(c, limit)?;
    if messages.is_empty() {
        return Ok(0);
    }
    let mut rows = Vec::new();
    for m in &messages {
        for r in recipients_of(&m.recipients) {
            rows.push(NewDelivery {
                id: r.delivery_id,
                subscription_id: r.subscription_id,
                message_id: m.id,
                status: DeliveryStatus::Pending.as_str(),
                next_attempt_at: now,
                created_at: m.created_at,
            });
        }
    }
    store::insert_deliveries(c, &rows)?;
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    store::mark_fanned_out(c, &ids, now)?;
    Ok(messages.len())
}

/// Wakes the delivery worker of this instance after a commit that queued, and
/// tells it to stop.
#[derive(Default)]
pub struct Signal {
    wake: tokio::sync::Notify,
    stopped: std::sync::atomic::AtomicBool,
}

impl Signal {
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Waits for a nudge, or `timeout`.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    /// Asks the worker to stop after its round.
    pub fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.nudge();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A subscription's due deliveries, claimed by one worker.
#[derive(Debug, Clone)]
pub struct Batch {
    pub subscription_id: String,
    pub url: String,
    pub secret: String,
    pub deliveries: Vec<Due>,
}

#[derive(Debug, Clone)]
pub struct Due {
    pub seq: i64,
    /// The `webhook-id`.
    pub id: String,
    /// Attempts before this one.
    pub attempts: u32,
    pub first_attempt_at: Option<i64>,
    pub body: String,
}

/// How the worker claims: who it is, for how long, how much.
#[derive(Debug, Clone)]
pub struct ClaimOptions {
    pub owner: String,
    pub lease: Duration,
    pub max_subscriptions: i64,
    pub per_subscription: i64,
    /// How many messages one round fans out at most.
    pub fan_out: i64,
}

/// What one attempt of one delivery gave.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub due: Due,
    /// When it was made (microseconds).
    pub at: i64,
    /// The receiver's status, when it answered.
    pub status_code: Option<u16>,
    /// Why it did not count as delivered; `None` for a 2xx answer.
    pub error: Option<String>,
}

/// What the attempts of a round came to, for the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub delivered: u64,
    pub retrying: u64,
    pub failed: u64,
}

/// One round of the worker, in one transaction: records the attempts of the
/// last round, fans out new messages, takes (or keeps) the lease of up to
/// `max_subscriptions` subscriptions whose oldest pending delivery is due and
/// that no other live worker holds, gives up the other leases it held, and
/// reads the claimed subscriptions' due deliveries, in order: up to the first
/// one that is not due. With `max_subscriptions` 0 it claims nothing and so
/// gives up every lease (the last round before stopping).
pub async fn round(
    state: &Context,
    opts: &ClaimOptions,
    max_subscriptions: i64,
    schedule: RetrySchedule,
    done: Vec<(String, Vec<Attempt>)>,
) -> AppResult<(Settled, Vec<Batch>)> {
    let opts = opts.clone();
    state
        .db
        .write(move |c| {
            let tally = settle(c, schedule, &done)?;
            let now = now_micros();
            if max_subscriptions > 0 {
                fan_out(c, now, opts.fan_out)?;
            }
            let until = now + opts.lease.as_micros() as i64;
            let claimed = store::claim(c, &opts.owner, now, until, max_subscriptions)?;
            let ids: Vec<String> = claimed.iter().map(|s| s.id.clone()).collect();
            store::release_but(c, &opts.owner, &ids)?;
            let mut due: std::collections::HashMap<String, Vec<Due>> = Default::default();
            let mut late: std::collections::HashSet<String> = Default::default();
            for d in store::pending_of(c, &ids, opts.per_subscription)? {
                // In order: a subscription's round stops at its first delivery not due.
                if late.contains(&d.subscription_id) || d.next_attempt_at > now {
                    late.insert(d.subscription_id);
                    continue;
                }
                due.entry(d.subscription_id).or_default().push(Due {
                    seq: d.seq,
                    id: d.id,
                    attempts: d.attempts.max(0) as u32,
                    first_attempt_at: d.first_attempt_at,
                    body: d.body,
                });
            }
            let batches = claimed
                .into_iter()
                .map(|s| Batch {
                    deliveries: due.remove(&s.id).unwrap_or_default(),
                    subscription_id: s.id,
                    url: s.url,
                    secret: s.secret,
                })
                .collect();
            Ok((tally, batches))
        })
        .await
}

/// Records each subscription's attempts, in the caller's transaction. A
/// delivery whose window is over is failed and pauses its subscription, so
/// that later deliveries wait rather than overtake it. Successes are recorded
/// in a few statements whatever their number: by status code, and whether it
/// was the delivery's first attempt.
fn settle(
    c: &mut Conn,
    schedule: RetrySchedule,
    rounds: &[(String, Vec<Attempt>)],
) -> AppResult<Settled> {
    let mut tally = Settled::default();
    let mut rng = rand::thread_rng();
    let mut delivered: std::collections::BTreeMap<(u16, bool), (Vec<i64>, i64)> =
        Default::default();
    for a in rounds
        .iter()
        .flat_map(|(_, attempts)| attempts)
        .filter(|a| a.error.is_none())
    {
        let key = (
            a.status_code.unwrap_or(200),
            a.due.first_attempt_at.is_none(),
        );
        let group = delivered.entry(key).or_default();
        group.0.push(a.due.seq);
        group.1 = group.1.max(a.at);
        tally.delivered += 1;
    }
    for ((code, first), (seqs, at)) in delivered {
        store::mark_delivered(c, &seqs, at, i32::from(code), first)?;
    }
    for (subscription_id, attempts) in rounds {
        for a in attempts.iter().filter(|a| a.error.is_some()) {
            let n = a.due.attempts + 1;
            let first = a.due.first_attempt_at.unwrap_or(a.at);
            let code = a.status_code.map(i32::from);
            let mut change = AttemptChange {
                status: DeliveryStatus::Failed.as_str(),
                attempts: n as i32,
                first_attempt_at: Some(first),
                last_attempt_at: Some(a.at),
                last_status_code: code,
                last_error: a.error.clone(),
                next_attempt_at: a.at,
                delivered_at: None,
            };
            let err = a.error.as_deref().unwrap_or_default();
            match schedule.after_failure(n, first, a.at, rng.r#gen()) {
                AfterFailure::RetryAt(t) => {
                    change.status = DeliveryStatus::Pending.as_str();
                    change.next_attempt_at = t;
                    tally.retrying += 1;
                }
                AfterFailure::GiveUp => {
                    change.status = DeliveryStatus::Failed.as_str();
                    tally.failed += 1;
                    let why = paused_reason(subscription_id, &a.due.id, n, err);
                    store::pause(c, subscription_id, a.at, &why)?;
                }
            }
            store::record_attempt(c, a.due.seq, &change)?;
        }
    }
    Ok(tally)
}

/// (pending deliveries, age in seconds of the oldest) for `/metrics`.
pub async fn queue_state(state: &Context) -> AppResult<(i64, f64)> {
    let (pending, oldest) = state.db.read(store::queue).await?;
    let age = oldest.map_or(0.0, |t| ((now_micros() - t).max(0) as f64) / 1e6);
    Ok((pending, age))
}
