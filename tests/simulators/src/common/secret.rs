//! [`SecretForm`]: the encodings in which a hostile provider's error message may echo the
//! credential a request carried ([`Fault::EchoSecret`](super::Fault::EchoSecret)), and the
//! rendering of such a message as a JSON string literal.

use serde::{Deserialize, Serialize};

/// Default [`SecretForm::AtTruncationBoundary`] offset: where a client is likely to cut a
/// provider message short (200 characters).
pub const DEFAULT_TRUNCATION_OFFSET: usize = 200;

fn default_offset() -> usize {
    DEFAULT_TRUNCATION_OFFSET
}

/// How the echoed credential appears in the error message. In JSON (admin API) the unit forms are
/// strings (`"plain"`, `"json_escaped"`, `"percent_encoded"`, `"base64"`, `"base64_url"`, `"hex"`)
/// and the boundary form is `{"at_truncation_boundary": {"offset": 200}}` (`offset` optional).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretForm {
    /// The credential verbatim.
    Plain,
    /// The credential verbatim, placed so that it straddles character position `offset` of the
    /// message (it starts `len / 2` characters before it): a client that truncates the message at
    /// `offset` keeps the first half of the secret, which redaction by exact match will miss.
    AtTruncationBoundary {
        #[serde(default = "default_offset")]
        offset: usize,
    },
    /// Every character of the credential as a `\uXXXX` escape in the raw JSON text: the raw body
    /// does not contain the secret, the decoded message does.
    JsonEscaped,
    /// Every byte of the credential as `%XX` (upper-case hex), including unreserved characters.
    PercentEncoded,
    /// Standard base64 with padding (RFC 4648 §4).
    Base64,
    /// URL-safe base64 without padding (RFC 4648 §5).
    Base64Url,
    /// Lower-case hex of the credential's UTF-8 bytes.
    Hex,
}

impl SecretForm {
    /// The boundary form at [`DEFAULT_TRUNCATION_OFFSET`].
    pub fn at_default_boundary() -> Self {
        SecretForm::AtTruncationBoundary {
            offset: DEFAULT_TRUNCATION_OFFSET,
        }
    }

    /// The credential as this form writes it into the *decoded* message text (for
    /// [`JsonEscaped`](Self::JsonEscaped) that is the plain secret: only the raw body differs).
    pub fn encode(&self, secret: &str) -> String {
        match self {
            SecretForm::Plain | SecretForm::AtTruncationBoundary { .. } | SecretForm::JsonEscaped => secret.to_owned(),
            SecretForm::PercentEncoded => secret.bytes().map(|b| format!("%{b:02X}")).collect(),
            SecretForm::Base64 => base64(secret.as_bytes(), STANDARD, true),
            SecretForm::Base64Url => base64(secret.as_bytes(), URL_SAFE, false),
            SecretForm::Hex => secret.bytes().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// The error message echoing `secret` in this form, as a JSON string literal (with quotes),
    /// ready to be placed in a provider's error body. `what` names the credential
    /// (e.g. `"API key"`).
    pub fn message_literal(&self, what: &str, secret: &str) -> String {
        let intro = format!("request refused: the {what} ");
        let outro = " is not valid for this resource";
        match self {
            SecretForm::AtTruncationBoundary { offset } => {
                let n = secret.chars().count();
                let start = offset.saturating_sub(n / 2);
                let prefix = filler(&intro, start);
                let message = format!("{prefix}{secret}{outro}");
                json_literal(&message)
            }
            SecretForm::JsonEscaped => {
                let escaped: String = secret.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
                let head = json_literal(&intro);
                let tail = json_literal(outro);
                // Splice the escaped secret between the two literals' contents.
                format!("{}{escaped}{}", &head[..head.len() - 1], &tail[1..])
            }
            other => json_literal(&format!("{intro}{}{outro}", other.encode(secret))),
        }
    }
}

fn json_literal(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// `intro` padded (or cut) to exactly `len` characters with a readable filler.
fn filler(intro: &str, len: usize) -> String {
    let pad = " (diagnostic detail follows)";
    intro.chars().chain(pad.chars().cycle()).take(len).collect()
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// RFC 4648 base64 (the crate has no base64 dependency; this is all it needs).
fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(SecretForm::Base64.encode(input), want);
        }
        assert_eq!(SecretForm::Base64Url.encode("\u{fb}\u{ff}"), "w7vDvw");
        assert_eq!(SecretForm::Base64.encode("\u{fb}\u{ff}"), "w7vDvw==");
    }

    #[test]
    fn boundary_form_straddles_the_offset() {
        let secret = "0123456789abcdef";
        let lit = SecretForm::AtTruncationBoundary { offset: 200 }.message_literal("key", secret);
        let msg: String = serde_json::from_str(&lit).unwrap();
        let at = msg.find(secret).unwrap();
        assert!(at < 200 && at + secret.len() > 200, "secret at {at}");
    }

    #[test]
    fn json_escaped_form_hides_the_secret_only_in_the_raw_text() {
        let lit = SecretForm::JsonEscaped.message_literal("key", "sk-1");
        assert!(!lit.contains("sk-1"), "{lit}");
        let msg: String = serde_json::from_str(&lit).unwrap();
        assert!(msg.contains("sk-1"), "{msg}");
    }
}
