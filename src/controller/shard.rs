//! Sharding by label (Flux's convention, docs/scaling.md): each operator Deployment reconciles the registrations its
//! `--watch-label-selector` matches. The chart gives shard `name` the selector `sharding.callback-operator.io/key=name`
//! and the default shard `!sharding.callback-operator.io/key`, so every object belongs to exactly one shard.

/// The shard's label selector as the apiserver takes it, or `None` (empty: every registration). Checked here so a
/// typo stops the process at start instead of failing every watch request; the apiserver parses the rest.
pub fn shard_selector(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '=' | '!' | ',' | '(' | ')' | ' ');
    let mut depth = 0i32;
    for c in text.chars() {
        if !allowed(c) {
            return Err(format!(
                "--watch-label-selector {text:?}: {c:?} is not allowed in a label selector"
            ));
        }
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if !(0..=1).contains(&depth) {
            return Err(format!("--watch-label-selector {text:?}: unbalanced parentheses"));
        }
    }
    let compact: String = text.chars().filter(|c| *c != ' ').collect();
    if depth != 0 || compact.starts_with(',') || compact.ends_with(',') || compact.contains(",,") {
        return Err(format!(
            "--watch-label-selector {text:?}: an empty term or unbalanced parentheses"
        ));
    }
    Ok(Some(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_selector_means_every_registration() {
        assert_eq!(shard_selector("  "), Ok(None));
    }

    #[test]
    fn flux_style_selectors_pass_through() {
        for text in [
            "sharding.callback-operator.io/key=shard1",
            "!sharding.callback-operator.io/key",
            "sharding.callback-operator.io/key in (a,b)",
            "team=payments,sharding.callback-operator.io/key!=b",
        ] {
            assert_eq!(shard_selector(text), Ok(Some(text.to_string())), "{text}");
        }
    }

    #[test]
    fn typos_are_refused_at_start() {
        for text in ["key=a;b", "key in (a", "key in a)", "a,,b", "key=\"a\""] {
            assert!(shard_selector(text).is_err(), "{text}");
        }
    }
}
