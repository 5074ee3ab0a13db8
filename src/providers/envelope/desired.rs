//! The desired DocStudio callback (DocStudio's defaults filled in, the basic-auth pair from its Secret), the
//! callback object DocStudio returns, and the field-by-field drift check between the two.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::filter::NormalFilter;
use crate::api::{BasicAuthSecretRef, EnvelopeSpec};
use crate::providers::SecretValue;

/// DocStudio's default `successCode`.
pub const DEFAULT_SUCCESS_CODE: i64 = 200;

/// The callback as the operator wants it, with DocStudio's defaults filled in so comparisons are exact.
/// `Serialize` feeds `status.appliedHash`: the basic-auth pair enters it only as salted fingerprints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnvelopeDesired {
    /// As written in the spec: it is sent as the `Mailbox` header, which DocStudio matches as given.
    pub mailbox: String,
    pub url: String,
    pub retries: i64,
    pub timeout_ms: i64,
    pub success_code: i64,
    pub filter: NormalFilter,
    pub basic_auth: Option<BasicAuth>,
}

/// The credentials DocStudio sends to the receiver. Write-only at DocStudio: only `authType` can be read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BasicAuth {
    pub username: SecretValue,
    pub password: SecretValue,
}

impl EnvelopeDesired {
    /// Builds the desired callback; `basic_auth` was read from the Secret `spec.basicAuthSecretRef` names.
    pub fn from_spec(spec: &EnvelopeSpec, basic_auth: Option<BasicAuth>) -> Result<Self, String> {
        let filter = match &spec.filter {
            Some(filter) => NormalFilter::from_spec(filter)?,
            None => NormalFilter::default(),
        };
        Ok(EnvelopeDesired {
            mailbox: spec.mailbox.clone(),
            url: spec.url.clone(),
            retries: i64::from(spec.retries),
            timeout_ms: i64::from(spec.timeout_ms),
            success_code: spec.success_code.map_or(DEFAULT_SUCCESS_CODE, i64::from),
            filter,
            basic_auth,
        })
    }

    /// `BASIC` or `NONE`, as DocStudio reports `authType`.
    pub fn auth_type(&self) -> &'static str {
        if self.basic_auth.is_some() { "BASIC" } else { "NONE" }
    }

    /// The `callback/add` body. Carries the basic-auth password: never log it.
    pub fn add_body(&self) -> Value {
        let mut body = json!({
            "filter": self.filter.to_body(),
            "url": self.url,
            "retries": self.retries,
            "timeout": self.timeout_ms,
            "successCode": self.success_code,
        });
        if let Some(auth) = &self.basic_auth {
            body["login"] = json!(auth.username.expose());
            body["password"] = json!(auth.password.expose());
        }
        body
    }

    /// The secret values this desired state carries, for redacting provider messages.
    pub fn secrets(&self) -> Vec<&SecretValue> {
        self.basic_auth
            .as_ref()
            .map(|a| vec![&a.username, &a.password])
            .unwrap_or_default()
    }
}

/// Reads the basic-auth pair. `Err` says which Secret or key is missing (never a value).
pub fn basic_auth_from(
    reference: &BasicAuthSecretRef,
    secret: Option<&BTreeMap<String, SecretValue>>,
) -> Result<BasicAuth, String> {
    let name = &reference.name;
    let Some(values) = secret else {
        return Err(format!(
            "basic-auth Secret {name} (spec.envelope.basicAuthSecretRef) does not exist; waiting for it"
        ));
    };
    let username_key = reference.username_key.as_deref().unwrap_or("username");
    let password_key = reference.password_key.as_deref().unwrap_or("password");
    let username = values
        .get(username_key)
        .filter(|v| !v.expose().is_empty())
        .ok_or_else(|| format!("basic-auth Secret {name} has no non-empty key {username_key}; waiting for it"))?;
    let password = values
        .get(password_key)
        .ok_or_else(|| format!("basic-auth Secret {name} has no key {password_key}; waiting for it"))?;
    Ok(BasicAuth {
        username: username.clone(),
        password: password.clone(),
    })
}

