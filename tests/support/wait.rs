//! Polling helpers: tests wait for observable states with a deadline; no assertion is about wall-clock speed.

use std::future::Future;
use std::time::{Duration, Instant};

use callback_operator::api::CallbackRegistration;

/// Polls `check` every 200 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The Ready condition's (status, reason, message).
pub fn ready_condition(obj: &CallbackRegistration) -> Option<(String, String, String)> {
    obj.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Events (events.k8s.io/v1) about `name` in `namespace`, as (type, reason, note).
pub async fn events_about(client: &kube::Client, namespace: &str, name: &str) -> Vec<(String, String, String)> {
    let api: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::namespaced(client.clone(), namespace);
    let list = api.list(&Default::default()).await.expect("listing Events");
    list.items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| {
            (
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect()
}

/// Waits until an Event with `reason` is recorded about `name` (Events are published after the provider call and the
/// status write, so a check right after seeing the provider change can run ahead of them); returns all its Events.
pub async fn wait_for_event(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    reason: &str,
) -> Vec<(String, String, String)> {
    eventually(
        &format!("an Event {reason} about {name}"),
        Duration::from_secs(10),
        || async {
            let events = events_about(client, namespace, name).await;
            events.iter().any(|(_, r, _)| r == reason).then_some(events)
        },
    )
    .await
}

/// Waits until `name` has a Ready condition with `reason` (any status); returns (status, message).
///
/// A watch, not a poll: many reasons last only until the operator's next retry (a timeout, a rejection injected
/// once), and on a loaded two-core CI machine one GET can take longer than that window, so polling missed them
/// (CI stop 21: `ProviderTimeout` held for a 2.4 s backoff, never seen). A watch delivers every version written after
/// its initial list. On timeout the message lists the Ready reasons seen, so a miss says what was there instead.
pub async fn wait_for_reason(
    api: &kube::Api<CallbackRegistration>,
    name: &str,
    reason: &str,
    timeout: Duration,
) -> (String, String) {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};

    let mut seen: Vec<String> = Vec::new();
    let versions = watcher::watch_object(api.clone(), name).default_backoff();
    futures::pin_mut!(versions);
    let found = tokio::time::timeout(timeout, async {
        while let Some(version) = versions.next().await {
            let observed = match version {
                Ok(Some(obj)) => match ready_condition(&obj) {
                    Some((status, r, message)) if r == reason => return Some((status, message)),
                    Some((status, r, _)) => format!("{status}/{r}"),
                    None => "no Ready condition".to_string(),
                },
                Ok(None) => "absent".to_string(),
                Err(e) => format!("watch error: {e}"),
            };
            if seen.last() != Some(&observed) {
                seen.push(observed);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(found)) => found,
        _ => panic!("timed out after {timeout:?} waiting for: {name} to report reason {reason}; saw {seen:?}"),
    }
}

/// Waits until none of `names` exists any more (finalizers done).
pub async fn wait_gone(api: &kube::Api<CallbackRegistration>, names: &[&str], timeout: Duration) {
    eventually(&format!("{names:?} gone (finalizers removed)"), timeout, || async {
        for name in names {
            if api.get_opt(name).await.ok()?.is_some() {
                return None;
            }
        }
        Some(())
    })
    .await
}
