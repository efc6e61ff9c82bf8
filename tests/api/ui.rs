//! The pages under `/ui` over real HTTP, as a browser without JavaScript uses
//! them: cookies kept by hand (no redirects followed), forms posted with the
//! CSRF token the page gave. Every page and role, the error summary, escaping,
//! the cookie's attributes, CSRF and cross-site refusals, and sessions that
//! end at once.

use crate::common::*;
use crate::on_both_backends;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A browser with a cookie jar, that does not follow redirects.
pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    /// The last response's `Set-Cookie` values, as sent.
    pub set_cookies: Vec<String>,
}

/// A page as answered.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The first `csrf_token` of the page's forms.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf_token\" value=\"")
            .expect("the page has a form with a CSRF token");
        let rest = &self.body[at + "name=\"csrf_token\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    /// The text of the `<h1>`.
    pub fn heading(&self) -> String {
        let start = self.body.find("<h1").expect("an h1");
        let open = self.body[start..].find('>').unwrap() + start + 1;
        let end = self.body[open..].find("</h1>").unwrap() + open;
        self.body[open..end].trim().to_string()
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            base: app.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn take(&mut self, res: reqwest::Response) -> Page {
        self.set_cookies.clear();
        for v in res.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap().to_string();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
            self.set_cookies.push(v);
        }
        Page {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take(res).await
    }

    /// Posts a form as the service's own page would (same origin).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(path, form, &[("sec-fetch-site", "same-origin")])
            .await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        self.take(res).await
    }

    /// Signs in through the form; the answer to the form.
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/ui/login").await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        self.post(
            "/ui/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", &csrf),
            ],
        )
        .await
    }

    pub fn session(&self) -> Option<&String> {
        self.cookies.get("__Host-closure_audit_session")
    }
}

/// A user of `role` who can sign in with [`PASSWORD`]; returns (user, username).
async fn person(
    app: &TestApp,
    role: &str,
    force: Option<&str>,
    rank: Option<&str>,
) -> (Value, String) {
    let (user, _) = app.user(role, force, rank).await;
    let name = user["username"].as_str().unwrap().to_string();
    (user, name)
}

/// A closure of `force` posted by its force system, with `tweak` applied.
async fn closure(
    app: &TestApp,
    system: &str,
    force: &str,
    key: &str,
    tweak: impl FnOnce(&mut Value),
) -> Value {
    let mut body = closure_body(force, key);
    tweak(&mut body);
    let (status, c) = app.post_closure(system, &body).await;
    assert_eq!(status, 201, "{c}");
    c
}

async fn signed_in(app: &TestApp, username: &str) -> Browser {
    let mut b = Browser::new(app);
    let res = b.sign_in(username, PASSWORD).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location(), "/ui/");
    b
}

