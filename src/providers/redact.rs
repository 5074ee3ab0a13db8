//! Redaction of provider-supplied text: every credential the operator holds, in every form a hostile (or careless)
//! provider may echo it — verbatim, JSON-escaped, percent-encoded, base64 (standard and URL-safe, padded or not,
//! and inside a longer base64 text at any alignment: a basic-auth header), hex — is replaced *before* the text is
//! cut, so a secret straddling the cut cannot leave its head behind. Then control characters are dropped and the
//! text is capped: what reaches a condition, an Event note or a log line is short and single-line.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::SecretValue;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";
/// At most this many characters of provider text go into one message.
pub const PROVIDER_TEXT_MAX: usize = 200;
/// Secrets shorter than this are not searched for (they would match ordinary words).
const MIN_SECRET_LEN: usize = 4;

/// The needles for a set of secrets.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Matched as written.
    exact: Vec<String>,
    /// Matched ignoring ASCII case (hex digits of `%XX`, `\uXXXX` and hex forms); stored lower case.
    folded: Vec<String>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a SecretValue>) -> Self {
        let mut redactor = Redactor::default();
        for secret in secrets {
            redactor.add(secret.expose());
        }
        redactor
    }

    /// Adds `secret` in every form.
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < MIN_SECRET_LEN {
            return;
        }
        let bytes = secret.as_bytes();
        self.exact.push(secret.to_string());
        // JSON string escaping as serde writes it, and every character as \uXXXX (a raw body quoted unparsed).
        let json = serde_json::to_string(secret).unwrap_or_default();
        self.exact.push(json[1..json.len().saturating_sub(1)].to_string());
        self.folded
            .push(secret.encode_utf16().map(|u| format!("\\u{u:04x}")).collect());
        // Percent-encoding: every byte, and only what a URL component needs; form encoding (space as +).
        self.folded.push(bytes.iter().map(|b| format!("%{b:02x}")).collect());
        self.folded.push(
            utf8_percent_encode(secret, NON_ALPHANUMERIC)
                .to_string()
                .to_ascii_lowercase(),
        );
        self.folded.push(
            url::form_urlencoded::byte_serialize(bytes)
                .collect::<String>()
                .to_ascii_lowercase(),
        );
        // Base64 alone (padded or not), and the part of it that is fixed whatever bytes surround the secret.
        for engine in [&STANDARD, &URL_SAFE] {
            self.exact.push(engine.encode(bytes));
        }
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            for shift in 0..3 {
                let mut shifted = vec![0u8; shift];
                shifted.extend_from_slice(bytes);
                let encoded = engine.encode(&shifted);
                let start = (8 * shift).div_ceil(6);
                let end = (8 * (shift + bytes.len())) / 6;
                if end > start && end - start >= MIN_SECRET_LEN {
                    self.exact.push(encoded[start..end].to_string());
                }
            }
        }
        self.folded.push(hex::encode(bytes));
        self.exact.retain(|n| n.len() >= MIN_SECRET_LEN);
        self.folded.retain(|n| n.len() >= MIN_SECRET_LEN);
        self.exact.sort();
        self.exact.dedup();
        self.folded.sort();
        self.folded.dedup();
    }

    /// Adds a `user:password` pair as one value too (basic auth), besides each half.
    pub fn add_pair(&mut self, user: &str, password: &str) {
        self.add(user);
        self.add(password);
        self.add(&format!("{user}:{password}"));
    }

    /// `text` with every occurrence of every form replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for needle in &self.exact {
            ranges.extend(text.match_indices(needle.as_str()).map(|(i, m)| (i, i + m.len())));
        }
        if !self.folded.is_empty() {
            // ASCII lower-casing keeps every byte offset, so ranges found here apply to `text`.
            let lower = text.to_ascii_lowercase();
            for needle in &self.folded {
                ranges.extend(lower.match_indices(needle.as_str()).map(|(i, m)| (i, i + m.len())));
            }
        }
        if ranges.is_empty() {
            return text.to_string();
        }
        ranges.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in ranges {
            if end <= at {
                continue;
            }
            if start >= at {
                out.push_str(&text[at..start]);
                out.push_str(REDACTED);
            }
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Provider text made fit for a message: redacted, control characters replaced by spaces, whitespace runs
    /// collapsed, then capped at [`PROVIDER_TEXT_MAX`] characters.
    pub fn quote(&self, text: &str) -> String {
        let redacted = self.redact(text);
        let single_line = redacted
            .split(|c: char| c.is_control() || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        cap(&single_line, PROVIDER_TEXT_MAX)
    }
}

/// `text` cut to at most `max` characters, an ellipsis marking the cut.
pub fn cap(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// `text` cut to at most `max` bytes on a character boundary (the Event note limit is in bytes).
pub fn cap_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let ellipsis = "…";
    let mut cut = max.saturating_sub(ellipsis.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ellipsis}", &text[..cut])
}

#[cfg(test)]
mod tests;
