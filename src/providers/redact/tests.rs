use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;

const SECRET: &str = "k3y-Secret/with+odd=chars\"and\\";

fn redactor() -> Redactor {
    let mut r = Redactor::default();
    r.add(SECRET);
    r
}

/// Every form a hostile provider may echo (the simulators' `SecretForm`s, and a few more).
fn forms(secret: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    vec![
        secret.to_string(),
        serde_json::to_string(secret).unwrap().trim_matches('"').to_string(),
        secret.encode_utf16().map(|u| format!("\\u{u:04X}")).collect(),
        bytes.iter().map(|b| format!("%{b:02X}")).collect(),
        bytes.iter().map(|b| format!("%{b:02x}")).collect(),
        utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
        url::form_urlencoded::byte_serialize(bytes).collect(),
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
        hex::encode(bytes),
        hex::encode_upper(bytes),
    ]
}

#[test]
fn every_form_is_redacted() {
    let r = redactor();
    for form in forms(SECRET) {
        let text = format!("refused: {form} is wrong");
        let out = r.redact(&text);
        assert!(!out.contains(&form), "{form} survived: {out}");
        assert!(out.contains(REDACTED), "{out}");
    }
}

#[test]
fn a_secret_inside_a_longer_base64_text_is_found_at_every_alignment() {
    let r = redactor();
    for prefix in ["", "u", "us", "use", "user:"] {
        let encoded = STANDARD.encode(format!("{prefix}{SECRET} tail"));
        let out = r.redact(&format!("Basic {encoded}"));
        assert!(out.contains(REDACTED), "prefix {prefix:?}: {out}");
        let left: String = out.replace(REDACTED, "");
        // What remains decodes to nothing that holds the secret's middle.
        assert!(!left.contains(&encoded), "{out}");
    }
}

#[test]
fn redaction_happens_before_the_cut() {
    let r = redactor();
    let head = "x".repeat(PROVIDER_TEXT_MAX - 5);
    let quoted = r.quote(&format!("{head}{SECRET} and more"));
    assert!(!quoted.contains(&SECRET[..5]), "{quoted}");
    assert!(quoted.chars().count() <= PROVIDER_TEXT_MAX + 1);
}

#[test]
fn quote_is_one_capped_line() {
    let r = Redactor::default();
    let quoted = r.quote(&format!("a\nb\r\n\tc {}", "z".repeat(1000)));
    assert!(quoted.starts_with("a b c zz"), "{quoted}");
    assert_eq!(quoted.chars().count(), PROVIDER_TEXT_MAX + 1);
    assert!(quoted.ends_with('…'));
}

#[test]
fn pairs_and_overlaps_are_redacted_once() {
    let mut r = Redactor::default();
    r.add_pair("ops@example.com", "pa55word");
    let header = STANDARD.encode("ops@example.com:pa55word");
    let out = r.redact(&format!("pa55wordpa55word {header} ops@example.com"));
    assert!(
        !out.contains("pa55word") && !out.contains(&header) && !out.contains("ops@example.com"),
        "{out}"
    );
}

#[test]
fn short_values_are_not_searched_and_text_without_secrets_is_unchanged() {
    let mut r = Redactor::default();
    r.add("abc");
    assert_eq!(r.redact("abc abc"), "abc abc");
    assert_eq!(redactor().redact("nothing to hide ✓"), "nothing to hide ✓");
}

#[test]
fn caps_respect_character_boundaries() {
    assert_eq!(cap("ééé", 2), "éé…");
    assert_eq!(cap("ab", 2), "ab");
    let capped = cap_bytes(&"é".repeat(600), 1024);
    assert!(capped.len() <= 1024 && capped.ends_with('…'));
}
