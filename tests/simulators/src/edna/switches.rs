//! The edna simulator's runtime switches: one per reading of edna.md that the contract leaves
//! open ("Other readings").

use serde::{Deserialize, Serialize};

/// How an error code travels (the contract makes the client accept all three).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdnaErrorStyle {
    /// Default: HTTP 200 with `{"code": "<error code>"}`.
    #[default]
    Http200Code,
    /// HTTP 400 with `{"code": "<error code>"}`.
    Http400Code,
    /// HTTP 400, `application/problem+json` `{type, title, status, detail}` (RFC 7807).
    Problem,
}

/// What `set` does with URL fields the body leaves out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdnaSetOmitted {
    /// Default (the contract's assumption): fields left out stay as they were.
    #[default]
    Keep,
    /// Other reading: fields left out are cleared.
    Clear,
}

/// What a `set` without `subjectId` writes.
///
/// The seed (edna.md, "коллбеки устанавливаются для всех каналов тенанты") reads as
/// [`AllChannels`](Self::AllChannels), so that is the default (edna.md: where the seed speaks,
/// its reading is the default); [`SeparateDefault`](Self::SeparateDefault) is the other reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantWideScope {
    /// The other reading: a separate tenant default. A channel without its own URL for a field
    /// uses the default; URLs set per channel are left alone.
    SeparateDefault,
    /// Default, the seed's reading: the sent fields are written on EVERY channel of the tenant that
    /// has a `subjectId` (overwriting URLs set per channel) and on the tenant default (which
    /// channels activated later inherit).
    #[default]
    AllChannels,
}

/// What a successful `set` answers (edna.md: "only `{"code":"ok"}` is success; an empty,
/// non-JSON or HTML 2xx answer is a protocol error"). The state change happens in every shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuccessShape {
    /// Default: HTTP 200 `{"code":"ok"}`, the documented success.
    #[default]
    CodeOk,
    /// HTTP 200 with an empty body (no content type).
    EmptyBody,
    /// HTTP 200 `{}`: JSON without `code`.
    EmptyObject,
    /// HTTP 200 `text/html` page.
    HtmlPage,
    /// HTTP 204, no body.
    NoContent,
}

/// Runtime-switchable behaviour. In JSON (`POST /_sim/switches`) every field is optional.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EdnaSwitches {
    /// `HEAD` each URL before accepting it (default true).
    pub url_check: bool,
    pub error_style: EdnaErrorStyle,
    pub set_omitted: EdnaSetOmitted,
    /// What a `set` without `subjectId` writes (default [`TenantWideScope::AllChannels`], the
    /// seed's reading).
    pub tenant_wide_scope: TenantWideScope,
    /// Refuse a `set` that carries only `messageMatcherCallbackUrl` with `url-not-specified`
    /// (the seed's code table: "statusCallbackUrl or inMessageCallbackUrl is required").
    /// Default false: any one URL is enough.
    pub require_status_or_in_message: bool,
    /// The answer of a successful `set` (default [`SuccessShape::CodeOk`]).
    pub success_shape: SuccessShape,
}

impl Default for EdnaSwitches {
    fn default() -> Self {
        EdnaSwitches {
            url_check: true,
            error_style: EdnaErrorStyle::default(),
            set_omitted: EdnaSetOmitted::default(),
            tenant_wide_scope: TenantWideScope::default(),
            require_status_or_in_message: false,
            success_shape: SuccessShape::default(),
        }
    }
}
