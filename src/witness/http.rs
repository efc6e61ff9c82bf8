//! The witness's HTTP face: `POST /add-checkpoint` (tlog-witness) and the
//! monitoring read `GET /<hex SHA-256 of origin>/checkpoint`. Errors are a
//! plain-text line with the status code tlog-witness gives them.

use super::{MAX_BODY_BYTES, Reject, Witness, WitnessSettings};
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use std::net::TcpListener;
use std::time::Duration;

fn text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

fn reject(r: Reject) -> HttpResponse {
    match r {
        Reject::BadRequest(m) => text(StatusCode::BAD_REQUEST, format!("{m}\n")),
        Reject::Forbidden(m) => text(StatusCode::FORBIDDEN, format!("{m}\n")),
        Reject::UnknownOrigin(m) => text(StatusCode::NOT_FOUND, format!("{m}\n")),
        Reject::Conflict(size) => HttpResponse::Conflict()
            .content_type("text/x.tlog.size")
            .body(format!("{size}\n")),
        Reject::Unprocessable(m) => text(StatusCode::UNPROCESSABLE_ENTITY, format!("{m}\n")),
        Reject::Unavailable(m) => {
            tracing::warn!("witness database unavailable: {m}");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "1"))
                .content_type("text/plain; charset=utf-8")
                .body("the witness's database is unavailable\n")
        }
        Reject::Internal(m) => {
            tracing::error!("witness: {m}");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into())
        }
    }
}

async fn add_checkpoint(witness: web::Data<Witness>, mut payload: web::Payload) -> HttpResponse {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return text(StatusCode::BAD_REQUEST, "cannot read the body\n".into());
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY_BYTES} bytes\n"),
            );
        }
        body.extend_from_slice(&chunk);
    }
    match witness.add_checkpoint(body).await {
        Ok(lines) => {
            tracing::info!("cosigned a checkpoint");
            HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(lines)
        }
        Err(r) => {
            tracing::info!(answer = ?r, "add-checkpoint refused");
            reject(r)
        }
    }
}

async fn checkpoint(witness: web::Data<Witness>, path: web::Path<String>) -> HttpResponse {
    match witness.latest(&path.into_inner()).await {
        Ok(Some(note)) => HttpResponse::Ok()
            .insert_header(ContentType::plaintext())
            .body(note),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            "no cosigned checkpoint for that log\n".into(),
        ),
        Err(r) => reject(r),
    }
}

async fn not_found() -> HttpResponse {
    text(StatusCode::NOT_FOUND, "not found\n".into())
}

/// The witness server, bound and ready to run.
pub struct WitnessServer {
    port: u16,
    server: Server,
    pub witness: Witness,
}

impl WitnessServer {
    /// Opens the witness (key, state database) and binds the listener. Blocking.
    pub fn build(s: &WitnessSettings) -> Result<WitnessServer, String> {
        let witness = Witness::open(s)?;
        let listener =
            TcpListener::bind(&s.bind).map_err(|e| format!("cannot listen on {}: {e}", s.bind))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(address = %addr, verifier_key = %witness.verifier().verifier_key(), "witness listening on http://{addr}");
        let data = web::Data::new(witness.clone());
        let workers = match s.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/add-checkpoint", web::post().to(add_checkpoint))
                .route("/{origin_hash}/checkpoint", web::get().to(checkpoint))
                .default_service(web::to(not_found))
        })
        .client_request_timeout(Duration::from_secs(10))
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(Duration::from_secs(30))
        .workers(workers)
        .shutdown_timeout(s.shutdown_timeout_seconds)
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        Ok(WitnessServer {
            port: addr.port(),
            server,
            witness,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
