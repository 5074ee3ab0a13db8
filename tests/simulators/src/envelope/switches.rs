//! The envelope simulator's runtime switches: one per reading of envelope.md that the contract
//! leaves open ("Other readings"), plus formatting the contract allows and a test-only echo
//! distortion.

use serde::{Deserialize, Deserializer, Serialize};

use super::EnvelopeSim;
use crate::common::{UrlNormalisation, lock};

/// Named answers to removing an id that was already removed (envelope.md: "404, 410, or another
/// 4xx"). The switch itself, [`EnvelopeSwitches::removed_answer`], holds the status, so any
/// other status can be set too; in JSON it takes the number or one of these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedAnswer {
    /// 404 `{"code":404,"message":...}` (default).
    NotFound,
    /// 410 `{"code":410,"message":...}`.
    Gone,
    /// 200 with an empty body, as if it had just been removed.
    SilentOk,
    /// 204, no body.
    NoContent,
    /// 400 `{"code":400,"message":...}`: only a list can tell it is gone.
    BadRequest,
}

impl RemovedAnswer {
    pub const ALL: [RemovedAnswer; 5] = [
        RemovedAnswer::NotFound,
        RemovedAnswer::Gone,
        RemovedAnswer::SilentOk,
        RemovedAnswer::NoContent,
        RemovedAnswer::BadRequest,
    ];

    pub fn status(self) -> u16 {
        match self {
            RemovedAnswer::NotFound => 404,
            RemovedAnswer::Gone => 410,
            RemovedAnswer::SilentOk => 200,
            RemovedAnswer::NoContent => 204,
            RemovedAnswer::BadRequest => 400,
        }
    }
}

/// How filter dates (`receiveDateFrom/To`, `expireDateFrom/To`) are echoed by `add` and `list`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateEcho {
    /// Default: RFC 3339, normalised to UTC with milliseconds (`2024-01-02T03:04:05.000Z`).
    #[default]
    AsSent,
    /// The exact string sent (offset and precision as the client wrote them).
    Verbatim,
    /// Always `null`, set or not (the vendor's own create example answers four dates with nulls).
    Null,
    /// Epoch milliseconds as JSON numbers (the form of the delivery payloads).
    EpochMillis,
    /// Always absent from the filter object.
    Dropped,
    /// The same instant written with a `+03:00` offset (`2024-01-02T06:04:05.000+03:00`): the
    /// platform's home time zone.
    OffsetPlus3,
}

/// The case of echoed `filter.status` and `filter.scope` values (both case-insensitive on input).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnumCase {
    /// Default: statuses upper case, scopes lower case.
    #[default]
    Canonical,
    /// As the client sent them.
    AsSent,
    /// Everything lower case (`waiting`, `inbox`).
    Lower,
    /// Everything upper case (`WAITING`, `INBOX`).
    Upper,
}

/// How filter fields the client did not set are echoed (envelope.md only says "unset dates as
/// null"). Dates under [`DateEcho::Null`] or [`DateEcho::Dropped`] follow that switch instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsetFilterFields {
    /// Default: `null`.
    #[default]
    Null,
    /// Left out of the filter object.
    Absent,
    /// List fields (`label`, `status`, `template`, `sender`, `scope`) as `[]`, others `null`.
    EmptyLists,
}

/// Key order of echoed JSON objects (JSON objects are unordered; a client must not care).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyOrder {
    /// Default: what serde_json writes (alphabetical: no crate in the workspace turns on its
    /// `preserve_order`).
    #[default]
    Sorted,
    /// Reverse alphabetical, in every object of the answer.
    Reversed,
}

/// What a successful `remove` answers (envelope.md: "200, empty body").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoveSuccess {
    /// Default: 200, empty body.
    #[default]
    EmptyOk,
    /// 204, no body.
    NoContent,
    /// 200 `{}` (`application/json`).
    JsonObject,
}

/// Field names [`EnvelopeSwitches::echo_always_differs`] accepts.
pub const ALWAYS_DIFFERS_FIELDS: [&str; 14] = [
    "retries",
    "timeout",
    "successCode",
    "authType",
    "filter.subject",
    "filter.status",
    "filter.scope",
    "filter.label",
    "filter.template",
    "filter.sender",
    "filter.receiveDateFrom",
    "filter.receiveDateTo",
    "filter.expireDateFrom",
    "filter.expireDateTo",
];

