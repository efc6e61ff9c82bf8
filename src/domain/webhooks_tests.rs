use super::*;

fn draft(url: &str, events: &[&str]) -> SubscriptionDraft {
    SubscriptionDraft {
        url: Given::Value(url.into()),
        events: Given::Value(events.iter().map(|e| Given::Value(e.to_string())).collect()),
    }
}

fn fields(r: Result<SubscriptionInput, Vec<FieldError>>) -> Vec<(String, FieldRule)> {
    r.err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect()
}

#[test]
fn urls_need_an_allowed_host_and_https_unless_loopback() {
    let allowed = AllowedHosts::parse("rms.kent.police.uk, 127.0.0.1,[::1]");
    let ok = |u: &str| validate_subscription(draft(u, &["closure.approved"]), &allowed);
    assert!(ok("https://rms.kent.police.uk/hooks").is_ok());
    assert!(ok("https://RMS.Kent.Police.UK:8443/hooks").is_ok());
    assert!(ok("http://127.0.0.1:9000/h").is_ok());
    assert!(ok("http://[::1]:9000/h").is_ok());
    for bad in [
        "http://rms.kent.police.uk/hooks",
        "https://evil.example/hooks",
        "https://127.0.0.2/x",
        "ftp://rms.kent.police.uk/x",
        "https://user:pw@rms.kent.police.uk/x",
        "https://rms.kent.police.uk/x#frag",
        "not a url",
        "/relative",
    ] {
        assert_eq!(
            fields(ok(bad)),
            vec![("url".into(), FieldRule::WebhookUrl)],
            "{bad}"
        );
    }
    let none = AllowedHosts::parse(" , ");
    assert!(none.is_empty());
    let r = validate_subscription(draft("http://127.0.0.1/x", &["closure.created"]), &none);
    assert_eq!(fields(r), vec![("url".into(), FieldRule::WebhookUrl)]);
}

#[test]
fn events_are_the_four_each_once() {
    let allowed = AllowedHosts::parse("127.0.0.1");
    let v = validate_subscription(
        draft(
            "http://127.0.0.1/x",
            &["closure.reopened", "closure.created", "closure.created"],
        ),
        &allowed,
    )
    .unwrap();
    assert_eq!(
        v.events,
        vec![EventType::ClosureCreated, EventType::ClosureReopened]
    );
    assert_eq!(events_of(&events_text(&v.events)), v.events);
    for bad in [
        &["closure.viewed"][..],
        &[][..],
        &["closure.created", "x"][..],
    ] {
        let r = validate_subscription(draft("http://127.0.0.1/x", bad), &allowed);
        assert_eq!(fields(r)[0].0, "events", "{bad:?}");
    }
    let missing = SubscriptionDraft {
        url: Given::Absent,
        events: Given::Absent,
    };
    let f = fields(validate_subscription(missing, &allowed));
    assert_eq!(
        f,
        vec![
            ("url".into(), FieldRule::Required),
            ("events".into(), FieldRule::Required)
        ]
    );
}

#[test]
fn private_addresses_are_refused_unless_listed() {
    let allowed = AllowedHosts::parse("127.0.0.1, hooks.example");
    let refused = |s: &str| address_refusal(s.parse().unwrap(), &allowed).is_some();
    for a in [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "127.0.0.2",
        "0.0.0.0",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ] {
        assert!(refused(a), "{a}");
    }
    for a in ["127.0.0.1", "::ffff:127.0.0.1", "8.8.8.8", "2a00:1450::1"] {
        assert!(!refused(a), "{a}");
    }
}

#[test]
fn retries_double_with_jitter_at_most_an_hour_apart_within_the_window() {
    let s = RetrySchedule {
        base_ms: 5000,
        window_micros: 24 * 3_600_000_000,
    };
    assert_eq!(s.gap_micros(1, 0.0), 5_000_000);
    assert_eq!(s.gap_micros(2, 0.0), 10_000_000);
    assert_eq!(s.gap_micros(3, 1.0), 24_000_000);
    assert_eq!(s.gap_micros(30, 0.5), MAX_RETRY_GAP_MICROS);
    let first = 1_000_000;
    assert_eq!(
        s.after_failure(1, first, first, 0.0),
        AfterFailure::RetryAt(first + 5_000_000)
    );
    let end = first + s.window_micros;
    assert_eq!(
        s.after_failure(20, first, end - 10, 0.0),
        AfterFailure::RetryAt(end)
    );
    assert_eq!(s.after_failure(21, first, end, 0.0), AfterFailure::GiveUp);
    // Over 24 hours, at most an hour apart: at least 24 + a few attempts.
    let (mut now, mut n) = (first, 1u32);
    while let AfterFailure::RetryAt(t) = s.after_failure(n, first, now, 0.3) {
        assert!(t - now <= MAX_RETRY_GAP_MICROS && t > now);
        now = t;
        n += 1;
    }
    assert!(n > 24, "{n} attempts");
    assert!(now >= end);
}

#[test]
fn recipients_round_trip_in_order() {
    let rs = vec![
        Recipient {
            subscription_id: "0193a-b".into(),
            delivery_id: "msg_01".into(),
        },
        Recipient {
            subscription_id: "0193a-c".into(),
            delivery_id: "msg_02".into(),
        },
    ];
    let text = recipients_text(&rs);
    assert_eq!(text, "0193a-b=msg_01,0193a-c=msg_02");
    assert_eq!(recipients_of(&text), rs);
    assert!(recipients_of("").is_empty());
}
