//! The pages in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver) with fantoccini. The flows of issue 13, axe-core
//! (installed under `target/axe-core` by `.ci/browser`) on every page visited,
//! and screenshots of the main pages in `target/screenshots/`.
//!
//! With `CI=true`, a missing chromium, chromedriver or axe-core fails the test;
//! elsewhere the test says what is missing and passes without running.
//! The service runs on SQLite here: the pages are the same on PostgreSQL,
//! where `ui.rs` covers them over HTTP.

use crate::common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Program names looked up on `PATH` (Debian's packages put them there).
const CHROMIUM: [&str; 2] = ["chromium", "chromium-browser"];
const CHROMEDRIVER: [&str; 1] = ["chromedriver"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn axe_path() -> PathBuf {
    repo().join("target/axe-core/node_modules/axe-core/axe.min.js")
}

/// The first of `names` found in a folder of `PATH`.
fn first_existing(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// What the test needs, or why it cannot run (a failure in CI).
fn tools() -> Option<(PathBuf, PathBuf, String)> {
    let chromium = first_existing(&CHROMIUM);
    let driver = first_existing(&CHROMEDRIVER);
    let axe = std::fs::read_to_string(axe_path()).ok();
    match (chromium, driver, axe) {
        (Some(c), Some(d), Some(a)) => Some((c, d, a)),
        (c, d, a) => {
            let missing = [
                c.is_none().then_some("chromium (apt-get install chromium)"),
                d.is_none()
                    .then_some("chromedriver (apt-get install chromium-driver)"),
                a.is_none()
                    .then_some("axe-core (.ci/browser installs it under target/axe-core)"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("the browser tests need {missing}, and CI runs them");
            }
            eprintln!("browser tests skipped: missing {missing} (CI=true makes this a failure)");
            None
        }
    }
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(path: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-gpu", "--window-size=1280,1100"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

/// The page as one visitor sees it, with axe-core's verdict on each page.
struct Visit<'a> {
    c: &'a Client,
    base: String,
    axe: &'a str,
    /// Every page checked, with its serious or critical violations.
    checked: Vec<(String, Vec<Value>)>,
}

impl Visit<'_> {
    async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn path(&self) -> String {
        let u = self.c.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// The text of the element `css`, read again when the page replaced the
    /// element between finding and reading it (a navigation or an htmx swap
    /// still settling: WebDriver's "stale element reference").
    async fn text(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let read = match self.c.find(Locator::Css(css)).await {
                Ok(e) => e.text().await,
                Err(e) => Err(e),
            };
            match read {
                Ok(t) => return t,
                Err(e) if start.elapsed() > Duration::from_secs(15) => {
                    panic!("{css} on {}: {e}", self.path().await)
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until the element `css` holds `text`.
    async fn until(&self, css: &str, text: &str) {
        let start = Instant::now();
        loop {
            if let Ok(e) = self.c.find(Locator::Css(css)).await
                && e.text().await.is_ok_and(|t| t.contains(text))
            {
                return;
            }
            if start.elapsed() > Duration::from_secs(15) {
                let src = self.c.source().await.unwrap_or_default();
                panic!("{css} never held {text:?} on {}:\n{src}", self.path().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, id: &str, text: &str) {
        let e = self.c.find(Locator::Id(id)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn has(&self, css: &str) -> bool {
        self.c.find(Locator::Css(css)).await.is_ok()
    }

    /// axe-core's WCAG 2.0/2.1/2.2 A and AA rules on the page as it is now.
    async fn axe(&mut self, name: &str) {
        let injected = self
            .c
            .execute("return typeof window.axe !== 'undefined';", vec![])
            .await
            .unwrap();
        if injected != json!(true) {
            self.c
                .execute(&format!("{}\n;return true;", self.axe), vec![])
                .await
                .expect("axe-core injected");
        }
        let result = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values:
                     ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa']}})
                   .then(r => done({ok: true, passes: r.passes.length, violations: r.violations.map(v =>
                       ({id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.map(n => n.html).slice(0, 3)}))}))
                   .catch(e => done({ok: false, error: String(e)}));",
                vec![],
            )
            .await
            .expect("axe.run");
        assert_eq!(result["ok"], json!(true), "axe on {name}: {result}");
        assert!(
            result["passes"].as_u64().unwrap_or(0) > 0,
            "axe checked nothing on {name}"
        );
        let bad: Vec<Value> = result["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .cloned()
            .collect();
        self.checked.push((name.to_string(), bad));
    }

    async fn screenshot(&self, name: &str) {
        let dir = repo().join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, username: &str) {
        self.goto("/ui/login").await;
        self.fill("username", username).await;
        self.fill("password", PASSWORD).await;
        self.click("main form button[type=submit]").await;
        self.until("header, body", "Signed in as").await;
    }

    async fn sign_out(&self) {
        self.click("form[action='/ui/logout'] button").await;
        self.until("main", "You have signed out.").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_use_the_pages_in_a_browser() {
    let Some((chromium, chromedriver, axe)) = tools() else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, system) = app.user("force_system", Some("kent"), None).await;
    let make = |username: &str, role: &str, rank: Option<&str>, officer: Option<&str>| {
        let mut body = json!({"username": username, "password": PASSWORD,
                              "display_name": username, "role": role});
        if role != "auditor" {
            body["force_id"] = json!("kent");
        }
        if let (Some(r), Some(o)) = (rank, officer) {
            body["rank"] = json!(r);
            body["officer_id"] = json!(o);
        }
        body
    };
    app.create_user(make(
        "insp.jones",
        "officer",
        Some("inspector"),
        Some("2210"),
    ))
    .await;
    app.create_user(make("sgt.smith", "officer", Some("sergeant"), Some("3310")))
        .await;
    app.create_user(make("aud.patel", "auditor", None, None))
        .await;
    let mut ids = Vec::new();
    for (key, reference, division) in [
        ("B-1", "KT/10001/26", "North"),
        ("B-2", "KT/10002/26", "South"),
    ] {
        let mut body = closure_body("kent", key);
        body["crime_reference"] = json!(reference);
        body["division"] = json!(division);
        let (status, c) = app.post_closure(&system, &body).await;
        assert_eq!(status, 201, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
    }

    let driver = Driver::start(&chromedriver);
    let client = browser(&driver, &chromium).await;
    let mut v = Visit {
        c: &client,
        base: app.base.clone(),
        axe: &axe,
        checked: Vec::new(),
    };

    // The inspector: sign in, the queue oldest first, the closure, an approval
    // with an item unticked, then the approval.
    v.goto("/").await;
    assert_eq!(v.path().await, "/ui/login");
    v.axe("sign in").await;
    v.fill("username", "insp.jones").await;
    v.fill("password", "not the password").await;
    v.click("main form button[type=submit]").await;
    v.until(
        ".govuk-error-summary",
        "Enter a correct username and password",
    )
    .await;
    v.axe("sign in, refused").await;
    v.sign_in("insp.jones").await;
    assert_eq!(v.path().await, "/ui/queue");
    assert_eq!(v.text("h1").await, "Awaiting sign-off");
    let rows = client
        .find_all(Locator::Css("#queue tbody tr td:first-child a"))
        .await
        .unwrap();
    let mut refs = Vec::new();
    for r in &rows {
        refs.push(r.text().await.unwrap());
    }
    assert_eq!(
        refs,
        ["KT/10001/26", "KT/10002/26"],
        "oldest received first"
    );
    v.axe("queue").await;
    v.screenshot("queue").await;
    // With JavaScript, htmx narrows the table as a filter changes (without
    // it, "Apply filters" does the same).
    client
        .find(Locator::Id("division"))
        .await
        .unwrap()
        .select_by_value("South")
        .await
        .unwrap();
    let start = Instant::now();
    while v.text("#queue-results").await.contains("KT/10001/26") {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "htmx did not narrow the queue"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(v.text("#queue-results").await.contains("KT/10002/26"));
    assert!(
        v.path().await.contains("division=South"),
        "{}",
        v.path().await
    );
    v.axe("queue, filtered").await;
    v.goto("/ui/queue").await;

    client
        .find(Locator::LinkText("KT/10001/26"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    v.until("h1", "KT/10001/26").await;
    v.axe("closure").await;
    v.screenshot("closure").await;
    v.click("label[for=decision]").await;
    v.fill(
        "rationale",
        "Reviewed the file in full and spoke to the OIC.",
    )
    .await;
    for item in [
        "victim_wishes_recorded",
        "evidence_led_prosecution_considered",
        "safeguarding_in_place",
    ] {
        v.click(&format!("label[for={item}]")).await;
    }
    v.click("#decision-form button[type=submit]").await;
    v.until(
        ".govuk-error-summary",
        "Confirm “Victim informed” to approve",
    )
    .await;
    assert_eq!(
        client.title().await.unwrap(),
        "Error: Closure KT/10001/26 – closure-audit"
    );
    let kept = client
        .find(Locator::Id("rationale"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        kept.as_deref(),
        Some("Reviewed the file in full and spoke to the OIC.")
    );
    v.axe("closure, approval refused").await;
    v.screenshot("closure-error").await;
    v.click("label[for=victim_informed]").await;
    v.click("#decision-form button[type=submit]").await;
    v.until(
        "#banner-text",
        "Decision recorded: the closure is signed off",
    )
    .await;
    assert_eq!(v.text("#status").await, "Signed off");
    assert!(!v.has("#decision-form").await);
    v.axe("closure, signed off").await;
    v.screenshot("signed-off").await;
    v.goto("/ui/closures/no-such-closure").await;
    v.until("h1", "Page not found").await;
    v.axe("not found").await;
    v.sign_out().await;
    v.axe("signed out").await;
    v.goto("/ui/queue").await;
    assert_eq!(v.path().await, "/ui/login");

    // A sergeant reads a closure without the decision form, and has no queue.
    v.sign_in("sgt.smith").await;
    v.goto(&format!("/ui/closures/{}", ids[1])).await;
    v.until("h1", "KT/10002/26").await;
    assert!(!v.has("#decision-form").await);
    assert!(!v.has("#reopen-form").await);
    v.axe("closure, read by a sergeant").await;
    v.goto("/ui/queue").await;
    v.until("main", "sign-off requires the rank of inspector or above")
        .await;
    v.axe("queue refused").await;
    v.goto("/ui/").await;
    v.until("main", "You are signed in as an officer (sergeant)")
        .await;
    v.sign_out().await;

    // The auditor: the funnel plot and "Log intact".
    app.settle().await;
    v.sign_in("aud.patel").await;
    assert_eq!(v.path().await, "/ui/audit");
    assert_eq!(v.text("h1").await, "Audit");
    assert_eq!(v.text("#log-state").await, "Log intact");
    let start = Instant::now();
    loop {
        let width = client
            .execute(
                "const i = document.getElementById('funnel'); return i.complete ? i.naturalWidth : 0;",
                vec![],
            )
            .await
            .unwrap();
        if width.as_u64().is_some_and(|w| w > 0) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the funnel plot never loaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    v.axe("audit").await;
    v.screenshot("audit").await;
    v.sign_out().await;

    let failures: Vec<String> = v
        .checked
        .iter()
        .filter(|(_, bad)| !bad.is_empty())
        .map(|(page, bad)| format!("{page}: {}", Value::from(bad.clone())))
        .collect();
    let pages = v.checked.len();
    drop(v);
    client.close().await.unwrap();
    assert!(pages >= 12, "axe ran on {pages} pages");
    assert!(
        failures.is_empty(),
        "serious or critical WCAG violations:\n{}",
        failures.join("\n")
    );
}
