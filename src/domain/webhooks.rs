//! Webhooks for force systems (API.md, "Notifications for force systems"): the
//! events a subscription may choose, the rules a subscription's URL must meet
//! (so that the service cannot be made to call into a private network), which
//! resolved addresses a delivery may go to, and the retry schedule.

use super::validation::{Errors, FieldError, FieldRule, Given, Need};
use std::net::IpAddr;

/// A change a force system can hear of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    ClosureCreated,
    ClosureApproved,
    ClosureRejected,
    ClosureReopened,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::ClosureCreated,
        EventType::ClosureApproved,
        EventType::ClosureRejected,
        EventType::ClosureReopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ClosureCreated => "closure.created",
            EventType::ClosureApproved => "closure.approved",
            EventType::ClosureRejected => "closure.rejected",
            EventType::ClosureReopened => "closure.reopened",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

/// How many subscriptions one force may hold at once.
pub const MAX_SUBSCRIPTIONS_PER_FORCE: usize = 20;

/// The hosts subscriptions may name (`CLOSURE_AUDIT_WEBHOOK_ALLOWED_HOSTS`):
/// host names or IP addresses, matched exactly (names ignoring case), any port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    names: Vec<String>,
    addresses: Vec<IpAddr>,
}

impl AllowedHosts {
    /// A comma-separated list; blanks are skipped, `[::1]` is read as `::1`.
    pub fn parse(list: &str) -> AllowedHosts {
        let mut hosts = AllowedHosts::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bare = item.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(ip) => hosts.addresses.push(ip),
                Err(_) => hosts.names.push(bare.to_ascii_lowercase()),
            }
        }
        hosts
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.addresses.is_empty()
    }

    /// Whether a URL may name `host`.
    pub fn allows(&self, host: &Host) -> bool {
        match host {
            Host::Name(n) => self.names.iter().any(|a| a.eq_ignore_ascii_case(n)),
            Host::Address(ip) => self.lists_address(*ip),
        }
    }

    /// Whether `ip` itself is on the list.
    pub fn lists_address(&self, ip: IpAddr) -> bool {
        self.addresses.contains(&canonical(ip))
    }
}

/// The host of a subscription's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lower case.
    Name(String),
    Address(IpAddr),
}

