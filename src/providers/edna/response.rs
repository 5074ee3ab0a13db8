//! Reading edna's answers. The HTTP status of an error is undocumented, so an error `code` is accepted under HTTP 200
//! and under 4xx, as `{"code": ...}` or inside an RFC 7807 problem body (`title`, `detail`, `type`). Pure.

use reqwest::StatusCode;
use serde_json::Value;

use super::EdnaProvider;
use crate::api::Reason;
use crate::providers::{Provider, ProviderError};
use crate::providers::http::{QUOTE_WINDOW, Reply, common_failure};

/// Every code the contract documents for `callback/set`.
pub const CODE_OK: &str = "ok";
pub const CODE_URL_MAX_LENGTH: &str = "error-callback-url-max-length";
pub const CODE_URL_NOT_HTTPS: &str = "error-callback-url-not-https";
pub const CODE_URL_NOT_AVAILABLE: &str = "error-callback-url-not-available";
pub const CODE_SUBJECT_UNKNOWN: &str = "error-subject-unknown";
pub const CODE_URL_NOT_SPECIFIED: &str = "url-not-specified";

const KNOWN_CODES: [&str; 6] = [
    CODE_OK,
    CODE_URL_MAX_LENGTH,
    CODE_URL_NOT_HTTPS,
    CODE_URL_NOT_AVAILABLE,
    CODE_SUBJECT_UNKNOWN,
    CODE_URL_NOT_SPECIFIED,
];

/// What an answer body says, whatever its shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// edna's code (`ok`, `error-…`), when the body names one.
    pub code: Option<String>,
    /// A human message (problem `detail`, `message`), possibly empty.
    pub message: String,
}

/// Reads `{"code": …}`, an RFC 7807 problem, or anything else (kept as a short text for messages).
pub fn parse_answer(body: &[u8]) -> Answer {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Answer {
            code: None,
            // Not cut to the message length here: `quoted` redacts before it cuts.
            message: String::from_utf8_lossy(&body[..body.len().min(QUOTE_WINDOW)]).trim().to_string(),
        };
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::trim).unwrap_or("");
    let message = [text("detail"), text("message"), text("description")]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or("")
        .to_string();
    if let Some(code) = map.get("code").and_then(Value::as_str) {
        return Answer {
            code: Some(code.trim().to_string()),
            message,
        };
    }
    // A problem body: the code may be the title, the start of the detail ("<code>: <message>") or the end of the
    // type URI. A known code wins; a code-shaped title is taken as an unknown code.
    let detail_head = message.split(':').next().unwrap_or("").trim();
    let type_tail = text("type").rsplit('/').next().unwrap_or("");
    let candidates = [text("title"), detail_head, type_tail];
    let code = candidates
        .iter()
        .find(|c| KNOWN_CODES.contains(c))
        .or_else(|| candidates.first().filter(|t| looks_like_code(t)))
        .map(|c| c.to_string());
    Answer {
        code,
        message: if message.is_empty() {
            text("title").to_string()
        } else {
            message
        },
    }
}

impl Answer {
    /// The code and message fit for a message: every credential the request carried redacted, then capped.
    pub fn quoted(self, reply: &Reply) -> Answer {
        Answer {
            code: self.code.map(|code| reply.quote(&code)),
            message: reply.quote(&self.message),
        }
    }
}