async fn sign_in_and_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, inspector) = person(&app, "officer", Some("kent"), Some("inspector")).await;
    let mut b = Browser::new(&app);

    let root = b.get("/").await;
    assert_eq!((root.status, root.location()), (303, "/ui/"));
    let start = b.get("/ui/").await;
    assert_eq!((start.status, start.location()), (303, "/ui/login"));

    let form = b.get("/ui/login").await;
    assert_eq!(form.status, 200);
    assert!(form.has("<label class=\"govuk-label\" for=\"username\">Username</label>"));
    assert!(form.has("<label class=\"govuk-label\" for=\"password\">Password</label>"));
    assert!(form.has(">Sign in</button>"));
    assert!(form.has("<title>Sign in – closure-audit</title>"));
    assert!(form.has("class=\"govuk-skip-link\""));
    let h = &form.headers;
    assert_eq!(
        h["content-security-policy"],
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert!(!form.has("style=\""), "no inline style");
    assert!(!form.has("<script>"), "no inline script");

    // A wrong password and an unknown user read the same.
    let wrong = b.sign_in(&inspector, "not the password at all").await;
    let unknown = b.sign_in("nobody-at-all", "not the password at all").await;
    for page in [&wrong, &unknown] {
        assert_eq!(page.status, 401);
        assert!(page.has("govuk-error-summary"));
        assert!(page.has("<a href=\"#username\">Enter a correct username and password</a>"));
        assert!(page.has("<title>Error: Sign in – closure-audit</title>"));
        assert!(b.session().is_none());
    }
    let strip = |p: &Page| {
        p.body
            .replace(&p.csrf(), "")
            .replace("nobody-at-all", &inspector)
    };
    assert_eq!(strip(&wrong), strip(&unknown));
    let empty = b.sign_in("", "").await;
    assert_eq!(empty.status, 422);
    assert!(empty.has("<a href=\"#username\">Enter your username</a>"));
    assert!(empty.has("<a href=\"#password\">Enter your password</a>"));
    let failed = app.events("action=auth.login_failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");

    // Signed in: the cookie's attributes, and the API refuses it.
    let ok = b.sign_in(&inspector, PASSWORD).await;
    assert_eq!((ok.status, ok.location()), (303, "/ui/"));
    let cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-closure_audit_session="))
        .expect("the session cookie")
        .clone();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Domain"));
    let logins = app.events("action=auth.login").await;
    assert!(
        logins.iter().any(|e| e["details"]["via"] == "ui"),
        "{logins:?}"
    );
    let session = b.session().unwrap().clone();
    let api = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("__Host-closure_audit_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);

    let home = b.get("/ui/").await;
    assert_eq!((home.status, home.location()), (303, "/ui/queue"));
    let queue = b.get("/ui/queue").await;
    assert_eq!(queue.status, 200);
    assert!(queue.has(">Sign out</button>"));

    // Signing out ends the session at once, even for a copy of the cookie.
    let csrf = queue.csrf();
    let out = b.post("/ui/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(
        (out.status, out.location()),
        (303, "/ui/login?signed_out=1")
    );
    assert!(b.session().is_none());
    let mut copy = Browser::new(&app);
    copy.cookies
        .insert("__Host-closure_audit_session".into(), session);
    let after = copy.get("/ui/queue").await;
    assert_eq!((after.status, after.location()), (303, "/ui/login"));
    let bye = b.get("/ui/login?signed_out=1").await;
    assert!(bye.has("You have signed out."));
}

async fn forms_need_their_token_and_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, inspector) = person(&app, "officer", Some("kent"), Some("inspector")).await;
    let (_, system) = app.user("force_system", Some("kent"), None).await;
    let c = closure(&app, &system, "kent", "CSRF-1", |_| {}).await;
    let id = c["id"].as_str().unwrap();

    // Sign-in without the token its page gave.
    let mut b = Browser::new(&app);
    b.get("/ui/login").await;
    let forged = b
        .post(
            "/ui/login",
            &[
                ("username", &inspector),
                ("password", PASSWORD),
                ("csrf_token", "guess"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(b.session().is_none());

    let mut b = signed_in(&app, &inspector).await;
    let page = b.get(&format!("/ui/closures/{id}")).await;
    let csrf = page.csrf();
    let approve = |token: &str| {
        vec![
            ("csrf_token", token.to_string()),
            ("decision", "approve".to_string()),
            (
                "rationale",
                "Reviewed the whole file and spoke to the OIC.".to_string(),
            ),
            ("victim_wishes_recorded", "yes".to_string()),
            ("evidence_led_prosecution_considered", "yes".to_string()),
            ("safeguarding_in_place", "yes".to_string()),
            ("victim_informed", "yes".to_string()),
        ]
    };
    let path = format!("/ui/closures/{id}/decision");
    let send = approve("not-the-token");
    let pairs: Vec<(&str, &str)> = send.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = b.post(&path, &pairs).await;
    assert_eq!(refused.status, 403);
    assert!(refused.has("This form has expired"));
    let good = approve(&csrf);
    let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cross = b
        .post_with(&path, &pairs, &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(cross.status, 403);
    let other = b
        .post_with(&path, &pairs, &[("origin", "http://evil.example")])
        .await;
    assert_eq!(other.status, 403);
    let logout = b
        .post_with(
            "/ui/logout",
            &[("csrf_token", &csrf)],
            &[("sec-fetch-site", "same-site")],
        )
        .await;
    assert_eq!(logout.status, 403);
    // Nothing was decided by any of them.
    let api: Value = app
        .get(&format!("/api/v1/closures/{id}"), &system)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["status"], "pending_signoff");
    let origin = app.base.clone();
    let ok = b.post_with(&path, &pairs, &[("origin", &origin)]).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

async fn the_queue(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.signoff_due_days = 0).await;
    let (_, inspector) = person(&app, "officer", Some("kent"), Some("chief_inspector")).await;
    let (_, system) = app.user("force_system", Some("kent"), None).await;
    let (_, other_system) = app.user("force_system", Some("essex"), None).await;
    let first = closure(&app, &system, "kent", "Q-FIRST", |b| {
        b["crime_reference"] = json!("KT/00001/26");
        b["evidence"]["risk_level"] = json!("high");
    })
    .await;
    let second = closure(&app, &system, "kent", "Q-SECOND", |b| {
        b["crime_reference"] = json!("KT/00002/26");
        b["division"] = json!("South");
        b["offence_category"] = json!("stalking");
    })
    .await;
    closure(&app, &other_system, "essex", "Q-ESSEX", |b| {
        b["crime_reference"] = json!("EX/00003/26");
    })
    .await;

    let mut b = signed_in(&app, &inspector).await;
    let q = b.get("/ui/queue").await;
    assert_eq!(q.status, 200);
    assert_eq!(q.heading(), "Awaiting sign-off");
    assert!(q.has("<title>Awaiting sign-off – closure-audit</title>"));
    let (a, z) = (
        q.body.find("KT/00001/26").unwrap(),
        q.body.find("KT/00002/26").unwrap(),
    );
    assert!(a < z, "oldest received first");
    assert!(!q.has("EX/00003/26"), "another force's closure");
    assert!(q.has(&format!(
        "href=\"/ui/closures/{}\"",
        first["id"].as_str().unwrap()
    )));
    assert!(q.has("Victim not informed"));
    assert!(q.has("High risk"));
    assert!(q.has("Stalking"));
    assert!(q.has(">Overdue</strong>"), "due after 0 days");
    assert!(q.has("2 awaiting sign-off"));

    let south = b.get("/ui/queue?division=South&offence_category=").await;
    assert!(south.has("KT/00002/26") && !south.has("KT/00001/26"));
    let stalking = b.get("/ui/queue?offence_category=stalking").await;
    assert!(stalking.has("KT/00002/26") && !stalking.has("KT/00001/26"));
    let none = b.get("/ui/queue?offence_category=rape").await;
    assert!(none.has("No closure matching these filters is awaiting sign-off."));

    // Each page read is a consultation on the record.
    let listed = app.events("action=closure.listed").await;
    assert!(
        listed.iter().any(|e| e["details"]["closure_ids"]
            .as_array()
            .is_some_and(|ids| ids.contains(&second["id"]))),
        "{listed:?}"
    );

    // Decided closures leave the queue; a reopened one is back on it.
    let (_, token) = app.officer("kent", "inspector", "7001").await;
    let id = first["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/v1/closures/{id}/decision"),
            &token,
            &json!({"decision": "reject", "rationale": "Needs a statement from the neighbour."}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(!b.get("/ui/queue").await.has("KT/00001/26"));
    let res = app
        .post(
            &format!("/api/v1/closures/{id}/reopen"),
            &token,
            &json!({"reason": "The neighbour has now given a statement."}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let again = b.get("/ui/queue").await;
    assert!(again.has("KT/00001/26") && again.has(">Reopened</strong>"));

    // Who may not sign off gets a 403 page naming the rule.
    for (role, force, rank, rule) in [
        (
            "officer",
            Some("kent"),
            Some("sergeant"),
            "sign-off requires the rank of inspector or above",
        ),
        ("auditor", None, None, "this role cannot decide"),
        (
            "force_system",
            Some("kent"),
            None,
            "this role cannot decide",
        ),
        ("admin", None, None, "this role cannot decide"),
    ] {
        let (_, name) = person(&app, role, force, rank).await;
        let mut who = signed_in(&app, &name).await;
        let page = who.get("/ui/queue").await;
        assert_eq!(page.status, 403, "{role}");
        assert!(page.has(rule), "{role}: {}", page.body);
        assert!(page.has("govuk-template__body"), "in the same style");
        assert!(
            page.has(">Sign out</button>"),
            "{role}: in the signed-in frame"
        );
    }
}

async fn the_closure_page_and_decision(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, inspector) = person(&app, "officer", Some("kent"), Some("inspector")).await;
    let (_, sergeant) = person(&app, "officer", Some("kent"), Some("sergeant")).await;
    let (_, system) = app.user("force_system", Some("kent"), None).await;
    let c = closure(&app, &system, "kent", "PAGE-1", |b| {
        b["rationale"] = json!("<script>alert('x')</script> and the victim withdrew support");
        b["evidence"]["references"] = json!(["<b>BWV-1</b>"]);
    })
    .await;
    let id = c["id"].as_str().unwrap();
    let path = format!("/ui/closures/{id}");

    let mut b = signed_in(&app, &inspector).await;
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.heading(), c["crime_reference"].as_str().unwrap());
    assert!(!page.has("<script>alert"), "escaped");
    assert!(
        page.has("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"),
        "{}",
        page.body
    );
    assert!(!page.has("<b>BWV-1</b>"));
    assert!(page.has("govuk-summary-list"));
    assert!(page.has("Victim not informed"));
    assert!(page.has("No decision has been recorded."));
    for label in [
        ">Approve</label>",
        ">Reject</label>",
        "for=\"rationale\">Rationale</label>",
        ">Victim&#39;s wishes recorded</label>",
        ">Evidence-led prosecution considered</label>",
        ">Safeguarding in place</label>",
        ">Victim informed</label>",
        ">Record decision</button>",
    ] {
        assert!(page.has(label), "{label}");
    }
    assert!(page.has("class=\"govuk-back-link\""));
    let viewed = app
        .events(&format!("closure_id={id}&action=closure.viewed"))
        .await;
    assert_eq!(viewed.len(), 1, "viewing is logged");

    // An approval with an item unticked: the error summary, what was typed kept.
    let csrf = page.csrf();
    let rationale = "Reviewed <the file> & spoke to the OIC";
    let refused = b
        .post(
            &format!("{path}/decision"),
            &[
                ("csrf_token", &csrf),
                ("decision", "approve"),
                ("expected_version", "1"),
                ("rationale", rationale),
                ("victim_wishes_recorded", "yes"),
                ("evidence_led_prosecution_considered", "yes"),
                ("safeguarding_in_place", "yes"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.has("<h2 class=\"govuk-error-summary__title\">There is a problem</h2>"));
    assert!(refused.has(
        "<a href=\"#victim_informed\">Confirm “Victim informed” to approve, or select Reject</a>"
    ));
    assert!(refused.has("id=\"victim_informed-error\""));
    assert!(refused.has("Reviewed &#60;the file&#62; &#38; spoke to the OIC</textarea>"));
    assert!(refused.has("value=\"approve\" checked"));
    assert!(refused.has("name=\"safeguarding_in_place\" type=\"checkbox\" value=\"yes\" checked"));
    assert!(refused.has("<title>Error: Closure"));
    let nothing = b
        .post(
            &format!("{path}/decision"),
            &[("csrf_token", &csrf), ("rationale", "")],
        )
        .await;
    assert_eq!(nothing.status, 422);
    assert!(nothing.has("<a href=\"#decision\">Select Approve or Reject</a>"));
    assert!(nothing.has("<a href=\"#rationale\">Enter a rationale</a>"));

    // A sergeant reads the page, without the form.
    let mut sgt = signed_in(&app, &sergeant).await;
    let read = sgt.get(&path).await;
    assert_eq!(read.status, 200);
    assert!(!read.has("Record decision") && !read.has("decision-form"));

    // Approve; the page then says so, with the decision in its history.
    let approved = b
        .post(
            &format!("{path}/decision"),
            &[
                ("csrf_token", &csrf),
                ("decision", "approve"),
                ("expected_version", "1"),
                ("rationale", "Reviewed the file in full and agree."),
                ("victim_wishes_recorded", "yes"),
                ("evidence_led_prosecution_considered", "yes"),
                ("safeguarding_in_place", "yes"),
                ("victim_informed", "yes"),
            ],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let done = b.get(approved.location()).await;
    assert!(done.has("Decision recorded: the closure is signed off"));
    assert!(done.has(">Signed off</strong>"));
    assert!(done.has("Reviewed the file in full and agree."));
    assert!(!done.has("decision-form"));
    assert!(done.has("Reopen this closure"));
    let api: Value = app
        .get(&format!("/api/v1/closures/{id}"), &system)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["status"], "signed_off");
    assert_eq!(api["decisions"][0]["by_rank"], "inspector");

    // A decision sent from a page read before: someone else decided first.
    let stale = b
        .post(
            &format!("{path}/decision"),
            &[
                ("csrf_token", &csrf),
                ("decision", "reject"),
                ("expected_version", "1"),
                ("rationale", "I would have rejected this closure."),
            ],
        )
        .await;
    assert_eq!(stale.status, 409);
    assert!(stale.has("Someone else decided on or changed this closure first"));
    assert!(stale.has("href=\"#history\""));

    // Reopen: too short a reason is refused in words, then it is reopened.
    let short = b
        .post(
            &format!("{path}/reopen"),
            &[
                ("csrf_token", &csrf),
                ("reason", "too short"),
                ("expected_version", "2"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.has("<a href=\"#reason\">Reason must be between 20 and 10,000 characters</a>"));
    assert!(short.has(">too short</textarea>"));
    let reopened = b
        .post(
            &format!("{path}/reopen"),
            &[
                ("csrf_token", &csrf),
                ("reason", "New evidence from the neighbour came in."),
                ("expected_version", "2"),
            ],
        )
        .await;
    assert_eq!(reopened.status, 303);
    let page = b.get(reopened.location()).await;
    assert!(page.has(">Reopened</strong>") && page.has("decision-form"));

    // No such closure, another force's, an unknown page: 404 in the same style.
    let (_, essex) = app.user("force_system", Some("essex"), None).await;
    let theirs = closure(&app, &essex, "essex", "PAGE-ESSEX", |_| {}).await;
    for p in [
        "/ui/closures/no-such-closure".to_string(),
        format!("/ui/closures/{}", theirs["id"].as_str().unwrap()),
        "/ui/no-such-page".to_string(),
    ] {
        let nf = b.get(&p).await;
        assert_eq!(nf.status, 404, "{p}");
        assert_eq!(nf.heading(), "Page not found");
        assert!(nf.has("govuk-template__body"));
        assert!(nf.has(">Sign out</button>"), "in the signed-in frame");
    }
}

async fn the_audit_dashboard(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, auditor) = person(&app, "auditor", None, None).await;
    let (_, inspector) = person(&app, "officer", Some("kent"), Some("inspector")).await;
    let (_, system) = app.user("force_system", Some("kent"), None).await;
    closure(&app, &system, "kent", "AUD-1", |_| {}).await;
    app.settle().await;

    let mut b = signed_in(&app, &auditor).await;
    let home = b.get("/ui/").await;
    assert_eq!(home.location(), "/ui/audit");
    let page = b.get("/ui/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.heading(), "Audit");
    assert!(page.has(">Log intact</strong>"));
    assert!(page.has("Latest checkpoint"));
    assert!(page.has("No witness policy is set"));
    let now = chrono::Utc::now();
    let this_month = now.format("%Y-%m").to_string();
    assert!(page.has(&format!(
        "id=\"to\" name=\"to\" type=\"text\" value=\"{this_month}\""
    )));
    assert!(page.has("<img class=\"app-funnel\" id=\"funnel\" src=\"/ui/audit/funnel.svg?"));
    assert!(page.has("<td class=\"govuk-table__cell\">kent</td>"));
    assert!(page.has(&format!(
        "<td class=\"govuk-table__cell\">{this_month}</td>"
    )));

    let src = {
        let at = page.body.find("src=\"/ui/audit/funnel.svg?").unwrap() + 5;
        page.body[at..at + page.body[at..].find('"').unwrap()].replace("&#38;", "&")
    };
    let svg = b.get(&src).await;
    assert_eq!(svg.status, 200);
    assert!(
        svg.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert!(svg.body.starts_with("<svg"));
    for (link, first) in [
        ("/ui/audit/closures.csv?", "id,force_id,division"),
        ("/ui/audit/trends.csv?", "month,closures"),
        ("/ui/audit/audit.csv?", "seq,leaf_index"),
    ] {
        let at = page.body.find(&format!("href=\"{link}")).expect(link) + 6;
        let href = page.body[at..at + page.body[at..].find('"').unwrap()].replace("&#38;", "&");
        let csv = b.get(&href).await;
        assert_eq!(csv.status, 200, "{href}");
        assert!(
            csv.body.starts_with(first),
            "{href}: {}",
            &csv.body[..csv.body.len().min(80)]
        );
    }
    let downloads = app.events("action=export.downloaded").await;
    assert!(
        downloads
            .iter()
            .any(|e| e["details"]["export"] == "funnel.svg")
    );
    assert!(
        downloads
            .iter()
            .any(|e| e["details"]["export"] == "trends.table")
    );

    let bad = b.get("/ui/audit?from=2026-13&to=2026-01").await;
    assert_eq!(bad.status, 200);
    assert!(
        bad.has(
            "<a href=\"#from\">From must be a month written as YYYY-MM, for example 2026-04</a>"
        )
    );
    let reversed = b.get("/ui/audit?from=2026-06&to=2026-01").await;
    assert!(reversed.has("<a href=\"#to\">To must be the same as or after From</a>"));

    let mut insp = signed_in(&app, &inspector).await;
    let refused = insp.get("/ui/audit").await;
    assert_eq!(refused.status, 403);
    assert!(refused.has("exports and reports are for auditors"));
    assert_eq!(insp.get(&src).await.status, 403);
}

async fn a_deactivated_users_session_dies_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, inspector) = person(&app, "officer", Some("kent"), Some("inspector")).await;
    let mut b = signed_in(&app, &inspector).await;
    assert_eq!(b.get("/ui/queue").await.status, 200);
    let id = user["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let gone = b.get("/ui/queue").await;
    assert_eq!((gone.status, gone.location()), (303, "/ui/login"));
    // Reactivated, the old session stays dead (a new token generation).
    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"active": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(b.get("/ui/queue").await.status, 303);

    // A new password ends the sessions opened with the old one.
    let mut again = signed_in(&app, &inspector).await;
    assert_eq!(again.get("/ui/queue").await.status, 200);
    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"password": "another long enough password"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(again.get("/ui/queue").await.status, 303);
}

async fn sessions_expire_when_idle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, inspector) = person(&app, "officer", Some("kent"), Some("inspector")).await;
    let b = signed_in(&app, &inspector).await;
    // Pushed back in time by a minute past the idle limit, as if unused.
    let idle_us = app.settings.ui_idle_minutes as i64 * 60_000_000 + 60_000_000;
    app.sql(&format!(
        "UPDATE sessions SET last_seen_at = last_seen_at - {idle_us}"
    ));
    let mut b = b;
    let res = b.get("/ui/queue").await;
    assert_eq!((res.status, res.location()), (303, "/ui/login"));
}

async fn assets_are_served_immutable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut b = Browser::new(&app);
    let login = b.get("/ui/login").await;
    for asset in [
        "/ui/assets/govuk-frontend-5.14.0/govuk-frontend.min.css",
        "/ui/assets/govuk-frontend-5.14.0/govuk-frontend.min.js",
        "/ui/assets/htmx-2.0.11/htmx.min.js",
        "/ui/assets/app-1.mjs",
        "/ui/assets/app-1.css",
    ] {
        let linked = login.has(asset)
            || (asset.ends_with("govuk-frontend.min.js")
                && b.get("/ui/assets/app-1.mjs").await.body.contains(asset));
        assert!(linked, "{asset} is linked");
        let res = b.get(asset).await;
        assert_eq!(res.status, 200, "{asset}");
        assert_eq!(
            res.headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
    }
    let css = b
        .get("/ui/assets/govuk-frontend-5.14.0/govuk-frontend.min.css")
        .await;
    let font = css
        .body
        .find("/ui/assets/govuk-frontend-5.14.0/assets/fonts/")
        .unwrap();
    let end = css.body[font..].find(')').unwrap() + font;
    let res = b.get(&css.body[font..end]).await;
    assert_eq!(res.status, 200);
    assert!(login.has("integrity=\"sha384-"));
    assert_eq!(b.get("/ui/assets/nope.js").await.status, 404);
}

on_both_backends!(
    sign_in_and_out,
    forms_need_their_token_and_origin,
    the_queue,
    the_closure_page_and_decision,
    the_audit_dashboard,
    a_deactivated_users_session_dies_at_once,
    sessions_expire_when_idle,
    assets_are_served_immutable,
);