/// A callback object as `callback/add` and `callback/list` return it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteCallback {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub filter: Value,
    #[serde(default)]
    pub retries: Option<i64>,
    #[serde(default)]
    pub timeout: Option<i64>,
    #[serde(default)]
    pub success_code: Option<i64>,
    #[serde(default)]
    pub auth_type: Option<String>,
}

impl RemoteCallback {
    /// The fingerprint of this answer for `status.observedHash`: the callback as DocStudio spells it (dates as it
    /// echoes them, `null`s, case, key order aside).
    pub fn fingerprint(&self) -> String {
        crate::providers::fingerprint(&serde_json::to_value(self).unwrap_or_default())
    }
}

impl EnvelopeDesired {
    /// The spec's values on DocStudio's bounds, which its API spec words as strict (`0 < retries`,
    /// `100 < timeout < 60000`) while the seed allows them: named in a refusal so the user knows what to change.
    pub fn boundary_values(&self) -> Vec<String> {
        let mut values = Vec::new();
        if self.retries == 0 {
            values.push("retries: 0".to_string());
        }
        if self.timeout_ms == 100 || self.timeout_ms == 60000 {
            values.push(format!("timeoutMs: {}", self.timeout_ms));
        }
        values
    }
}

/// Ids are uuids in the contract; accept a number too, and compare them case-insensitively.
fn id_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => text,
        other => other.to_string(),
    })
}

