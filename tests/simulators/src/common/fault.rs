//! Fault injection: answers a simulator gives instead of (or on top of) handling a call.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::secret::SecretForm;

/// A fault consumed by one request. In JSON (admin API) it is tagged by `kind`:
/// `{"kind":"status","status":503,"body":{...}}`, `{"kind":"rate_limited","retry_after_secs":2}`,
/// `{"kind":"hang"}`, `{"kind":"crash_after_add"}`, `{"kind":"hang_after_handling"}`, and the hostile
/// answers `{"kind":"redirect","status":307,"location":"http://127.0.0.2:9/x"}`,
/// `{"kind":"huge_body","bytes":314572800}`, `{"kind":"slow_drip","bytes_per_sec":10,"total":1000}`,
/// `{"kind":"non_json"}`, `{"kind":"non_utf8"}`, `{"kind":"echo_secret","form":"base64"}`
/// (`form`: see [`SecretForm`]).
///
/// Hostile answers replace the call (it is not handled: no state changes) and are what a
/// compromised or misconfigured provider endpoint could send back to the operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer this status and JSON body instead of handling the call.
    Status {
        status: u16,
        #[serde(default)]
        body: Value,
    },
    /// Answer `429 Too Many Requests` with a `Retry-After: <secs>` header, without handling the call.
    RateLimited { retry_after_secs: u64 },
    /// Never answer: the handler waits until the client gives up (or the simulator shuts down,
    /// or [`HANG_LIMIT`](crate::common::HANG_LIMIT) passes). The call is not handled.
    Hang,
    /// Handle the call (state changes happen), then lose the response: the connection is closed
    /// before any byte of the answer is written. Named after DocStudio's "crash after add", but it
    /// works for every op.
    CrashAfterAdd,
    /// Handle the call (state changes happen), then hold the answer back like [`Fault::Hang`]
    /// until the client gives up: a window in which the provider has changed but the caller
    /// cannot know it yet, e.g. to kill an operator between its `add` and its status write.
    HangAfterHandling,
    /// Answer a redirect (`301`, `302`, `307` or `308`; any status is sent as given) to `location`,
    /// e.g. another host, or an `http://` downgrade of an `https://` URL. The body is empty.
    Redirect { status: u16, location: String },
    /// Answer `200`, `application/json`, then a body of exactly `bytes` bytes, generated while it is
    /// sent (never held in memory) and without `Content-Length`: the client only learns the size
    /// by reading. Starts like a JSON object so a streaming parser keeps going.
    HugeBody { bytes: u64 },
    /// Answer `200`, `application/json` at once, then `total` body bytes at `bytes_per_sec`
    /// (a client without a whole-request deadline waits `total / bytes_per_sec` seconds).
    SlowDrip { bytes_per_sec: u64, total: u64 },
    /// Answer `200`, `text/html` with an HTML page (a proxy's or portal's answer, not the API's).
    NonJson,
    /// Answer `200`, `application/json` whose body is not valid UTF-8.
    NonUtf8,
    /// Answer the provider's error shape (HTTP 400) whose message text echoes the credential this
    /// request carried (API key, bearer token, or for a login the password) in `form`.
    EchoSecret { form: SecretForm },
}

impl Fault {
    /// A 5xx (or any) status with a provider-neutral JSON body.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            body: serde_json::json!({"injected": true, "status": status}),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Fault::Status { .. } => "status",
            Fault::RateLimited { .. } => "rate_limited",
            Fault::Hang => "hang",
            Fault::CrashAfterAdd => "crash_after_add",
            Fault::HangAfterHandling => "hang_after_handling",
            Fault::Redirect { .. } => "redirect",
            Fault::HugeBody { .. } => "huge_body",
            Fault::SlowDrip { .. } => "slow_drip",
            Fault::NonJson => "non_json",
            Fault::NonUtf8 => "non_utf8",
            Fault::EchoSecret { .. } => "echo_secret",
        }
    }

    /// A [`Fault::HugeBody`] of `mib` MiB.
    pub fn huge_body_mib(mib: u64) -> Self {
        Fault::HugeBody {
            bytes: mib * 1024 * 1024,
        }
    }

    /// A [`Fault::Redirect`].
    pub fn redirect(status: u16, location: &str) -> Self {
        Fault::Redirect {
            status,
            location: location.to_owned(),
        }
    }

    /// A [`Fault::EchoSecret`].
    pub fn echo_secret(form: SecretForm) -> Self {
        Fault::EchoSecret { form }
    }
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct FaultEntry {
    pub op: Option<String>,
    pub fault: Fault,
    pub remaining: u32,
}

/// FIFO of pending faults; the first entry matching the op is consumed.
#[derive(Default)]
pub(crate) struct FaultQueue {
    entries: VecDeque<FaultEntry>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, op: Option<String>, fault: Fault, times: u32) {
        if times > 0 {
            self.entries.push_back(FaultEntry {
                op,
                fault,
                remaining: times,
            });
        }
    }

    pub(crate) fn take(&mut self, op: &str) -> Option<Fault> {
        let idx = self
            .entries
            .iter()
            .position(|e| e.op.as_deref().is_none_or(|o| o == op))?;
        let entry = &mut self.entries[idx];
        entry.remaining -= 1;
        let fault = entry.fault.clone();
        if entry.remaining == 0 {
            self.entries.remove(idx);
        }
        Some(fault)
    }

    pub(crate) fn pending(&self) -> Vec<FaultEntry> {
        self.entries.iter().cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}