impl Host {
    /// A loopback address, or the name `localhost` (RFC 6761: always loopback).
    pub fn is_loopback(&self) -> bool {
        match self {
            Host::Name(n) => n == "localhost" || n.ends_with(".localhost"),
            Host::Address(ip) => canonical(*ip).is_loopback(),
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is judged as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Why a delivery may not go to `ip`, when it may not: an address that is not
/// on the public internet (private, loopback, link-local, unspecified, shared,
/// multicast, unique-local) is refused unless that address itself is listed.
pub fn address_refusal(ip: IpAddr, allowed: &AllowedHosts) -> Option<String> {
    let ip = canonical(ip);
    if allowed.lists_address(ip) {
        return None;
    }
    let kind = match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || a == 0 {
                Some("unspecified")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (carrier-grade NAT)")
            } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
                Some("multicast or reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    };
    kind.map(|k| format!("{ip} is a {k} address and is not itself listed in the allowed hosts"))
}

/// A subscription as a client gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionDraft {
    pub url: Given<String>,
    pub events: Given<Vec<Given<String>>>,
}

/// A subscription that may be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInput {
    pub url: String,
    /// Each chosen once, in the order of [`EventType::ALL`].
    pub events: Vec<EventType>,
}

/// The URL's scheme, host and form; `None` with the reason when refused.
fn judge_url(raw: &str, allowed: &AllowedHosts) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("is not an absolute URL ({e})"))?;
    let host = match url.host() {
        Some(url::Host::Domain(d)) => Host::Name(d.to_ascii_lowercase()),
        Some(url::Host::Ipv4(ip)) => Host::Address(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Host::Address(IpAddr::V6(ip)),
        None => return Err("must name a host".into()),
    };
    match url.scheme() {
        "https" => {}
        "http" if host.is_loopback() => {}
        "http" => return Err("must use https (http only to a loopback address)".into()),
        _ => return Err("must be an https URL (http only to a loopback address)".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment (#...)".into());
    }
    if !allowed.allows(&host) {
        let shown = match &host {
            Host::Name(n) => n.clone(),
            Host::Address(ip) => ip.to_string(),
        };
        return Err(if allowed.is_empty() {
            "no host is allowed: CLOSURE_AUDIT_WEBHOOK_ALLOWED_HOSTS is empty".into()
        } else {
            format!("the host {shown} is not in CLOSURE_AUDIT_WEBHOOK_ALLOWED_HOSTS")
        });
    }
    Ok(url.to_string())
}

pub fn validate_subscription(
    d: SubscriptionDraft,
    allowed: &AllowedHosts,
) -> Result<SubscriptionInput, Vec<FieldError>> {
    let mut errs = Errors::default();
    let url = errs
        .text("url", d.url, (1, MAX_URL_CHARS), Need::Required)
        .and_then(|raw| match judge_url(&raw, allowed) {
            Ok(u) => Some(u),
            Err(why) => {
                errs.add("url", FieldRule::WebhookUrl, why);
                None
            }
        });
    let mut events = Vec::new();
    if !d.events.is_given() {
        errs.add("events", FieldRule::Required, "is required");
    } else if let Some(names) = errs.texts("events", d.events, EventType::ALL.len() * 4, (1, 64)) {
        let mut unknown = Vec::new();
        for n in &names {
            match EventType::parse(n) {
                Some(e) => events.push(e),
                None => unknown.push(n.as_str()),
            }
        }
        if !unknown.is_empty() {
            let all: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
            errs.add(
                "events",
                FieldRule::NotOneOf,
                format!(
                    "{} not an event; each must be one of {}",
                    unknown.join(", "),
                    all.join(", ")
                ),
            );
        } else if events.is_empty() {
            errs.add("events", FieldRule::Length, "must name at least one event");
        }
    }
    errs.finish(|| SubscriptionInput {
        url: url.unwrap_or_default(),
        events: EventType::ALL
            .into_iter()
            .filter(|e| events.contains(e))
            .collect(),
    })
}

/// The events of a stored subscription, as written by [`events_text`].
pub fn events_of(text: &str) -> Vec<EventType> {
    text.split(',').filter_map(EventType::parse).collect()
}

pub fn events_text(events: &[EventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// One subscription a message is for, and the `webhook-id` of its delivery
/// there: chosen when the change commits, so that every attempt, before and
/// after the worker fans the message out, carries the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub subscription_id: String,
    pub delivery_id: String,
}

/// A message's recipients as stored with it: `subscription=delivery` pairs,
/// comma-separated (neither holds `=` or `,`: a UUID and `msg_<hex>`).
pub fn recipients_text(recipients: &[Recipient]) -> String {
    recipients
        .iter()
        .map(|r| format!("{}={}", r.subscription_id, r.delivery_id))
        .collect::<Vec<_>>()
        .join(",")
}

/// The recipients written by [`recipients_text`], in their order.
pub fn recipients_of(text: &str) -> Vec<Recipient> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(s, d)| Recipient {
            subscription_id: s.to_string(),
            delivery_id: d.to_string(),
        })
        .collect()
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// The retry schedule (`CLOSURE_AUDIT_WEBHOOK_RETRY_BASE_MS`,
/// `CLOSURE_AUDIT_WEBHOOK_RETRY_HOURS`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySchedule {
    /// The wait before the first retry, in milliseconds.
    pub base_ms: u64,
    /// How long after its first attempt a delivery is still retried, in microseconds.
    pub window_micros: i64,
}

/// Retries are never more than an hour apart.
pub const MAX_RETRY_GAP_MICROS: i64 = 3_600_000_000;

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this instant (microseconds).
    RetryAt(i64),
    /// The window is over: the delivery has failed.
    GiveUp,
}

impl RetrySchedule {
    /// The wait after the `attempts`-th failed attempt: the base, doubling with
    /// each attempt, stretched by up to a fifth by `jitter` (0 to 1), at most an hour.
    pub fn gap_micros(&self, attempts: u32, jitter: f64) -> i64 {
        let doublings = attempts.saturating_sub(1).min(40);
        let base = (self.base_ms as f64) * 1000.0 * 2f64.powi(doublings as i32);
        let stretched = base * (1.0 + 0.2 * jitter.clamp(0.0, 1.0));
        (stretched.min(MAX_RETRY_GAP_MICROS as f64) as i64).max(1)
    }

    /// After an attempt at `now` failed, the delivery's `attempts`-th, whose
    /// first was at `first_attempt_at`: when to try again, or give up. The last
    /// retry falls at the end of the window.
    pub fn after_failure(
        &self,
        attempts: u32,
        first_attempt_at: i64,
        now: i64,
        jitter: f64,
    ) -> AfterFailure {
        let end = first_attempt_at.saturating_add(self.window_micros);
        if now >= end {
            return AfterFailure::GiveUp;
        }
        AfterFailure::RetryAt(
            now.saturating_add(self.gap_micros(attempts, jitter))
                .min(end),
        )
    }
}

/// Why a subscription was paused, in words its owner reads.
pub fn paused_reason(
    subscription_id: &str,
    delivery_id: &str,
    attempts: u32,
    last_error: &str,
) -> String {
    format!(
        "delivery {delivery_id} failed after {attempts} attempts over the whole retry window \
         (last: {last_error}); later deliveries wait until the receiver is fixed and \
         POST /api/v1/webhooks/{subscription_id}/resume is sent"
    )
}

#[cfg(test)]
#[path = "webhooks_tests.rs"]
mod tests;
