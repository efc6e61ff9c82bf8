//! The webhook delivery worker: a face of the service that, instead of
//! answering requests, makes them. Each round is one transaction
//! (`service::webhooks::round`): it records what the last round's attempts
//! gave, fans new messages out to their delivery rows, and claims the
//! subscriptions with due deliveries; the worker then sends each
//! subscription's deliveries in order, one at a time, several subscriptions at
//! once. It runs on a thread of its own with its own runtime, so that slow
//! receivers never hold up ingest or decisions.
//!
//! Before each attempt the URL's host is resolved again and every address is
//! judged by `domain::webhooks::address_refusal`; the request then goes to the
//! addresses judged, and no other (no second lookup between check and
//! connect), and redirects are not followed.

mod signing;

pub use signing::signature;

use crate::domain::webhooks::{AllowedHosts, RetrySchedule, address_refusal};
use crate::service::Context;
use crate::service::webhooks::{self as uc, Attempt, Batch, ClaimOptions, Due};
use actix_web::web;
use prometheus::{Gauge, IntCounterVec, IntGauge, Opts};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// No answer within this long counts as a failed attempt.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How many of one subscription's deliveries a round sends at most.
const PER_SUBSCRIPTION: i64 = 500;

/// How many messages a round fans out at most.
const FAN_OUT: i64 = 500;

struct Meters {
    attempts: IntCounterVec,
    pending: IntGauge,
    oldest: Gauge,
}

impl Meters {
    fn new(state: &Context) -> Meters {
        let attempts = IntCounterVec::new(
            Opts::new(
                "closure_audit_webhook_attempts_total",
                "Webhook delivery attempts, by result: delivered, retrying (will be tried again) or failed (gave up)",
            ),
            &["result"],
        )
        .expect("metric");
        let pending = IntGauge::new(
            "closure_audit_webhook_queue_pending",
            "Webhook deliveries waiting to be delivered",
        )
        .expect("metric");
        let oldest = Gauge::new(
            "closure_audit_webhook_queue_age_seconds",
            "Age of the oldest webhook delivery still waiting, in seconds (0 when none)",
        )
        .expect("metric");
        state.metrics.register(Box::new(attempts.clone()));
        state.metrics.register(Box::new(pending.clone()));
        state.metrics.register(Box::new(oldest.clone()));
        Meters {
            attempts,
            pending,
            oldest,
        }
    }

    fn count(&self, t: uc::Settled) {
        self.attempts
            .with_label_values(&["delivered"])
            .inc_by(t.delivered);
        self.attempts
            .with_label_values(&["retrying"])
            .inc_by(t.retrying);
        self.attempts
            .with_label_values(&["failed"])
            .inc_by(t.failed);
        if t.failed > 0 {
            tracing::warn!(
                failed = t.failed,
                "webhook deliveries failed for the whole retry window; their subscriptions are paused"
            );
        }
    }
}

/// Starts this instance's worker, unless `webhook_delivery` is off. It stops
/// when `state.webhook_signal` is stopped.
pub fn start(state: web::Data<Context>) -> std::io::Result<()> {
    let meters = Meters::new(&state);
    if !state.settings.webhook_delivery {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "the webhook worker could not start its runtime");
                    return;
                }
            };
            rt.block_on(run(state, meters));
        })?;
    Ok(())
}

async fn run(state: web::Data<Context>, meters: Meters) {
    let s = &state.settings;
    let opts = ClaimOptions {
        owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        lease: Duration::from_secs(s.webhook_lease_seconds),
        max_subscriptions: i64::from(s.webhook_concurrency),
        per_subscription: PER_SUBSCRIPTION,
        fan_out: FAN_OUT,
    };
    let schedule = RetrySchedule {
        base_ms: s.webhook_retry_base_ms,
        window_micros: (s.webhook_retry_hours * 3_600_000_000.0) as i64,
    };
    // A subscription's round ends early enough that its lease outlives it.
    let budget = opts.lease.saturating_sub(TIMEOUT + Duration::from_secs(3));
    let poll = Duration::from_millis(s.webhook_poll_ms);
    let allowed = AllowedHosts::parse(&s.webhook_allowed_hosts);
    let mut clients = Clients::default();
    let mut gauges_at = Instant::now() - Duration::from_secs(60);
    tracing::info!(owner = %opts.owner, "webhook delivery worker started");
    // The attempts of the last round, recorded by the next one.
    let mut done: Vec<(String, Vec<Attempt>)> = Vec::new();
    loop {
        // The last round records the attempts made and gives up every lease.
        let stopping = state.webhook_signal.is_stopped();
        if gauges_at.elapsed() >= Duration::from_secs(1) && !stopping {
            gauges_at = Instant::now();
            if let Ok((pending, age)) = uc::queue_state(&state).await {
                meters.pending.set(pending);
                meters.oldest.set(age);
            }
        }
        let max = if stopping { 0 } else { opts.max_subscriptions };
        let batches = match uc::round(&state, &opts, max, schedule, std::mem::take(&mut done)).await
        {
            Ok((t, batches)) => {
                meters.count(t);
                batches
            }
            // The attempts were made; unrecorded, they are made again (at
            // least once): this worker still holds their leases and claims
            // them again, or another takes them over once the leases expire.
            Err(e) => {
                tracing::warn!(error = %e, "webhook worker: a round failed; trying again");
                if stopping {
                    break;
                }
                state.webhook_signal.wait(poll).await;
                continue;
            }
        };
        if stopping {
            break;
        }
        if batches.iter().all(|b| b.deliveries.is_empty()) {
            state.webhook_signal.wait(poll).await;
            continue;
        }
        let mut sends = Vec::with_capacity(batches.len());
        for b in batches {
            let client = clients.for_url(&b.url, &allowed).await;
            sends.push(send_batch(b, client, budget));
        }
        done = futures_util::future::join_all(sends).await;
    }
    tracing::info!("webhook delivery worker stopped");
}

