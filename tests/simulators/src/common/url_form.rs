//! [`UrlNormalisation`]: how a provider may store (and echo) the webhook URL it was given.
//! mail.md and envelope.md both list "URL form: stored and echoed as sent, or normalised" as a
//! reading the client must survive.

use serde::{Deserialize, Serialize};

/// How a stored URL relates to the URL sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrlNormalisation {
    /// Default: stored and echoed exactly as sent.
    #[default]
    Exact,
    /// Scheme and host lower-cased, the scheme's default port (`:80`, `:443`) dropped, an empty
    /// path becomes `/` (`HTTPS://Hook.Example:443` → `https://hook.example/`). Userinfo, path,
    /// query and fragment are kept as sent.
    Normalised,
    /// As [`Normalised`](Self::Normalised), but a trailing `/` of the path is stripped instead
    /// (`https://hook.example/cb/` → `https://hook.example/cb`, `https://h.example/` →
    /// `https://h.example`), as services that `rtrim` URLs do.
    NormalisedNoTrailingSlash,
}

impl UrlNormalisation {
    /// The URL as stored under this reading. A string that is not `scheme://authority...` is
    /// returned unchanged.
    pub fn apply(self, url: &str) -> String {
        if self == UrlNormalisation::Exact {
            return url.to_owned();
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        let scheme = scheme.to_ascii_lowercase();
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_port(hostport);
        let default_port = match scheme.as_str() {
            "http" => Some("80"),
            "https" => Some("443"),
            _ => None,
        };
        let port = port.filter(|p| Some(*p) != default_port);
        let qsplit = tail.find(['?', '#']).unwrap_or(tail.len());
        let (path, query) = tail.split_at(qsplit);
        let path = match self {
            UrlNormalisation::Normalised if path.is_empty() => "/",
            UrlNormalisation::NormalisedNoTrailingSlash => path.strip_suffix('/').unwrap_or(path),
            _ => path,
        };
        let mut out = format!("{scheme}://");
        if let Some(u) = userinfo {
            out.push_str(u);
            out.push('@');
        }
        out.push_str(&host.to_ascii_lowercase());
        if let Some(p) = port {
            out.push(':');
            out.push_str(p);
        }
        out.push_str(path);
        out.push_str(query);
        out
    }
}

/// `host[:port]`, with IPv6 literals in brackets.
fn split_port(hostport: &str) -> (&str, Option<&str>) {
    if hostport.starts_with('[') {
        return match hostport.rsplit_once("]:") {
            Some((h, p)) => (&hostport[..h.len() + 1], Some(p)),
            None => (hostport, None),
        };
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (hostport, None),
    }
}

#[cfg(test)]
mod tests {
    use super::UrlNormalisation::*;

    #[test]
    fn normalised_lowercases_drops_default_port_and_adds_root_path() {
        assert_eq!(Normalised.apply("HTTPS://Hook.Example:443"), "https://hook.example/");
        assert_eq!(Normalised.apply("http://H.example:80/A?B=C"), "http://h.example/A?B=C");
        assert_eq!(
            Normalised.apply("https://u:P@H.example:8443/x/"),
            "https://u:P@h.example:8443/x/"
        );
        assert_eq!(Normalised.apply("https://[::1]:443/x"), "https://[::1]/x");
        assert_eq!(Exact.apply("HTTPS://Hook.Example:443"), "HTTPS://Hook.Example:443");
    }

    #[test]
    fn no_trailing_slash_strips_one_slash() {
        assert_eq!(
            NormalisedNoTrailingSlash.apply("https://H.example/cb/"),
            "https://h.example/cb"
        );
        assert_eq!(
            NormalisedNoTrailingSlash.apply("https://h.example/"),
            "https://h.example"
        );
        assert_eq!(
            NormalisedNoTrailingSlash.apply("https://h.example/?a=1"),
            "https://h.example?a=1"
        );
    }
}