/// The fields in which `remote` differs from `desired`, by name (for Event messages). A field DocStudio did not
/// report is not drift; the password cannot be read back and is tracked by the applied hash instead.
pub fn differing_fields(desired: &EnvelopeDesired, remote: &RemoteCallback) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if !crate::providers::same_url(&remote.url, &desired.url) {
        fields.push("url");
    }
    if remote.retries.is_some_and(|r| r != desired.retries) {
        fields.push("retries");
    }
    if remote.timeout.is_some_and(|t| t != desired.timeout_ms) {
        fields.push("timeout");
    }
    if remote.success_code.unwrap_or(DEFAULT_SUCCESS_CODE) != desired.success_code {
        fields.push("successCode");
    }
    if remote
        .auth_type
        .as_deref()
        .is_some_and(|a| !a.eq_ignore_ascii_case(desired.auth_type()))
    {
        fields.push("authType");
    }
    if NormalFilter::from_remote(&remote.filter) != desired.filter {
        fields.push("filter");
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{EnvelopeFilter, EnvelopeScope, EnvelopeStatus};

    fn spec() -> EnvelopeSpec {
        EnvelopeSpec {
            mailbox: "6F1C1E1E-0000-4000-8000-000000000001".into(),
            url: "https://hooks.example/docstudio".into(),
            retries: 3,
            timeout_ms: 5000,
            success_code: None,
            basic_auth_secret_ref: None,
            filter: Some(EnvelopeFilter {
                labels: Some(vec!["AAAAAAAA-0000-4000-8000-000000000001".into()]),
                statuses: Some(vec![EnvelopeStatus::Completed, EnvelopeStatus::Waiting]),
                subject: Some("Invoice".into()),
                receive_date_from: Some("2026-01-02T03:04:05+02:00".into()),
                expire_date_to: Some("2026-12-31T23:59:59Z".into()),
                scopes: Some(vec![EnvelopeScope::Outbox, EnvelopeScope::Inbox]),
                ..EnvelopeFilter::default()
            }),
        }
    }

    /// What the simulator (and, by the contract, DocStudio) echoes for `spec()`.
    fn echoed() -> RemoteCallback {
        serde_json::from_value(json!({
            "id": "0b4a3e4e-1111-4222-8333-444455556666",
            "url": "https://hooks.example/docstudio",
            "retries": 3, "timeout": 5000, "successCode": 200, "authType": "NONE",
            "filter": {
                "label": ["aaaaaaaa-0000-4000-8000-000000000001"],
                "status": ["WAITING", "COMPLETED"],
                "subject": "Invoice",
                "receiveDateFrom": "2026-01-02T01:04:05.000Z",
                "receiveDateTo": null, "expireDateFrom": null,
                "expireDateTo": "2026-12-31T23:59:59.000Z",
                "template": null, "sender": null,
                "scope": ["inbox", "outbox"]
            }
        }))
        .unwrap()
    }

    #[test]
    fn the_providers_echo_of_the_desired_filter_compares_equal() {
        let desired = EnvelopeDesired::from_spec(&spec(), None).unwrap();
        assert_eq!(differing_fields(&desired, &echoed()), Vec::<&str>::new());
    }

    #[test]
    fn each_field_is_checked_for_drift() {
        let desired = EnvelopeDesired::from_spec(&spec(), None).unwrap();
        let mut remote = echoed();
        remote.retries = Some(4);
        remote.success_code = Some(204);
        remote.auth_type = Some("BASIC".into());
        remote.filter["receiveDateFrom"] = json!("2026-01-02T03:04:05.000Z");
        assert_eq!(
            differing_fields(&desired, &remote),
            vec!["retries", "successCode", "authType", "filter"]
        );
    }

    #[test]
    fn unreported_fields_are_not_drift_but_an_absent_success_code_is_the_default() {
        let mut desired = EnvelopeDesired::from_spec(&spec(), None).unwrap();
        let mut remote = echoed();
        remote.retries = None;
        remote.timeout = None;
        remote.auth_type = None;
        remote.success_code = None;
        assert!(differing_fields(&desired, &remote).is_empty());
        desired.success_code = 201;
        assert_eq!(differing_fields(&desired, &remote), vec!["successCode"]);
    }

    #[test]
    fn add_body_sends_normalised_values_and_the_basic_auth_pair() {
        let auth = BasicAuth {
            username: SecretValue::new("hook-user"),
            password: SecretValue::new("hook-password-1"),
        };
        let desired = EnvelopeDesired::from_spec(&spec(), Some(auth)).unwrap();
        let body = desired.add_body();
        assert_eq!(body["filter"]["status"], json!(["COMPLETED", "WAITING"]));
        assert_eq!(body["filter"]["receiveDateFrom"], json!("2026-01-02T01:04:05Z"));
        assert_eq!(body["filter"]["label"], json!(["aaaaaaaa-0000-4000-8000-000000000001"]));
        assert!(body["filter"].get("template").is_none());
        assert_eq!(body["successCode"], json!(200));
        assert_eq!(body["login"], json!("hook-user"));
        assert_eq!(body["password"], json!("hook-password-1"));
        assert_eq!(desired.auth_type(), "BASIC");
    }

    #[test]
    fn the_password_changes_the_serialised_state_but_never_appears_in_it() {
        let with = |password: &str| {
            let auth = BasicAuth {
                username: SecretValue::new("hook-user"),
                password: SecretValue::new(password),
            };
            let desired = EnvelopeDesired::from_spec(&spec(), Some(auth)).unwrap();
            (serde_json::to_string(&desired).unwrap(), format!("{desired:?}"))
        };
        let (one, debug) = with("first-password");
        let (two, _) = with("second-password");
        assert_ne!(one, two);
        assert!(!one.contains("first-password") && !debug.contains("first-password"));
        assert!(!one.contains("hook-user"));
    }

    #[test]
    fn a_missing_basic_auth_secret_or_key_names_what_is_missing() {
        let reference = BasicAuthSecretRef {
            name: "hook-auth".into(),
            username_key: None,
            password_key: Some("pw".into()),
        };
        assert!(basic_auth_from(&reference, None).unwrap_err().contains("hook-auth"));
        let values: BTreeMap<String, SecretValue> = [("username".to_string(), SecretValue::new("u"))].into();
        assert!(basic_auth_from(&reference, Some(&values)).unwrap_err().contains("pw"));
        let values: BTreeMap<String, SecretValue> = [
            ("username".to_string(), SecretValue::new("u")),
            ("pw".to_string(), SecretValue::new("p")),
        ]
        .into();
        assert_eq!(
            basic_auth_from(&reference, Some(&values)).unwrap().password.expose(),
            "p"
        );
    }

    #[test]
    fn a_bad_date_in_the_spec_is_an_invalid_spec() {
        let mut spec = spec();
        spec.filter.as_mut().unwrap().receive_date_to = Some("yesterday".into());
        assert!(
            EnvelopeDesired::from_spec(&spec, None)
                .unwrap_err()
                .contains("receiveDateTo")
        );
    }
}
