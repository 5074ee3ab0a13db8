//! The request log every simulator keeps: one [`RequestRecord`] per provider API call.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use serde::{Serialize, Serializer};
use serde_json::Value;

/// The log keeps at most this many records (oldest dropped first); counters are never dropped.
pub const LOG_CAPACITY: usize = 200_000;

/// One API call a simulator received. Admin calls (`/_sim/...`) are not recorded.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// Sequence number within this simulator, from 1.
    pub seq: u64,
    /// `"mail"`, `"edna"` or `"envelope"`.
    pub provider: &'static str,
    /// Operation name, e.g. `"webhook/set"`, `"callback/set"`, `"channel-profile"`, `"login"`,
    /// `"callback/add"`, `"callback/list"`, `"callback/remove"`; `"unknown"` for unrouted paths.
    pub op: String,
    pub method: String,
    /// Path and query as received.
    pub path: String,
    /// HTTP status answered; `0` when no answer reached the client (`Hang`, `CrashAfterAdd`, `HangAfterHandling`).
    pub status: u16,
    /// Name of the injected fault that shaped this answer, if any (its JSON `kind`: `"status"`,
    /// `"rate_limited"`, `"hang"`, `"crash_after_add"`, `"hang_after_handling"`, `"redirect"`,
    /// `"huge_body"`, `"slow_drip"`, `"non_json"`, `"non_utf8"`, `"echo_secret"`).
    pub fault: Option<&'static str>,
    /// The credential used (API key or bearer token). Test tooling: secrets are recorded on purpose.
    pub credential: Option<String>,
    /// Secondary scope of the call: the `Mailbox` header for envelope, `None` elsewhere.
    pub scope: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    pub at: SystemTime,
    /// The request body as JSON (`Null` when empty, a JSON string when not valid JSON).
    pub body: Value,
}

fn rfc3339<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let dt: chrono::DateTime<chrono::Utc> = (*at).into();
    s.serialize_str(&dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Bounded log plus per-op and per-(credential, op) counters.
#[derive(Default)]
pub(crate) struct RequestLog {
    records: VecDeque<RequestRecord>,
    next_seq: u64,
    by_op: HashMap<String, u64>,
    by_credential_op: HashMap<(String, String), u64>,
}

impl RequestLog {
    pub(crate) fn push(&mut self, mut record: RequestRecord) {
        self.next_seq += 1;
        record.seq = self.next_seq;
        *self.by_op.entry(record.op.clone()).or_default() += 1;
        if let Some(cred) = &record.credential {
            *self
                .by_credential_op
                .entry((cred.clone(), record.op.clone()))
                .or_default() += 1;
        }
        if self.records.len() >= LOG_CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    pub(crate) fn records(&self) -> Vec<RequestRecord> {
        self.records.iter().cloned().collect()
    }

    pub(crate) fn count(&self, op: &str) -> u64 {
        self.by_op.get(op).copied().unwrap_or(0)
    }

    pub(crate) fn count_for(&self, credential: &str, op: &str) -> u64 {
        self.by_credential_op
            .get(&(credential.to_owned(), op.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.by_op.clear();
        self.by_credential_op.clear();
    }
}
