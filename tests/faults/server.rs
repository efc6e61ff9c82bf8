//! The real `closure-audit` binary as a child process, on a port chosen free
//! beforehand, with its output in a log file of the test's temporary folder; and
//! an HTTP client that records each answer (or its absence) as an [`Outcome`].

use crate::common::{ADMIN_PASSWORD, JWT_SECRET, PASSWORD};
use reqwest::{Client, RequestBuilder};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_closure-audit");

/// A port nobody listens on now: bound, read and released (the service binds
/// it next, so the window for another process to take it is small).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One run of the service binary; killed (SIGKILL) when dropped.
pub struct Service {
    child: Option<Child>,
    pub base: String,
    pub log_path: PathBuf,
    pub client: Client,
}

impl Service {
    /// Starts the binary on `database_url` with `data_dir` for its keys, the
    /// witness file and its log (`<log_name>.log`), and waits for `/readyz`.
    /// `extra` settings (`CLOSURE_AUDIT_*`) come after the defaults here.
    pub async fn start(
        data_dir: &Path,
        database_url: &str,
        log_name: &str,
        extra: &[(&str, &str)],
    ) -> Service {
        let port = free_port();
        let log_path = data_dir.join(format!("{log_name}.log"));
        let log = std::fs::File::create(&log_path).expect("service log file");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .current_dir(data_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        // Only this test's settings: nothing inherited from the caller's shell.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CLOSURE_AUDIT_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        let bind = format!("127.0.0.1:{port}");
        let data = data_dir.display().to_string();
        let defaults = [
            ("CLOSURE_AUDIT_BIND", bind.as_str()),
            ("CLOSURE_AUDIT_DATABASE_URL", database_url),
            ("CLOSURE_AUDIT_DATA_DIR", data.as_str()),
            ("CLOSURE_AUDIT_JWT_SECRET", JWT_SECRET),
            ("CLOSURE_AUDIT_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("CLOSURE_AUDIT_WORKERS", "2"),
            ("CLOSURE_AUDIT_LOG_LEVEL", "warn"),
        ];
        for (k, v) in defaults.iter().chain(extra) {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the service binary starts");
        let mut service = Service {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            log_path,
            client: Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
        };
        service.wait_ready().await;
        service
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the service exited during start-up ({status}):\n{}",
                    self.log_text()
                );
            }
            if let Ok(res) = self.client.get(self.url("/readyz")).send().await
                && res.status().as_u16() == 200
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "the service was not ready within 40 s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let reply = send(
            self.client
                .post(self.url("/api/v1/auth/login"))
                .json(&json!({"username": username, "password": password})),
        )
        .await
        .expect_reply("login");
        assert_eq!(reply.status, 200, "login of {username}: {}", reply.body);
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user (as the admin) and signs it in; returns its token.
    pub async fn user(&self, admin: &str, role: &str, force: Option<&str>) -> String {
        let username = format!("{role}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut body = json!({"username": username, "password": PASSWORD,
                              "display_name": username, "role": role});
        if let Some(f) = force {
            body["force_id"] = json!(f);
        }
        let reply = self.post("/api/v1/users", admin, &body).await;
        assert_eq!(reply.status, 201, "create {role}: {}", reply.body);
        self.login(&username, PASSWORD).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        send(self.client.get(self.url(path)).bearer_auth(token))
            .await
            .expect_reply(path)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
        .expect_reply(path)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP answer, as far as it arrived.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    /// The JSON body; `Null` when it was not JSON or did not arrive whole.
    pub body: Value,
}

/// What became of one request.
#[derive(Debug, Clone)]
pub enum Outcome {
    Reply(Reply),
    /// No answer within the client's timeout.
    Timeout,
    /// The connection failed (refused, reset, closed).
    Transport(String),
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Reply(r) => Some(r.status),
            _ => None,
        }
    }

    pub fn expect_reply(self, what: &str) -> Reply {
        match self {
            Outcome::Reply(r) => r,
            other => panic!("{what}: no answer: {other:?}"),
        }
    }
}

/// Sends a request and records its outcome; never panics.
pub async fn send(req: RequestBuilder) -> Outcome {
    match req.send().await {
        Ok(res) => {
            let header = |name: &str| {
                res.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let status = res.status().as_u16();
            let content_type = header("content-type");
            let retry_after = header("retry-after");
            let body = match res.bytes().await {
                Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
                Err(e) if e.is_timeout() => return Outcome::Timeout,
                Err(_) => Value::Null,
            };
            Outcome::Reply(Reply {
                status,
                content_type,
                retry_after,
                body,
            })
        }
        Err(e) if e.is_timeout() => Outcome::Timeout,
        Err(e) => Outcome::Transport(format!("{e:?}")),
    }
}
