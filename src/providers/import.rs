//! `callback-operator import`: what an account holds, turned into CallbackRegistration specs. The providers list
//! and convert (in their folders); the names are derived here, the same way for all.

use sha2::{Digest, Sha256};

use crate::api::CallbackRegistrationSpec;

/// Where to look within an account (envelope lists one mailbox at a time).
#[derive(Clone, Debug, Default)]
pub struct ImportScope {
    pub mailbox: Option<String>,
}

/// One provider-side object as a registration.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// A stable name derived from the identity (the same webhook always gets the same name).
    pub name: String,
    /// The spec, credentials reference filled in; `managementPolicy` is left to the caller.
    pub spec: CallbackRegistrationSpec,
    /// What the YAML cannot carry (a write-only password), printed as comments above the object.
    pub notes: Vec<String>,
}

/// What an import found.
#[derive(Clone, Debug, PartialEq)]
pub enum Import {
    Found(Vec<Imported>),
    /// The provider cannot be listed (edna): why, and a template to fill in.
    Unreadable {
        why: String,
        template: Imported,
    },
}

/// The longest name produced: a label (63) so it also fits where names become labels.
const MAX_NAME: usize = 63;

/// `<provider>-<slug of the url's host and path>-<8 hex of a hash of the whole identity>`: readable, stable, unique
/// per identity, and a valid Kubernetes name.
pub fn derived_name(provider: &str, url: &str, identity: &str) -> String {
    let hash = hex::encode(&Sha256::digest(identity.as_bytes())[..4]);
    let readable = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let mut slug = String::new();
    for c in readable.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let room = MAX_NAME - provider.len() - hash.len() - 2;
    let slug: String = slug.chars().take(room).collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        format!("{provider}-{hash}")
    } else {
        format!("{provider}-{slug}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_stable_and_valid() {
        let a = derived_name(
            "mail",
            "https://Hooks.Example:8443/unisender/orders?x=1",
            "acct mail https://...",
        );
        assert!(a.starts_with("mail-hooks-example-8443-unisender-orders-"), "{a}");
        assert_eq!(
            a,
            derived_name(
                "mail",
                "https://Hooks.Example:8443/unisender/orders?x=1",
                "acct mail https://..."
            )
        );
        assert_ne!(
            a,
            derived_name(
                "mail",
                "https://Hooks.Example:8443/unisender/orders?x=1",
                "another identity"
            )
        );
        let valid = |n: &str| {
            n.len() <= 63
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !n.starts_with('-')
                && !n.ends_with('-')
        };
        assert!(valid(&a));
        let long = derived_name(
            "envelope",
            &format!("https://h.example/{}", "segment/".repeat(30)),
            "id",
        );
        assert!(valid(&long) && long.len() <= 63, "{long}");
        assert!(valid(&derived_name("mail", "https://-/", "id")));
    }
}