/// Runtime-switchable behaviour. In JSON (`POST /_sim/switches`) every field is optional.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvelopeSwitches {
    /// Status answered when removing an id that was already removed (default 404). 200 and 204
    /// answer an empty body, any other status `{"code", "message"}`. In JSON a number or a
    /// [`RemovedAnswer`] name (`"gone"`). Ids never issued always answer 404.
    #[serde(deserialize_with = "status_or_name")]
    pub removed_answer: u16,
    /// How filter dates are echoed (default [`DateEcho::AsSent`]).
    pub date_echo: DateEcho,
    /// Case of echoed statuses and scopes (default [`EnumCase::Canonical`]).
    pub enum_case: EnumCase,
    /// How unset filter fields are echoed (default [`UnsetFilterFields::Null`]).
    pub unset_filter_fields: UnsetFilterFields,
    /// Key order of `add`/`list` answers (default [`KeyOrder::Sorted`]).
    pub key_order: KeyOrder,
    /// The API spec's strict bounds `0 < retries ≤ 10`, `100 < timeout < 60000`: `retries: 0`,
    /// `timeout: 100` and `timeout: 60000` are refused with 400. Default false (the seed's
    /// inclusive `0..10`, `100..60000`).
    pub strict_bounds: bool,
    /// How `add` stores the url (default [`UrlNormalisation::Exact`]); `list` echoes the stored
    /// form, so a client adopting "the callback with my url" by string equality misses it.
    pub url_normalisation: UrlNormalisation,
    /// Status of a successful `add` (default 201; 200 is the other plausible reading).
    pub add_success_status: u16,
    /// The answer of a successful `remove` (default [`RemoveSuccess::EmptyOk`]).
    pub remove_success: RemoveSuccess,
    /// TEST ONLY, for drift-loop protection: this field (one of [`ALWAYS_DIFFERS_FIELDS`]) is
    /// echoed by `add` and `list` with a value that always differs from the stored one (numbers
    /// +1, `authType` flipped, `subject` suffixed, one status/scope added or removed, one uuid
    /// added, dates one day later; an unset field gets a value). Default none.
    pub echo_always_differs: Option<String>,
}

impl Default for EnvelopeSwitches {
    fn default() -> Self {
        EnvelopeSwitches {
            removed_answer: 404,
            date_echo: DateEcho::default(),
            enum_case: EnumCase::default(),
            unset_filter_fields: UnsetFilterFields::default(),
            key_order: KeyOrder::default(),
            strict_bounds: false,
            url_normalisation: UrlNormalisation::default(),
            add_success_status: 201,
            remove_success: RemoveSuccess::default(),
            echo_always_differs: None,
        }
    }
}

impl EnvelopeSwitches {
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

fn status_or_name<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Status(u16),
        Name(RemovedAnswer),
    }
    Ok(match Either::deserialize(d)? {
        Either::Status(s) => s,
        Either::Name(n) => n.status(),
    })
}

/// The handle's switch setters.
impl EnvelopeSim {
    pub fn switches(&self) -> EnvelopeSwitches {
        self.inner.switches()
    }

    /// Replace every switch. Panics when `echo_always_differs` names an unknown field.
    pub fn set_switches(&self, switches: EnvelopeSwitches) {
        if let Err(e) = switches.validate() {
            panic!("{e}");
        }
        *lock(&self.inner.switches) = switches;
    }

    /// Status for removing an already-removed id: 404 (default), 410, or any other (200 and 204
    /// answer an empty body).
    pub fn set_removed_answer(&self, status: u16) {
        lock(&self.inner.switches).removed_answer = status;
    }

    /// [`set_removed_answer`](Self::set_removed_answer) by name.
    pub fn set_removed_answer_named(&self, answer: RemovedAnswer) {
        self.set_removed_answer(answer.status());
    }

    /// How filter dates are echoed (default RFC 3339 UTC).
    pub fn set_date_echo(&self, mode: DateEcho) {
        lock(&self.inner.switches).date_echo = mode;
    }

    /// Case of echoed statuses and scopes (default canonical).
    pub fn set_enum_case(&self, mode: EnumCase) {
        lock(&self.inner.switches).enum_case = mode;
    }

    /// How unset filter fields are echoed (default `null`).
    pub fn set_unset_filter_fields(&self, mode: UnsetFilterFields) {
        lock(&self.inner.switches).unset_filter_fields = mode;
    }

    /// Key order of `add`/`list` answers (default sorted).
    pub fn set_key_order(&self, order: KeyOrder) {
        lock(&self.inner.switches).key_order = order;
    }

    /// Refuse `retries: 0`, `timeout: 100` and `timeout: 60000` (the API spec's strict bounds).
    pub fn set_strict_bounds(&self, on: bool) {
        lock(&self.inner.switches).strict_bounds = on;
    }

    /// How `add` stores urls (default exactly as sent).
    pub fn set_url_normalisation(&self, mode: UrlNormalisation) {
        lock(&self.inner.switches).url_normalisation = mode;
    }

    /// Status of a successful `add` (default 201).
    pub fn set_add_success_status(&self, status: u16) {
        lock(&self.inner.switches).add_success_status = status;
    }

    /// The answer of a successful `remove` (default 200, empty body).
    pub fn set_remove_success(&self, mode: RemoveSuccess) {
        lock(&self.inner.switches).remove_success = mode;
    }

    /// TEST ONLY: echo `field` (one of [`ALWAYS_DIFFERS_FIELDS`]) with a value that always differs
    /// from the stored one; `None` turns it off. Panics on an unknown field.
    pub fn set_echo_always_differs(&self, field: Option<&str>) {
        let mut switches = self.switches();
        switches.echo_always_differs = field.map(str::to_owned);
        self.set_switches(switches);
    }
}
