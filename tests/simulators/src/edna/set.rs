//! `POST /api/callback/set`: validation in the documented order, the `HEAD` check, and the
//! write under the switched readings (omitted fields, tenant-wide scope).

use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Map, Value};

use super::handlers::{EdnaError, authenticate};
use super::{Account, CallbackUrls, EdnaInner, EdnaSetOmitted, EdnaSwitches, MAX_URL_LEN, TenantWideScope};
use crate::common::{lock, probe};

/// The URL fields of a `set` body, in the order they are checked.
const URL_FIELDS: [&str; 3] = ["statusCallbackUrl", "inMessageCallbackUrl", "messageMatcherCallbackUrl"];

pub(super) async fn do_set(
    inner: &EdnaInner,
    headers: &HeaderMap,
    raw: &[u8],
    switches: &EdnaSwitches,
) -> Result<(), EdnaError> {
    let key = authenticate(inner, headers, "webhooks")?;
    let body: Map<String, Value> =
        serde_json::from_slice(raw).map_err(|_| EdnaError::new("bad-request", "body is not a JSON object"))?;

    let mut urls: [Option<String>; 3] = [None, None, None];
    for (slot, field) in urls.iter_mut().zip(URL_FIELDS) {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => *slot = Some(s.clone()),
            Some(_) => {
                return Err(EdnaError::new("bad-request", format!("{field} must be a string")));
            }
        }
    }
    let sent: Vec<&String> = urls.iter().flatten().collect();
    if sent.is_empty() {
        return Err(EdnaError::new("url-not-specified", "no callback URL in the body"));
    }
    if switches.require_status_or_in_message && urls[0].is_none() && urls[1].is_none() {
        return Err(EdnaError::new(
            "url-not-specified",
            "statusCallbackUrl or inMessageCallbackUrl is required",
        ));
    }
    if sent.iter().any(|u| u.chars().count() > MAX_URL_LEN) {
        return Err(EdnaError::new(
            "error-callback-url-max-length",
            format!("a callback URL is longer than {MAX_URL_LEN} characters"),
        ));
    }
    if !sent.iter().all(|u| is_https(u)) {
        return Err(EdnaError::new(
            "error-callback-url-not-https",
            "a callback URL is not https",
        ));
    }

    let subject_id = match body.get("subjectId") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(id) => Some(id),
            None => {
                return Err(EdnaError::new("bad-request", "subjectId must be an integer"));
            }
        },
    };
    if let Some(sid) = subject_id {
        let store = lock(&inner.store);
        let known = store
            .account(&key)
            .is_some_and(|a| a.channels.iter().any(|c| c.usable_subject_id() == Some(sid)));
        if !known {
            return Err(EdnaError::new(
                "error-subject-unknown",
                format!("no channel with subjectId {sid}"),
            ));
        }
    }

    if switches.url_check {
        let mut checked: Vec<&String> = Vec::new();
        for url in sent {
            if checked.contains(&url) {
                continue;
            }
            checked.push(url);
            // No lock is held across this await.
            let answer = probe(&inner.probe, Method::HEAD, url).await;
            if answer != Ok(200) {
                let why = match answer {
                    Ok(s) => format!("HEAD {url} answered {s}"),
                    Err(e) => format!("HEAD {url} failed: {e}"),
                };
                return Err(EdnaError::new("error-callback-url-not-available", why));
            }
        }
    }

    let mut store = lock(&inner.store);
    let account = store
        .account_mut(&key)
        .ok_or_else(|| EdnaError::auth(StatusCode::UNAUTHORIZED, "unauthorized", "key was removed"))?;
    let mut targets = vec![subject_id];
    if subject_id.is_none() && switches.tenant_wide_scope == TenantWideScope::AllChannels {
        targets.extend(account.channels.iter().filter_map(|c| c.usable_subject_id()).map(Some));
    }
    for target in targets {
        write(account, target, &urls, switches.set_omitted);
    }
    Ok(())
}

/// Write the sent URLs on one (account, subjectId or tenant) entry.
fn write(account: &mut Account, target: Option<i64>, urls: &[Option<String>; 3], mode: EdnaSetOmitted) {
    let entry = account.callbacks.entry(target).or_default();
    let [status, in_message, matcher] = urls.clone();
    apply(&mut entry.status_callback_url, status, mode);
    apply(&mut entry.in_message_callback_url, in_message, mode);
    apply(&mut entry.message_matcher_callback_url, matcher, mode);
    if *entry == CallbackUrls::default() {
        account.callbacks.remove(&target);
    }
}

fn apply(slot: &mut Option<String>, sent: Option<String>, mode: EdnaSetOmitted) {
    match (sent, mode) {
        (Some(url), _) => *slot = Some(url),
        (None, EdnaSetOmitted::Clear) => *slot = None,
        (None, EdnaSetOmitted::Keep) => {}
    }
}

/// `https://` followed by a non-empty host.
fn is_https(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower
        .strip_prefix("https://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
}
