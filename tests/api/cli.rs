//! The binary itself: first start, start-up refusals, `user add`, `migrate`,
//! graceful shutdown.

use crate::common::*;
use reqwest::StatusCode;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_closure-audit");

fn command(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CLOSURE_AUDIT_BIND", "127.0.0.1:0")
        .env("CLOSURE_AUDIT_LOG_FORMAT", "text")
        .env("CLOSURE_AUDIT_LOG_LEVEL", "info");
    c
}

/// Starts `serve`; returns the child, its port, and the log lines seen until then.
/// The caller waits for the child (`wait_exit`).
#[allow(clippy::zombie_processes)]
fn start(mut c: Command) -> (Child, u16, Vec<String>) {
    let mut child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the service logs that it listens");
        lines.push(line.clone());
        if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
            let port = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
            return (child, port, lines);
        }
    }
}

/// Sends SIGTERM once the server answers (its signal handlers are then in place).
fn sigterm(child: &Child, port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..200 {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the service did not stop on SIGTERM");
}

#[tokio::test]
async fn first_start_prints_a_generated_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, lines) = start(command(dir.path()));
    let line = lines
        .iter()
        .find(|l| l.contains("created user \"admin\" with password"))
        .expect("password logged");
    let password = line
        .split("with password ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(password.len() >= 12);
    // The default database and the generated secret are under ./data.
    assert!(dir.path().join("data/closure-audit.db").is_file());
    assert!(dir.path().join("data/jwt-secret").is_file());
    let client = reqwest::Client::new();
    let res = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    sigterm(&child, port);
    assert!(wait_exit(&mut child).success(), "graceful shutdown exits 0");

    // A second start finds the admin and prints no password.
    let (mut child, port, lines) = start(command(dir.path()));
    assert!(
        !lines.iter().any(|l| l.contains("with password")),
        "{lines:?}"
    );
    sigterm(&child, port);
    assert!(wait_exit(&mut child).success());
}

#[test]
fn a_mistyped_database_url_is_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "sqlit://./x.db",
        "sqlite:/x.db",
        "./x.db",
        "mysql://localhost/x",
    ] {
        let out = command(dir.path())
            .env("CLOSURE_AUDIT_DATABASE_URL", url)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("scheme") || err.contains("database URL"),
            "{url}: {err}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.iter().all(|n| !n.to_string_lossy().ends_with(".db")),
        "a file was created: {left:?}"
    );
}

#[test]
fn a_short_jwt_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .env("CLOSURE_AUDIT_JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"));
}

#[tokio::test]
async fn user_add_and_migrate_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let out = command(dir.path())
        .env("CLOSURE_AUDIT_DATABASE_URL", &db)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut add = command(dir.path())
        .env("CLOSURE_AUDIT_DATABASE_URL", &db)
        .args([
            "user",
            "add",
            "--username",
            "insp.cli",
            "--role",
            "officer",
            "--rank",
            "inspector",
        ])
        .args(["--officer-id", "777", "--force-id", "essex"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user insp.cli"));
    // A bad role is refused with the field named.
    let out = command(dir.path())
        .env("CLOSURE_AUDIT_DATABASE_URL", &db)
        .args(["user", "add", "--username", "x", "--role", "officer"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rank"));

    let mut serve = command(dir.path());
    serve
        .env("CLOSURE_AUDIT_DATABASE_URL", &db)
        .env("CLOSURE_AUDIT_ADMIN_PASSWORD", ADMIN_PASSWORD);
    let (mut child, port, _) = start(serve);
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "insp.cli", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    sigterm(&child, port);
    assert!(wait_exit(&mut child).success());
}
