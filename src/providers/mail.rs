//! Unisender Go webhooks (`spec.mail`): `webhook/set|get|delete.json`, keyed by URL.
//!
//! Sync = `get` the desired URL, plan (pure, below), then `set` the full object and `delete` URLs this object
//! registered before. `set` is create-or-replace by URL, so a lost status write can never duplicate a webhook.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::http::{HttpClient, Reply, common_failure};
use super::{
    Account, Auth, Change, ChangeReason, DesiredError, Provider, ProviderError, Recorded, Removal, SecretSource,
    SyncOutcome,
};
use crate::api::{CallbackRegistrationSpec, MailEventFormat, MailWebhookStatus, ProviderKind, Registration};

/// Error code for "webhook with that URL not found": on get it means absent, on delete "already gone".
const CODE_NOT_FOUND: i64 = 304;

/// The webhook as the operator wants it, with the provider's defaults filled in (so comparisons are exact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailDesired {
    pub url: String,
    pub status: String,
    pub event_format: String,
    pub delivery_info: bool,
    pub single_event: bool,
    pub max_parallel: i64,
    pub email_status: BTreeSet<String>,
    pub spam_block: bool,
}

impl MailDesired {
    pub fn from_spec(spec: &crate::api::MailSpec) -> Self {
        MailDesired {
            url: spec.url.clone(),
            status: match spec.status.unwrap_or(MailWebhookStatus::Active) {
                MailWebhookStatus::Active => "active",
                MailWebhookStatus::Disabled => "disabled",
            }
            .to_string(),
            event_format: match spec.event_format.unwrap_or(MailEventFormat::JsonPost) {
                MailEventFormat::JsonPost => "json_post",
                MailEventFormat::JsonPostGzip => "json_post_gzip",
            }
            .to_string(),
            delivery_info: spec.delivery_info.unwrap_or(false),
            single_event: spec.single_event.unwrap_or(false),
            max_parallel: i64::from(spec.max_parallel.unwrap_or(10)),
            email_status: spec
                .events
                .email_status
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            spam_block: spec.events.spam_block.unwrap_or(false),
        }
    }

    /// The `webhook/set.json` body: always the full object.
    fn set_body(&self) -> Value {
        let mut events = json!({ "email_status": self.email_status });
        if self.spam_block {
            events["spam_block"] = json!(["*"]);
        }
        json!({
            "url": self.url,
            "status": self.status,
            "event_format": self.event_format,
            "delivery_info": u8::from(self.delivery_info),
            "single_event": u8::from(self.single_event),
            "max_parallel": self.max_parallel,
            "events": events,
        })
    }
}

