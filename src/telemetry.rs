//! Logs, request ids and Prometheus metrics.

use crate::config::{LogFormat, Settings};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::future::{Ready, ready};
use std::time::Instant;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Sets up the global log subscriber once; later calls (tests) do nothing.
pub fn init_logging(settings: &Settings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match settings.log_format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The id of the request being served: the client's `X-Request-Id` when it is
/// sane (1 to 64 characters of `[A-Za-z0-9._:-]`), else a new one. Every log
/// line of the request and every audit event it causes carries it, and the
/// response echoes it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(new_request_id()))))
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The longest client request id kept.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client's `X-Request-Id` is kept as sent: 1 to 64 characters of
/// `[A-Za-z0-9._:-]`. It is stored in audit events and written to every log
/// line, so anything else (longer, spaces, quotes, non-ASCII) is replaced by a
/// generated id rather than refused.
fn sane_request_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_REQUEST_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Request counts by route and status, latency by route, and throttled logins.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    login_throttled: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to serve an HTTP request, by route and method",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route", "method"],
        )
        .expect("metric");
        // No label: a label per user name would let clients grow the metrics.
        let login_throttled = IntCounter::new(
            "closure_audit_login_throttled_total",
            "Login attempts refused (429) because their user name is throttled",
        )
        .expect("metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("register");
        registry
            .register(Box::new(latency.clone()))
            .expect("register");
        registry
            .register(Box::new(login_throttled.clone()))
            .expect("register");
        Metrics {
            registry,
            requests,
            latency,
            login_throttled,
        }
    }

    /// Counts one login attempt refused by throttling.
    pub fn login_throttled(&self) {
        self.login_throttled.inc();
    }

    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// Adds metrics kept elsewhere (the sequencer's) to the exposition.
    pub fn register(&self, c: Box<dyn prometheus::core::Collector>) {
        if let Err(e) = self.registry.register(c) {
            tracing::warn!(error = %e, "a metric could not be registered");
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Middleware: request id, a tracing span around the request, metrics and one
/// log line per request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| sane_request_id(s))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_string());
    let method = req.method().to_string();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::service::Context>>()
        .map(|s| s.metrics.clone());
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let start = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(m) = metrics {
        m.observe(&route, &method, status.as_u16(), elapsed);
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            elapsed_ms = elapsed * 1000.0,
            "served"
        )
    });
    let mut res = result?;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_bounded() {
        for ok in ["abc-123", "a", "req_1.2:3", &"x".repeat(MAX_REQUEST_ID_LEN)] {
            assert!(sane_request_id(ok), "{ok}");
        }
        for bad in [
            "",
            &"x".repeat(MAX_REQUEST_ID_LEN + 1),
            "has space",
            "quote\"",
            "it's",
            "caf\u{e9}",
            "a/b",
            "a\tb",
        ] {
            assert!(!sane_request_id(bad), "{bad:?}");
        }
        assert!(sane_request_id(&new_request_id()));
    }
}