/// `error-subject-unknown`, `url-not-specified`: lower case words joined by dashes.
fn looks_like_code(text: &str) -> bool {
    text.contains('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The outcome of `callback/set`: `Ok` when edna accepted the URLs, else the classified error.
pub fn set_result(reply: &Reply) -> Result<(), ProviderError> {
    let answer = parse_answer(&reply.body).quoted(reply);
    let op = "callback/set";
    if reply.status.is_success() {
        return match answer.code.as_deref() {
            Some(CODE_OK) => Ok(()),
            // Only `{"code":"ok"}` is success: an empty, non-JSON or HTML 2xx (a wrong host, a proxy's page) would
            // otherwise count as registered, and edna is never read back to notice.
            None => Err(ProviderError::transient(
                Reason::ProviderProtocolError,
                format!(
                    "edna Pulse answered {op} with HTTP {} but not with {{\"code\":\"ok\"}} ({}): not taken as \
                     success; is the endpoint edna's?",
                    reply.status.as_u16(),
                    shape(reply)
                ),
            )),
            Some(code) => Err(code_error(code, &answer.message, reply.status)),
        };
    }
    if let Some(err) = common_failure(EdnaProvider::NAME, op, reply, &detail(&answer)) {
        return Err(with_group_hint(err, reply.status, "webhooks", op));
    }
    match answer.code.as_deref() {
        Some(code) => Err(code_error(code, &answer.message, reply.status)),
        None => Err(unexpected(op, reply.status, &answer)),
    }
}

/// What a 2xx answer without a code looked like, in words (never its text: it may echo anything).
fn shape(reply: &Reply) -> &'static str {
    match serde_json::from_slice::<Value>(&reply.body) {
        _ if reply.body.iter().all(u8::is_ascii_whitespace) => "an empty body",
        Ok(Value::Object(_)) => "JSON without a code",
        Ok(_) => "JSON that is not an object",
        Err(_) => "a body that is not JSON",
    }
}

/// The reason for each edna code (the contract's table).
pub fn code_error(code: &str, message: &str, status: StatusCode) -> ProviderError {
    let said = if message.is_empty() || message == code {
        code.to_string()
    } else if message.starts_with(code) {
        message.to_string()
    } else {
        format!("{code}: {message}")
    };
    match code {
        CODE_URL_NOT_AVAILABLE => ProviderError::transient(
            Reason::EndpointUnavailable,
            format!(
                "edna Pulse could not reach a callback URL (its HEAD check must get 200): {said}; retrying, the \
                 receiver may not be deployed yet"
            ),
        ),
        CODE_SUBJECT_UNKNOWN => ProviderError::rejected(
            Reason::SubjectNotFound,
            format!("edna Pulse has no active channel with this subjectId: {said}"),
        ),
        CODE_URL_MAX_LENGTH | CODE_URL_NOT_HTTPS | CODE_URL_NOT_SPECIFIED => {
            ProviderError::rejected(Reason::InvalidSpec, format!("edna Pulse refused the URLs: {said}"))
        }
        "unauthorized" | "forbidden" => ProviderError::InvalidCredentials {
            message: format!("edna Pulse rejected the API key: {said}"),
        },
        _ => ProviderError::rejected(
            Reason::ProviderRejected,
            format!("edna Pulse refused callback/set (HTTP {}): {said}", status.as_u16()),
        ),
    }
}

/// A non-2xx answer without a code that the shared classes do not cover.
pub fn unexpected(op: &str, status: StatusCode, answer: &Answer) -> ProviderError {
    if status == StatusCode::NOT_FOUND {
        return ProviderError::rejected(
            Reason::ProviderRejected,
            format!(
                "edna Pulse has no method {op} at this endpoint (HTTP 404){}",
                suffix(&answer.message)
            ),
        );
    }
    ProviderError::rejected(
        Reason::ProviderRejected,
        format!(
            "edna Pulse refused {op} (HTTP {}){}",
            status.as_u16(),
            suffix(&detail(answer))
        ),
    )
}

/// An additional edna key needs a method group per method; say which when edna answers 403.
pub fn with_group_hint(err: ProviderError, status: StatusCode, group: &str, op: &str) -> ProviderError {
    match err {
        ProviderError::InvalidCredentials { message } if status == StatusCode::FORBIDDEN => {
            ProviderError::InvalidCredentials {
                message: format!(
                    "{message} (an additional API key needs the \"{group}\" method group for {op}; the master key has all)"
                ),
            }
        }
        other => other,
    }
}

fn detail(answer: &Answer) -> String {
    match (&answer.code, answer.message.as_str()) {
        (Some(code), "") => code.clone(),
        (Some(code), message) if !message.starts_with(code.as_str()) => format!("{code}: {message}"),
        (_, message) => message.to_string(),
    }
}

fn suffix(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::providers::ErrorClass;

    fn reply(status: u16, body: Value) -> Reply {
        Reply::new(StatusCode::from_u16(status).unwrap(), body.to_string())
    }

    /// The three shapes the simulator's error styles produce, for one code.
    fn every_style(code: &str) -> Vec<Reply> {
        vec![
            reply(200, json!({"code": code})),
            reply(400, json!({"code": code})),
            reply(
                400,
                json!({"type": "about:blank", "title": code, "status": 400, "detail": format!("{code}: what happened")}),
            ),
        ]
    }

    #[test]
    fn only_code_ok_is_success_and_any_other_2xx_is_a_protocol_error() {
        assert_eq!(set_result(&reply(200, json!({"code": "ok"}))), Ok(()));
        let raw = |status: u16, body: &'static str| {
            Reply::new(StatusCode::from_u16(status).unwrap(), bytes::Bytes::from_static(body.as_bytes()))
        };
        for (r, shape) in [
            (reply(200, json!({})), "JSON without a code"),
            (raw(200, ""), "an empty body"),
            (raw(204, ""), "an empty body"),
            (raw(200, "<html><body>Welcome</body></html>"), "not JSON"),
        ] {
            let err = set_result(&r).unwrap_err();
            assert_eq!((err.reason(), err.class()), (Reason::ProviderProtocolError, ErrorClass::Transient));
            assert!(err.to_string().contains(shape), "{err}");
            assert!(!err.to_string().contains("Welcome"), "the body is not quoted: {err}");
        }
    }

    #[test]
    fn every_documented_code_maps_to_its_reason_in_every_style() {
        let table = [
            (CODE_URL_NOT_AVAILABLE, "EndpointUnavailable", ErrorClass::Transient),
            (CODE_SUBJECT_UNKNOWN, "SubjectNotFound", ErrorClass::Permanent),
            (CODE_URL_MAX_LENGTH, "InvalidSpec", ErrorClass::Permanent),
            (CODE_URL_NOT_HTTPS, "InvalidSpec", ErrorClass::Permanent),
            (CODE_URL_NOT_SPECIFIED, "InvalidSpec", ErrorClass::Permanent),
        ];
        for (code, reason, class) in table {
            for r in every_style(code) {
                let err = set_result(&r).unwrap_err();
                assert_eq!(
                    (err.reason().as_str(), err.class()),
                    (reason, class),
                    "{code} under HTTP {}",
                    r.status
                );
                assert!(err.to_string().contains(code), "the message names the code: {err}");
            }
        }
    }

    #[test]
    fn a_problem_detail_prefix_or_type_uri_carries_the_code_too() {
        let by_detail = reply(
            400,
            json!({"title": "Bad Request", "status": 400, "detail": "error-subject-unknown: no channel 9"}),
        );
        assert_eq!(set_result(&by_detail).unwrap_err().reason().as_str(), "SubjectNotFound");
        let by_type = reply(
            400,
            json!({"type": "https://edna.io/problems/error-callback-url-not-https", "title": "Bad Request"}),
        );
        assert_eq!(set_result(&by_type).unwrap_err().reason().as_str(), "InvalidSpec");
    }

    #[test]
    fn bad_keys_are_invalid_credentials_with_a_method_group_hint_on_403() {
        for r in [
            reply(401, json!({"code": "unauthorized"})),
            reply(
                401,
                json!({"title": "unauthorized", "status": 401, "detail": "unauthorized: unknown API key"}),
            ),
        ] {
            assert_eq!(set_result(&r).unwrap_err().class(), ErrorClass::Credentials);
        }
        let forbidden = set_result(&reply(403, json!({"code": "forbidden"}))).unwrap_err();
        assert_eq!(forbidden.class(), ErrorClass::Credentials);
        assert!(
            forbidden.to_string().contains("\"webhooks\" method group"),
            "{forbidden}"
        );
        assert_eq!(
            set_result(&reply(200, json!({"code": "unauthorized"})))
                .unwrap_err()
                .class(),
            ErrorClass::Credentials
        );
    }

    #[test]
    fn rate_limits_and_server_errors_are_transient() {
        let mut limited = Reply::new(StatusCode::TOO_MANY_REQUESTS, "{}");
        limited.retry_after = Some(std::time::Duration::from_secs(7));
        let err = set_result(&limited).unwrap_err();
        assert_eq!(
            (err.reason().as_str(), err.retry_after()),
            ("RateLimited", Some(std::time::Duration::from_secs(7)))
        );
        let err = set_result(&reply(503, json!({"code": "error-callback-url-not-https"}))).unwrap_err();
        assert_eq!(
            err.reason(),
            Reason::ProviderUnavailable,
            "5xx is transient whatever the body says"
        );
    }

    #[test]
    fn unknown_codes_and_bodies_are_rejected_with_what_edna_said() {
        let err = set_result(&reply(200, json!({"code": "error-something-new"}))).unwrap_err();
        assert_eq!((err.reason().as_str(), err.class()), ("ProviderRejected", ErrorClass::Permanent));
        assert!(err.to_string().contains("error-something-new"));
        let html = Reply::new(StatusCode::NOT_FOUND, "<html>not here</html>");
        let err = set_result(&html).unwrap_err();
        assert!(err.to_string().contains("HTTP 404"), "{err}");
        let err = set_result(&reply(422, json!({"title": "Unprocessable", "detail": "bad"}))).unwrap_err();
        assert!(
            err.to_string().contains("HTTP 422") && err.to_string().contains("bad"),
            "{err}"
        );
    }

    #[test]
    fn parse_answer_reads_code_and_message() {
        assert_eq!(
            parse_answer(br#"{"code":"error-subject-unknown","message":"no channel"}"#),
            Answer {
                code: Some("error-subject-unknown".into()),
                message: "no channel".into()
            }
        );
        assert_eq!(parse_answer(b"not json").code, None);
    }
}