/// A webhook as `webhook/get` returns it.
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
pub struct RemoteWebhook {
    #[serde(default)]
    pub id: Option<Value>,
    pub url: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub event_format: Option<String>,
    /// Optional on read: when absent it cannot be compared.
    #[serde(default)]
    pub delivery_info: Option<i64>,
    #[serde(default)]
    pub single_event: Option<i64>,
    #[serde(default)]
    pub max_parallel: Option<i64>,
    #[serde(default)]
    pub events: RemoteEvents,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
pub struct RemoteEvents {
    #[serde(default)]
    pub email_status: Vec<String>,
    #[serde(default)]
    pub spam_block: Option<Vec<String>>,
}

impl RemoteWebhook {
    fn id_string(&self) -> Option<String> {
        self.id.as_ref().map(|id| match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// What to do at the provider; produced without IO.
#[derive(Clone, Debug, PartialEq)]
pub struct MailPlan {
    /// `set` the desired object, and why.
    pub set: Option<ChangeReason>,
    /// The provider had stopped the webhook (reported until repaired).
    pub stopped_by_provider: bool,
    /// The webhook already existed exactly as desired but status did not know it.
    pub adopt: bool,
    /// URLs this object registered before that are no longer desired.
    pub delete: Vec<String>,
}

/// Compares desired with observed. `spec_changed` is true when the desired hash differs from the applied one.
pub fn plan(
    desired: &MailDesired,
    observed: Option<&RemoteWebhook>,
    recorded: Option<&Registration>,
    spec_changed: bool,
) -> MailPlan {
    let recorded_urls: Vec<String> = recorded.map(|r| r.urls.clone()).unwrap_or_default();
    let known = recorded_urls.contains(&desired.url);
    let delete = recorded_urls.into_iter().filter(|u| *u != desired.url).collect();
    let stopped_by_provider = observed.is_some_and(|o| o.status.as_deref() == Some("stopped"));
    let set = match observed {
        None if known && !spec_changed => Some(ChangeReason::DriftCorrected),
        None => Some(ChangeReason::Created),
        Some(_) if stopped_by_provider && desired.status == "active" => Some(ChangeReason::Reactivated),
        Some(remote) if differs(desired, remote) => Some(if spec_changed || !known {
            ChangeReason::Updated
        } else {
            ChangeReason::DriftCorrected
        }),
        Some(_) => None,
    };
    MailPlan {
        adopt: observed.is_some() && !known && set.is_none(),
        set,
        stopped_by_provider,
        delete,
    }
}

/// Field-by-field drift check; email statuses compare as sets, unreadable optional fields are not drift.
pub fn differs(desired: &MailDesired, remote: &RemoteWebhook) -> bool {
    let flag_differs = |want: bool, got: Option<i64>| got.is_some_and(|g| (g != 0) != want);
    let remote_statuses: BTreeSet<String> = remote.events.email_status.iter().cloned().collect();
    let remote_spam_block = remote.events.spam_block.as_ref().is_some_and(|v| !v.is_empty());
    remote.status.as_deref().unwrap_or("active") != desired.status
        || remote.event_format.as_deref().unwrap_or("json_post") != desired.event_format
        || flag_differs(desired.delivery_info, remote.delivery_info)
        || flag_differs(desired.single_event, remote.single_event)
        || remote.max_parallel.unwrap_or(10) != desired.max_parallel
        || remote_statuses != desired.email_status
        || remote_spam_block != desired.spam_block
}

/// The Unisender Go client.
#[derive(Clone)]
pub struct MailProvider {
    http: HttpClient,
}

impl MailProvider {
    pub fn new(http: HttpClient) -> Self {
        Self { http }
    }

    async fn call(&self, account: &Account, method: &'static str, body: Value) -> Result<Reply, ProviderError> {
        let Auth::ApiKey(key) = &account.auth else {
            return Err(ProviderError::InvalidCredentials {
                message: "mail needs an apiKey in the credentials Secret".into(),
            });
        };
        let request = self
            .http
            .raw()
            .post(format!("{}/{method}.json", account.endpoint))
            .header("X-API-KEY", key.expose())
            .json(&body);
        self.http.send(ProviderKind::Mail, method, request).await
    }

    async fn get(&self, account: &Account, url: &str) -> Result<Option<RemoteWebhook>, ProviderError> {
        let reply = self.call(account, "webhook/get", json!({ "url": url })).await?;
        if reply.status.is_success() {
            let object = reply.json::<Value>().and_then(|v| v.get("object").cloned());
            return object
                .and_then(|o| serde_json::from_value(o).ok())
                .map(Some)
                .ok_or_else(|| {
                    ProviderError::transient(
                        "ProviderProtocolError",
                        "mail webhook/get answered without a readable object",
                    )
                });
        }
        match failure(&reply, "webhook/get") {
            Failure::Code(CODE_NOT_FOUND, _) => Ok(None),
            other => Err(other.into_error(&reply, "webhook/get")),
        }
    }

    async fn set(&self, account: &Account, desired: &MailDesired) -> Result<Option<RemoteWebhook>, ProviderError> {
        let reply = self.call(account, "webhook/set", desired.set_body()).await?;
        if reply.status.is_success() {
            return Ok(reply
                .json::<Value>()
                .and_then(|v| v.get("object").cloned())
                .and_then(|o| serde_json::from_value(o).ok()));
        }
        Err(failure(&reply, "webhook/set").into_error(&reply, "webhook/set"))
    }

    /// Deletes `url`; true when it existed, false when the provider says it was already gone (304).
    async fn delete(&self, account: &Account, url: &str) -> Result<bool, ProviderError> {
        let reply = self.call(account, "webhook/delete", json!({ "url": url })).await?;
        if reply.status.is_success() {
            return Ok(true);
        }
        match failure(&reply, "webhook/delete") {
            Failure::Code(CODE_NOT_FOUND, _) => Ok(false),
            other => Err(other.into_error(&reply, "webhook/delete")),
        }
    }
}

/// A failed answer, before classification.
enum Failure {
    /// `{"status":"error","code":N,"message":"..."}`
    Code(i64, String),
    Other(String),
}

fn failure(reply: &Reply, _op: &str) -> Failure {
    let body: Option<Value> = reply.json();
    match body.as_ref().and_then(|b| b.get("code")).and_then(Value::as_i64) {
        Some(code) => Failure::Code(
            code,
            body.as_ref()
                .and_then(|b| b.get("message"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        None => Failure::Other(String::from_utf8_lossy(&reply.body).chars().take(200).collect()),
    }
}

impl Failure {
    fn into_error(self, reply: &Reply, op: &str) -> ProviderError {
        let detail = match &self {
            Failure::Code(code, message) => format!("code {code}: {message}"),
            Failure::Other(text) => text.clone(),
        };
        if let Some(err) = common_failure(ProviderKind::Mail, op, reply, &detail) {
            return err;
        }
        match self {
            // Wrong data centre answers 114 with HTTP 401 (handled above); be sure if it ever comes as 400.
            Failure::Code(code @ (101 | 102 | 105 | 106 | 114), message) => ProviderError::InvalidCredentials {
                message: format!("Unisender Go rejected the credentials on {op}: code {code}: {message}"),
            },
            Failure::Code(code, message) => ProviderError::rejected(
                "ProviderRejected",
                format!(
                    "Unisender Go refused {op} (HTTP {}): code {code}: {message}",
                    reply.status.as_u16()
                ),
            ),
            Failure::Other(text) if reply.status == StatusCode::NOT_FOUND => ProviderError::rejected(
                "ProviderRejected",
                format!("Unisender Go has no method {op} at this endpoint (HTTP 404): {text}"),
            ),
            Failure::Other(text) => ProviderError::rejected(
                "ProviderRejected",
                format!("Unisender Go refused {op} (HTTP {}): {text}", reply.status.as_u16()),
            ),
        }
    }
}

impl Provider for MailProvider {
    type Desired = MailDesired;

    fn kind(&self) -> ProviderKind {
        ProviderKind::Mail
    }

    async fn desired(
        &self,
        spec: &CallbackRegistrationSpec,
        _secrets: &impl SecretSource,
    ) -> Result<MailDesired, DesiredError> {
        let mail = spec
            .mail
            .as_ref()
            .ok_or_else(|| DesiredError::InvalidSpec("spec.mail is missing".into()))?;
        Ok(MailDesired::from_spec(mail))
    }

    fn claims(spec: &CallbackRegistrationSpec) -> Vec<String> {
        spec.mail.iter().map(|m| format!("mail url {}", m.url)).collect()
    }

    fn target(desired: &MailDesired) -> String {
        desired.url.clone()
    }

    async fn sync(
        &self,
        account: &Account,
        desired: &MailDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<SyncOutcome, ProviderError> {
        let observed = self.get(account, &desired.url).await?;
        let spec_changed = recorded.applied_hash.is_some_and(|h| h != desired_hash);
        let plan = plan(desired, observed.as_ref(), recorded.registration, spec_changed);
        let mut changes = Vec::new();
        let mut held = observed;

        if let Some(reason) = plan.set {
            let mut after = self.set(account, desired).await.map_err(|err| {
                if plan.stopped_by_provider {
                    stopped_by_provider(err)
                } else {
                    err
                }
            })?;
            // Whether `set` resets omitted fields is undocumented; spam_block is the one field the full object
            // omits to clear it. If the provider kept it, delete and set again.
            if after
                .as_ref()
                .is_some_and(|w| w.events.spam_block.as_ref().is_some_and(|v| !v.is_empty()))
                && !desired.spam_block
            {
                self.delete(account, &desired.url).await?;
                after = self.set(account, desired).await?;
            }
            changes.push(Change {
                reason,
                message: format!("{} webhook {} at Unisender Go", verb(reason), desired.url),
            });
            held = after.or(held);
        } else if plan.adopt {
            changes.push(Change {
                reason: ChangeReason::Adopted,
                message: format!("adopted the existing webhook {} at Unisender Go", desired.url),
            });
        }
        for old in &plan.delete {
            if self.delete(account, old).await? {
                changes.push(Change {
                    reason: ChangeReason::Deleted,
                    message: format!("deleted the previous webhook {old} at Unisender Go"),
                });
            }
        }
        let provider_status = if plan.set.is_some() {
            Some(desired.status.clone())
        } else {
            held.as_ref()
                .and_then(|w| w.status.clone())
                .or(Some(desired.status.clone()))
        };
        Ok(SyncOutcome {
            registration: Registration {
                account: Some(account.id()),
                id: held.as_ref().and_then(RemoteWebhook::id_string),
                urls: vec![desired.url.clone()],
                provider_status,
                ..Registration::default()
            },
            changes,
            repaired: plan.stopped_by_provider.then_some("StoppedByProvider"),
        })
    }

    async fn remove(
        &self,
        account: &Account,
        registration: Option<&Registration>,
        desired: Option<&MailDesired>,
    ) -> Result<Removal, ProviderError> {
        // What status recorded, plus the desired URL: a status write lost after a `set` must not leak a webhook.
        // Deleting an absent URL is harmless (304), and `desired` is only given when this object owns the URL.
        let mut urls: Vec<String> = registration.map(|r| r.urls.clone()).unwrap_or_default();
        if let Some(d) = desired.filter(|d| !urls.contains(&d.url)) {
            urls.push(d.url.clone());
        }
        let mut changes = Vec::new();
        for url in urls {
            if self.delete(account, &url).await? {
                changes.push(Change {
                    reason: ChangeReason::Deleted,
                    message: format!("deleted webhook {url} at Unisender Go"),
                });
            }
        }
        Ok(Removal::Removed(changes))
    }
}

/// The provider stopped the webhook and re-activating it failed: report that, and keep retrying (the receiver
/// the provider checks may come back) unless the credentials are the problem.
fn stopped_by_provider(err: ProviderError) -> ProviderError {
    match err {
        ProviderError::InvalidCredentials { .. } => err,
        other => ProviderError::Transient {
            reason: "StoppedByProvider",
            message: format!("Unisender Go stopped the webhook and re-activating it failed: {other}"),
            retry_after: other.retry_after(),
        },
    }
}

fn verb(reason: ChangeReason) -> &'static str {
    match reason {
        ChangeReason::Created => "created",
        ChangeReason::Reactivated => "re-activated the stopped",
        ChangeReason::DriftCorrected => "repaired drift of",
        _ => "updated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> MailDesired {
        MailDesired {
            url: "https://hooks.example/u".into(),
            status: "active".into(),
            event_format: "json_post".into(),
            delivery_info: false,
            single_event: false,
            max_parallel: 10,
            email_status: ["delivered".to_string(), "spam".to_string()].into(),
            spam_block: true,
        }
    }

    fn remote_matching(d: &MailDesired) -> RemoteWebhook {
        RemoteWebhook {
            id: Some(json!(7)),
            url: d.url.clone(),
            status: Some(d.status.clone()),
            event_format: Some(d.event_format.clone()),
            delivery_info: Some(0),
            single_event: None,
            max_parallel: Some(10),
            events: RemoteEvents {
                email_status: vec!["spam".into(), "delivered".into()],
                spam_block: Some(vec!["*".into()]),
            },
        }
    }

    fn recorded(urls: &[&str]) -> Registration {
        Registration {
            urls: urls.iter().map(|u| u.to_string()).collect(),
            ..Registration::default()
        }
    }

    #[test]
    fn absent_webhook_is_created() {
        let p = plan(&desired(), None, None, false);
        assert_eq!(p.set, Some(ChangeReason::Created));
        assert!(!p.adopt && p.delete.is_empty());
    }

    #[test]
    fn matching_webhook_needs_nothing_and_email_statuses_compare_as_sets() {
        let d = desired();
        let r = remote_matching(&d);
        let p = plan(&d, Some(&r), Some(&recorded(&[&d.url])), false);
        assert_eq!(p.set, None);
        assert!(!p.adopt);
    }

    #[test]
    fn existing_webhook_unknown_to_status_is_adopted_not_recreated() {
        let d = desired();
        let p = plan(&d, Some(&remote_matching(&d)), None, false);
        assert_eq!(p.set, None);
        assert!(p.adopt);
    }

    #[test]
    fn change_behind_the_operators_back_is_drift() {
        let d = desired();
        let mut r = remote_matching(&d);
        r.max_parallel = Some(50);
        assert_eq!(
            plan(&d, Some(&r), Some(&recorded(&[&d.url])), false).set,
            Some(ChangeReason::DriftCorrected)
        );
        assert_eq!(
            plan(&d, Some(&r), Some(&recorded(&[&d.url])), true).set,
            Some(ChangeReason::Updated)
        );
    }

    #[test]
    fn webhook_deleted_behind_the_operators_back_is_recreated_as_drift() {
        let d = desired();
        assert_eq!(
            plan(&d, None, Some(&recorded(&[&d.url])), false).set,
            Some(ChangeReason::DriftCorrected)
        );
    }

    #[test]
    fn stopped_webhook_is_reactivated() {
        let d = desired();
        let mut r = remote_matching(&d);
        r.status = Some("stopped".into());
        let p = plan(&d, Some(&r), Some(&recorded(&[&d.url])), false);
        assert_eq!(p.set, Some(ChangeReason::Reactivated));
        assert!(p.stopped_by_provider);
    }

    #[test]
    fn url_change_sets_the_new_and_deletes_the_old() {
        let d = desired();
        let p = plan(&d, None, Some(&recorded(&["https://old.example/u"])), true);
        assert_eq!(p.set, Some(ChangeReason::Created));
        assert_eq!(p.delete, vec!["https://old.example/u".to_string()]);
    }

    #[test]
    fn unreadable_optional_flags_are_not_drift() {
        let d = desired();
        let mut r = remote_matching(&d);
        r.delivery_info = None;
        assert!(!differs(&d, &r));
        r.delivery_info = Some(1);
        assert!(differs(&d, &r));
    }

    #[test]
    fn set_body_carries_the_full_object() {
        let body = desired().set_body();
        assert_eq!(body["events"]["spam_block"], json!(["*"]));
        assert_eq!(body["delivery_info"], json!(0));
        assert_eq!(body["max_parallel"], json!(10));
        let mut d = desired();
        d.spam_block = false;
        assert!(d.set_body()["events"].get("spam_block").is_none());
    }
}
