//! The mail simulator's runtime switches: one per reading of mail.md that the contract leaves
//! open ("Other readings"), plus test-only echo distortions.

use serde::{Deserialize, Serialize};

use crate::common::UrlNormalisation;

/// What a `set` does with fields the body omits (not documented by the provider).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetOmitted {
    /// Default: "create or replace" — omitted fields take their documented defaults.
    #[default]
    Reset,
    /// Other reading: omitted fields keep the stored webhook's values.
    Keep,
}

/// The word `get`/`list` show for a webhook the provider itself stopped (mail.md: "`status`
/// `stopped` or `inactive`; `disabled` is the user's own choice").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoppedWord {
    /// Default: `stopped`.
    #[default]
    Stopped,
    /// `inactive`.
    Inactive,
}

impl StoppedWord {
    pub fn word(self) -> &'static str {
        match self {
            StoppedWord::Stopped => "stopped",
            StoppedWord::Inactive => "inactive",
        }
    }
}

/// The error a `set` answers when the activation `GET` to the receiver fails. The code is
/// undocumented (mail.md: "our 2713 is invented; it may arrive as any 4xx with an unknown code").
/// In JSON: `"code2713"`, `{"code": {"http": 422, "code": 2799}}`, `{"no_code": {"http": 400}}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverCheckFailure {
    /// Default: HTTP 400, code 2713 ("webhook domain not found in DNS", the closest listed code).
    #[default]
    Code2713,
    /// Any HTTP status (4xx or 5xx) with any code, e.g. 400/2799 (unknown) or 502/2700.
    Code { http: u16, code: u32 },
    /// HTTP `http` with `{"status":"error","message":...}` and no `code` at all.
    NoCode { http: u16 },
}

/// The order `events.email_status` is echoed in (the contract compares it as a set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatusOrder {
    /// Default: as sent.
    #[default]
    AsSent,
    /// The documented list's order (`delivered, opened, ...`, then `sent`).
    Canonical,
}

/// Field names [`MailSwitches::echo_always_differs`] accepts.
pub const ALWAYS_DIFFERS_FIELDS: [&str; 7] = [
    "status",
    "event_format",
    "delivery_info",
    "single_event",
    "max_parallel",
    "events.email_status",
    "events.spam_block",
];

/// Runtime-switchable behaviour (assumption switches). In JSON (`POST /_sim/switches`) every
/// field is optional and defaults to the value below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailSwitches {
    /// Send the activation `GET` to the url of an active webhook on `set` (default true).
    pub activation_check: bool,
    /// Omitted fields on `set` (default [`SetOmitted::Reset`]).
    pub set_omitted: SetOmitted,
    /// HTTP status of error 304 (unknown url) on `get`/`delete` (default 400, the contract's
    /// assumption; 404 is the other reading).
    pub not_found_http_status: u16,
    /// Accept `sent` in `events.email_status` (default true, as the contract assumes).
    pub accept_sent_event: bool,
    /// Leave `delivery_info`/`single_event` out of `get`/`list` objects (default false).
    pub omit_delivery_flags_on_read: bool,
    /// What `get`/`list`/the `set` answer show for a webhook the provider stopped (default
    /// [`StoppedWord::Stopped`]). Stored state (`webhooks()`, `/_sim/state`) keeps `stopped`.
    pub disabled_status_word: StoppedWord,
    /// The error of a failed activation `GET` (default [`ReceiverCheckFailure::Code2713`]).
    pub receiver_check_failure_code: ReceiverCheckFailure,
    /// How `set` stores the url (default [`UrlNormalisation::Exact`]). Under a normalised
    /// reading the stored (and echoed) url is the normalised one, and `get`/`delete`/`set`'s
    /// replace match the url they are given *exactly* against the stored one: a `get` with the
    /// url as first sent misses (304) unless it was already in normal form.
    pub url_normalisation: UrlNormalisation,
    /// Order of `events.email_status` when echoed (default [`EmailStatusOrder::AsSent`]).
    pub email_status_order: EmailStatusOrder,
    /// `list` answers at most this many objects per page whatever `limit` asks (default none):
    /// a client that stops at the first page shorter than its `limit` misses the rest.
    pub list_page_cap: Option<usize>,
    /// TEST ONLY, for drift-loop protection: this field (one of [`ALWAYS_DIFFERS_FIELDS`]) is
    /// echoed by `get`/`list`/`set` with a value that always differs from the stored one
    /// (`max_parallel` +1, or 99 at 100; flags and `event_format` flipped; `status`
    /// `active`↔`disabled`; one `email_status` value added, or removed when all are present;
    /// `spam_block` toggled). Default none.
    pub echo_always_differs: Option<String>,
    /// TEST ONLY: with `echo_always_differs` on `max_parallel` or `events.email_status`, every
    /// answer echoes the next of several differing values (a counter; `max_parallel` repeats only
    /// after 95 answers), so the echo does not repeat
    /// (a provider answering differently each time: a loop only a write budget stops). Default
    /// false: the differing value is always the same one.
    pub echo_varies: bool,
}

impl Default for MailSwitches {
    fn default() -> Self {
        MailSwitches {
            activation_check: true,
            set_omitted: SetOmitted::Reset,
            not_found_http_status: 400,
            accept_sent_event: true,
            omit_delivery_flags_on_read: false,
            disabled_status_word: StoppedWord::Stopped,
            receiver_check_failure_code: ReceiverCheckFailure::Code2713,
            url_normalisation: UrlNormalisation::Exact,
            email_status_order: EmailStatusOrder::AsSent,
            list_page_cap: None,
            echo_always_differs: None,
            echo_varies: false,
        }
    }
}

impl MailSwitches {
    /// `Err` naming the accepted fields when `echo_always_differs` names another.
    pub fn validate(&self) -> Result<(), String> {
        match &self.echo_always_differs {
            Some(f) if !ALWAYS_DIFFERS_FIELDS.contains(&f.as_str()) => Err(format!(
                "echo_always_differs: unknown field {f:?}; one of {ALWAYS_DIFFERS_FIELDS:?}"
            )),
            _ => Ok(()),
        }
    }
}
