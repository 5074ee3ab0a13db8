//! The allow-list against a reference: URLs generated from parts whose verdict is known from the parts alone
//! (which host a spelling names, which port a scheme defaults to, which segments are dot segments), judged by
//! `EndpointPolicy::resolve` on the rendered text. 10,000 cases per run.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::*;

/// Spellings of hosts, each with the identity a correct parser must give it.
const HOSTS: &[(&str, &str)] = &[
    ("127.0.0.1", "v4 127.0.0.1"),
    ("127.0.0.1.", "v4 127.0.0.1"),
    ("0x7f.0.0.1", "v4 127.0.0.1"),
    ("0177.0.0.1", "v4 127.0.0.1"),
    ("2130706433", "v4 127.0.0.1"),
    ("127.1", "v4 127.0.0.1"),
    ("127.0.0.2", "v4 127.0.0.2"),
    ("127.0.0.02", "v4 127.0.0.2"),
    ("api.example.com", "dns api.example.com"),
    ("API.Example.COM", "dns api.example.com"),
    ("api.example.com.", "dns api.example.com"),
    ("Api.Example.Com.", "dns api.example.com"),
    ("api.example.com.evil.example", "dns api.example.com.evil.example"),
    ("example.com", "dns example.com"),
    ("localhost", "dns localhost"),
    ("[::1]", "v6 ::1"),
    ("[0:0:0:0:0:0:0:1]", "v6 ::1"),
    ("[0::1]", "v6 ::1"),
    ("[::2]", "v6 ::2"),
    ("[::ffff:127.0.0.1]", "v6 ::ffff:7f00:1"),
];

/// Path segments: plain ones, dot segments in every spelling, encoded separators, an empty one.
const SEGMENTS: &[&str] = &[
    "v1", "api", "x", "V1", "r%75", "", ".", "..", "%2e", "%2E%2e", ".%2E", "%2e.", "a%2fb", "a%5Cb", "a%2Fb",
];

const USERINFO: &[&str] = &["u@", "u:p@", ":@", "@", "127.0.0.1:x@", "api.example.com@"];

#[derive(Clone, Debug)]
struct Parts {
    scheme: (&'static str, Option<&'static str>),
    userinfo: Option<&'static str>,
    host: (&'static str, &'static str),
    port: Option<u16>,
    segments: Vec<&'static str>,
    trailing_slash: bool,
    query: Option<&'static str>,
    fragment: Option<&'static str>,
}

impl Parts {
    fn render(&self) -> String {
        let mut out = format!("{}://{}{}", self.scheme.0, self.userinfo.unwrap_or(""), self.host.0);
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        for segment in &self.segments {
            out.push('/');
            out.push_str(segment);
        }
        if self.trailing_slash {
            out.push('/');
        }
        if let Some(q) = self.query {
            out.push('?');
            out.push_str(q);
        }
        if let Some(f) = self.fragment {
            out.push('#');
            out.push_str(f);
        }
        out
    }

    /// The reference verdict for the policy in `policy()`, from the parts alone.
    fn allowed(&self) -> bool {
        let Some(scheme) = self.scheme.1 else { return false };
        if self.userinfo.is_some() || self.query.is_some() || self.fragment.is_some() {
            return false;
        }
        let dot = |s: &str| {
            let lower = s.to_ascii_lowercase();
            let decoded = lower.replace("%2e", ".");
            decoded == "." || decoded == ".." || ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e))
        };
        if self.segments.iter().any(|s| dot(s)) {
            return false;
        }
        let port = self.port.unwrap_or(if scheme == "https" { 443 } else { 80 });
        let mut segments = self.segments.clone();
        while segments.last().is_some_and(|s| s.is_empty()) {
            segments.pop();
        }
        let host = self.host.1;
        (scheme == "http" && host == "v4 127.0.0.1")
            // The entry names no port: any port on the host (the documented rule for admin entries).
            || (scheme == "https" && host == "dns api.example.com" && segments.first() == Some(&"v1"))
            || (scheme == "http" && host == "v6 ::1" && port == 8080 && segments.first() == Some(&"api"))
    }
}

fn policy() -> EndpointPolicy {
    EndpointPolicy::new(
        [
            "http://127.0.0.1",
            "https://api.example.com/v1",
            "http://[::1]:8080/api/",
        ]
        .iter()
        .map(|e| e.to_string()),
    )
}

fn parts() -> impl Strategy<Value = Parts> {
    let scheme = prop::sample::select(vec![
        ("http", Some("http")),
        ("HTTP", Some("http")),
        ("https", Some("https")),
        ("HtTpS", Some("https")),
        ("ftp", None),
    ]);
    let optional = |values: &'static [&'static str]| prop_oneof![8 => Just(None), 1 => prop::sample::select(values).prop_map(Some)];
    let port =
        prop_oneof![2 => Just(None), 3 => prop::sample::select(vec![80u16, 443, 8080, 9, 44881, 65535]).prop_map(Some)];
    (
        scheme,
        optional(USERINFO),
        prop::sample::select(HOSTS),
        port,
        prop::collection::vec(
            prop_oneof![4 => prop::sample::select(&SEGMENTS[..5]), 1 => prop::sample::select(SEGMENTS)],
            0..5,
        ),
        any::<bool>(),
        optional(&["", "a=b", "next=http://127.0.0.2/"]),
        optional(&["", "f"]),
    )
        .prop_map(
            |(scheme, userinfo, host, port, segments, trailing_slash, query, fragment)| Parts {
                scheme,
                userinfo,
                host,
                port,
                segments,
                trailing_slash,
                query,
                fragment,
            },
        )
}

#[test]
fn ten_thousand_generated_urls_are_judged_as_the_reference_judges_them() {
    let policy = policy();
    let endpoints = Endpoints {
        default: "https://provider.example",
        regional: &[],
    };
    let (judged, allowed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut runner = TestRunner::new(Config {
        cases: 10_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&parts(), |parts| {
            let url = parts.render();
            let verdict = policy.resolve("test", &endpoints, Some(&url));
            prop_assert_eq!(verdict.is_ok(), parts.allowed(), "{} judged {:?}", url, verdict);
            if let Ok(normalised) = verdict {
                // What is used is plain and allowed again as it stands.
                prop_assert!(
                    !normalised.contains(['@', '?', '#']) && !normalised.ends_with('/'),
                    "{}",
                    normalised
                );
                prop_assert!(
                    policy.resolve("test", &endpoints, Some(&normalised)).is_ok(),
                    "{}",
                    normalised
                );
                allowed.fetch_add(1, Ordering::Relaxed);
            }
            judged.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    let (judged, allowed) = (judged.into_inner(), allowed.into_inner());
    eprintln!("allow-list property: {judged} URLs judged, {allowed} allowed");
    assert!(judged >= 10_000, "{judged}");
    assert!(
        allowed >= 500 && judged - allowed >= 500,
        "both verdicts are exercised: {allowed} of {judged}"
    );
}