/// Where one subscription's URL may be reached: a client bound to the
/// addresses judged, or why none may be used.
type Reach = Result<reqwest::Client, String>;

/// Clients by URL host, kept while the host resolves to the same addresses,
/// so that connections are reused.
#[derive(Default)]
struct Clients {
    by_host: HashMap<String, (Vec<SocketAddr>, reqwest::Client)>,
}

impl Clients {
    async fn for_url(&mut self, raw: &str, allowed: &AllowedHosts) -> Reach {
        let url = url::Url::parse(raw).map_err(|e| format!("the URL cannot be read: {e}"))?;
        let port = url.port_or_known_default().unwrap_or(443);
        let (name, addrs): (Option<String>, Vec<SocketAddr>) = match url.host() {
            Some(url::Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Some(url::Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            Some(url::Host::Domain(d)) => {
                let found = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((d, port)))
                    .await
                    .map_err(|_| format!("resolving {d} timed out"))?
                    .map_err(|e| format!("cannot resolve {d}: {e}"))?;
                (Some(d.to_string()), found.collect())
            }
            None => return Err("the URL names no host".into()),
        };
        let mut usable = Vec::new();
        let mut refusals = Vec::new();
        for a in addrs {
            match address_refusal(a.ip(), allowed) {
                None => usable.push(a),
                Some(why) => refusals.push(why),
            }
        }
        if usable.is_empty() {
            return Err(refusals
                .into_iter()
                .next()
                .unwrap_or_else(|| "the host resolves to no address".into()));
        }
        usable.sort();
        let key = name.clone().unwrap_or_default();
        if let Some((cached, client)) = self.by_host.get(&key)
            && *cached == usable
        {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .user_agent(concat!("closure-audit/", env!("CARGO_PKG_VERSION")));
        if let Some(n) = &name {
            builder = builder.resolve_to_addrs(n, &usable);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        if self.by_host.len() > 256 {
            self.by_host.clear();
        }
        self.by_host.insert(key, (usable, client.clone()));
        Ok(client)
    }
}

/// Sends one subscription's deliveries in order until one fails or the
/// budget is spent; the attempts made.
async fn send_batch(b: Batch, client: Reach, budget: Duration) -> (String, Vec<Attempt>) {
    let started = Instant::now();
    let mut attempts = Vec::new();
    for due in b.deliveries {
        if started.elapsed() > budget {
            break;
        }
        let at = chrono::Utc::now().timestamp_micros();
        let (status_code, error) = match &client {
            Ok(client) => send(client, &b.url, &b.secret, &due).await,
            Err(why) => (None, Some(why.clone())),
        };
        let failed = error.is_some();
        attempts.push(Attempt {
            due,
            at,
            status_code,
            error,
        });
        if failed {
            break;
        }
    }
    (b.subscription_id, attempts)
}

/// One attempt: the answer's status, and why it did not count when it did not.
async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    due: &Due,
) -> (Option<u16>, Option<String>) {
    let timestamp = chrono::Utc::now().timestamp();
    let signed = match signature(secret, &due.id, timestamp, due.body.as_bytes()) {
        Ok(s) => s,
        Err(e) => return (None, Some(e)),
    };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &due.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signed)
        .body(due.body.clone())
        .send()
        .await;
    match sent {
        Ok(mut res) => {
            let code = res.status().as_u16();
            // Read (at most 64 KiB of) the answer so the connection can be reused.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let mut read = 0;
                while let Ok(Some(chunk)) = res.chunk().await {
                    read += chunk.len();
                    if read > 64 * 1024 {
                        break;
                    }
                }
            })
            .await;
            if (200..300).contains(&code) {
                (Some(code), None)
            } else {
                (Some(code), Some(format!("the receiver answered {code}")))
            }
        }
        Err(e) if e.is_timeout() => (None, Some("no answer within 10 s".into())),
        Err(e) if e.is_connect() => (None, Some(format!("cannot connect: {}", root_cause(&e)))),
        Err(e) => (None, Some(root_cause(&e))),
    }
}

/// The innermost error's words (reqwest's outer ones say only "error sending request").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}
