//! When two spellings of a callback URL name the same receiver. Providers may store a URL normalised (scheme and
//! host lower-cased, default port dropped, a trailing slash added or stripped) and echo that form; looking a
//! registration up by the exact URL the spec gave would then miss it on every resync, and the operator would write
//! again each time. Pure.

/// The comparison key of a URL: its WHATWG-normalised form (lower-case scheme and host, no default port, `/` for
/// an empty path) without a trailing slash. Text that is not a URL is its own key.
fn url_key(text: &str) -> String {
    match url::Url::parse(text.trim()) {
        Ok(parsed) => {
            let mut key = format!(
                "{}://{}{}",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default(),
                parsed.port().map(|p| format!(":{p}")).unwrap_or_default()
            );
            key.push_str(parsed.path().trim_end_matches('/'));
            if let Some(query) = parsed.query() {
                key.push('?');
                key.push_str(query);
            }
            key
        }
        Err(_) => text.to_string(),
    }
}

/// Whether `a` and `b` name the same receiver however the provider spelled it.
pub fn same_url(a: &str, b: &str) -> bool {
    a == b || url_key(a) == url_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_spellings_are_the_same_url() {
        assert!(same_url("https://Hooks.Example:443/a/", "https://hooks.example/a"));
        assert!(same_url("HTTPS://hooks.example", "https://hooks.example/"));
        assert!(same_url("https://h.example/a?x=1", "https://h.example/a/?x=1"));
    }

    #[test]
    fn different_receivers_stay_different() {
        assert!(!same_url("https://h.example/a", "https://h.example/b"));
        assert!(!same_url("https://h.example:8443/a", "https://h.example/a"));
        assert!(!same_url("https://h.example/a?x=1", "https://h.example/a?x=2"));
        assert!(
            !same_url("https://h.example/A", "https://h.example/a"),
            "paths are case-sensitive"
        );
    }
}
