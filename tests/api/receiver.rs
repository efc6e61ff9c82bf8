//! A webhook receiver on 127.0.0.1, as a force's records system would run:
//! it records every request (headers and body) and answers with the statuses
//! the test scripts, then 200. One request per connection.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
    pub path: String,
    /// The status answered.
    pub answered: u16,
}

impl Received {
    pub fn id(&self) -> &str {
        &self.headers["webhook-id"]
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn event(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }

    /// Whether `webhook-signature` is the HMAC-SHA256 of `id.timestamp.body`
    /// under `secret` (`whsec_<base64>`), computed here from the convention.
    pub fn signed_with(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
            .expect("base64 secret");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(
            format!(
                "{}.{}.{}",
                self.headers["webhook-id"], self.headers["webhook-timestamp"], self.body
            )
            .as_bytes(),
        );
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.headers["webhook-signature"]
            .split(' ')
            .any(|s| s == expected)
    }
}

#[derive(Default)]
struct State {
    seen: Vec<Received>,
    script: VecDeque<u16>,
    /// Seconds to wait before answering each request.
    delay: Option<Duration>,
}

pub struct Receiver {
    pub port: u16,
    state: Arc<Mutex<State>>,
    accept: AbortHandle,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on(0).await
    }

    /// On a given port (0: any free one).
    pub async fn start_on(port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(sock, s.clone()));
            }
        })
        .abort_handle();
        Receiver {
            port,
            state,
            accept,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next requests get these statuses, then 200 again.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    /// Forgets the statuses scripted and not yet used.
    pub fn clear_script(&self) {
        self.state.lock().unwrap().script.clear();
    }

    pub fn delay_answers(&self, d: Duration) {
        self.state.lock().unwrap().delay = Some(d);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Waits until `n` requests that `pred` accepts have arrived.
    pub async fn wait_for(
        &self,
        n: usize,
        within: Duration,
        pred: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got: Vec<Received> = self.received().into_iter().filter(&pred).collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < within,
                "{} of {n} requests within {within:?}: {:?}",
                got.len(),
                got.iter().map(|r| r.event()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops listening: connections are refused from now on.
    pub fn stop(&self) {
        self.accept.abort();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve(mut sock: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let (head, body) = loop {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            let Ok(n) = sock.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        break (
            head,
            String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned(),
        );
    };
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let (status, delay) = {
        let mut s = state.lock().unwrap();
        (s.script.pop_front().unwrap_or(200), s.delay)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    state.lock().unwrap().seen.push(Received {
        headers,
        body,
        path,
        answered: status,
    });
    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = sock.write_all(answer.as_bytes()).await;
    let _ = sock.shutdown().await;
}
