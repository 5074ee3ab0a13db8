//! Which provider base URLs the operator may call: each provider's public default and documented hosts, plus
//! what the cluster admin allows. A namespace user writes the Secret's `endpoint`, so it is hostile input: it is
//! parsed (the `url` crate, WHATWG rules — the same parser reqwest uses) and compared component by component, never
//! as a string prefix.
//!
//! A requested endpoint is allowed when:
//! - it is an absolute `http`/`https` URL without whitespace, control characters or backslashes (the parser would
//!   silently drop or reinterpret them);
//! - it has no userinfo, no query and no fragment (not even an empty `?` or `#`);
//! - its path has no dot segment and no percent-encoded `.`, `/` or `\` (the parser resolves `..` and `%2e%2e`
//!   before anyone sees them, so they could walk out of an allowed base);
//! - an allowed base has the same scheme and the same host after normalisation (case, IDNA, IPv4 forms, IPv6
//!   forms, one trailing dot), the same port (a default port written or not is the same port; an admin entry that
//!   names no port allows any port on its host), and its path segments are a prefix of the endpoint's, compared
//!   as whole segments.
//!
//! Plain `http` is therefore allowed only where an entry says `http`. Paths appended to an endpoint go through
//! [`join`], which refuses anything that would leave the base.

use url::{Host, Url};

/// A provider's public API hosts, declared in its folder.
#[derive(Clone, Copy, Debug)]
pub struct Endpoints {
    /// The base URL used when the Secret names no `endpoint`.
    pub default: &'static str,
    /// Regional and white-label hosts the provider documents: allowed without configuration.
    pub regional: &'static [&'static str],
}

/// The admin's allow-list (`--allowed-endpoints`), on top of the public defaults.
#[derive(Clone, Debug, Default)]
pub struct EndpointPolicy {
    allowed: Vec<Base>,
}

/// Why an endpoint was refused. `endpoint` is a display form without userinfo, query or fragment.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "endpoint {endpoint} is not allowed for {provider}: {why}; the cluster admin can allow a base URL with --allowed-endpoints"
)]
pub struct EndpointNotAllowed {
    pub provider: &'static str,
    pub endpoint: String,
    pub why: String,
}

/// An allowed base URL, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Base {
    scheme: String,
    host: String,
    /// `None`: any port (an admin entry naming no port).
    port: Option<u16>,
    segments: Vec<String>,
}

/// A requested endpoint, parsed and checked for the forms that are never allowed.
struct Target {
    url: Url,
    host: String,
    port: u16,
    segments: Vec<String>,
}

impl EndpointPolicy {
    /// The policy from the admin's entries; an entry that is not a plain base URL is an error (at start-up).
    pub fn parse(entries: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let base = Base::parse(entry, true)
                .map_err(|why| format!("--allowed-endpoints entry {:?} is not a base URL: {why}", shown(entry)))?;
            allowed.push(base);
        }
        Ok(Self { allowed })
    }

    /// Like [`parse`](Self::parse), panicking on a bad entry (tests).
    #[cfg(test)]
    pub fn new(entries: impl IntoIterator<Item = String>) -> Self {
        Self::parse(entries).expect("valid --allowed-endpoints entries")
    }

    /// The endpoint to call: the Secret's `endpoint` (normalised, without a trailing slash) when allowed, else the
    /// provider's default.
    pub fn resolve(
        &self,
        provider: &'static str,
        endpoints: &Endpoints,
        requested: Option<&str>,
    ) -> Result<String, EndpointNotAllowed> {
        let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(endpoints.default.to_string());
        };
        let refuse = |endpoint: String, why: &str| EndpointNotAllowed {
            provider,
            endpoint,
            why: why.to_string(),
        };
        let target = Target::parse(requested).map_err(|why| refuse(shown(requested), why))?;
        let public = std::iter::once(endpoints.default)
            .chain(endpoints.regional.iter().copied())
            .filter_map(|b| Base::parse(b, false).ok());
        let admitted = public
            .chain(self.allowed.iter().cloned())
            .any(|base| base.admits(&target));
        if admitted {
            Ok(target.normalised())
        } else {
            Err(refuse(
                target.normalised(),
                "no allowed base URL has this scheme, host, port and path",
            ))
        }
    }
}

impl Base {
    /// `any_port`: an entry that names no port allows every port on its host (admin entries); public defaults
    /// are exact.
    fn parse(raw: &str, any_port: bool) -> Result<Base, &'static str> {
        let target = Target::parse(raw)?;
        let port = if any_port && !names_port(raw) {
            None
        } else {
            Some(target.port)
        };
        Ok(Base {
            scheme: target.url.scheme().to_string(),
            host: target.host,
            port,
            segments: target.segments,
        })
    }

    fn admits(&self, target: &Target) -> bool {
        self.scheme == target.url.scheme()
            && self.host == target.host
            && self.port.is_none_or(|p| p == target.port)
            && target.segments.starts_with(&self.segments)
    }
}

impl Target {
    fn parse(raw: &str) -> Result<Target, &'static str> {
        if raw.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
            return Err("whitespace, control characters and backslashes are not allowed");
        }
        let url = Url::parse(raw).map_err(|_| "not an absolute URL")?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("only http and https are allowed");
        }
        // `http:host` and `http:///host` parse too (the parser repairs them); only the plain form is accepted.
        let plain_form = raw
            .split_once("://")
            .is_some_and(|(scheme, rest)| scheme.eq_ignore_ascii_case(url.scheme()) && !rest.starts_with('/'));
        if !plain_form || authority(raw).is_empty() {
            return Err("not an absolute URL of the form scheme://host/path");
        }
        if !url.username().is_empty() || url.password().is_some() || authority(raw).contains('@') {
            return Err("userinfo (user:password@) is not allowed");
        }
        if raw.contains('?') {
            return Err("a query is not allowed");
        }
        if raw.contains('#') {
            return Err("a fragment is not allowed");
        }
        let path = raw_path(raw);
        let lower = path.to_ascii_lowercase();
        if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) {
            return Err("percent-encoded '.', '/' or '\\' is not allowed in the path");
        }
        if path.split('/').any(|s| s == "." || s == "..") {
            return Err("dot segments are not allowed in the path");
        }
        let host = host_key(&url).ok_or("no host")?;
        let port = url.port_or_known_default().ok_or("no port")?;
        let mut segments: Vec<String> = url
            .path_segments()
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        while segments.last().is_some_and(String::is_empty) {
            segments.pop();
        }
        Ok(Target {
            url,
            host,
            port,
            segments,
        })
    }

    /// `scheme://host[:port]/path` without a trailing slash (the parser's serialisation: lower-case host, default
    /// port dropped).
    fn normalised(&self) -> String {
        let mut url = self.url.clone();
        let path = format!("/{}", self.segments.join("/"));
        url.set_path(&path);
        url.as_str().trim_end_matches('/').to_string()
    }
}

/// Appends `path` (relative, `/`-separated, already escaped) to `base`; refuses a path that could leave the base
/// (dot segments, encoded separators, a query or fragment) and checks the result is still under the base.
pub fn join(base: &str, path: &str) -> Result<Url, String> {
    let bad = path.starts_with('/')
        || path
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '\\' | '?' | '#'))
        || path.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || ["%2e", "%2f", "%5c"]
            .iter()
            .any(|e| path.to_ascii_lowercase().contains(e));
    if bad {
        return Err(format!("the path {:?} would leave the endpoint", shown(path)));
    }
    let base_url = Url::parse(base).map_err(|_| "the endpoint is not a URL".to_string())?;
    let joined = Url::parse(&format!("{}/{path}", base.trim_end_matches('/')))
        .map_err(|_| "the endpoint and path do not make a URL".to_string())?;
    let base_path = base_url.path().trim_end_matches('/');
    let under = joined.origin() == base_url.origin()
        && joined.path().starts_with(&format!("{base_path}/"))
        && joined.query().is_none()
        && joined.username().is_empty();
    if under {
        Ok(joined)
    } else {
        Err(format!("the path {:?} would leave the endpoint", shown(path)))
    }
}

/// The host as compared: the parser's form (lower case, IDNA, canonical IPv4 and IPv6), one trailing dot dropped.
fn host_key(url: &Url) -> Option<String> {
    Some(match url.host()? {
        Host::Domain(domain) => domain.strip_suffix('.').unwrap_or(domain).to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => format!("[{ip}]"),
    })
}

/// The authority of a raw URL: between `//` and the first `/`, `?` or `#`.
fn authority(raw: &str) -> &str {
    let rest = raw.split_once("//").map(|(_, r)| r).unwrap_or("");
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The raw path: after the authority, up to `?` or `#`.
fn raw_path(raw: &str) -> &str {
    let rest = raw.split_once("//").map(|(_, r)| r).unwrap_or(raw);
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
    path.split(['?', '#']).next().unwrap_or("")
}

/// Whether a raw URL writes a port (`host:443` names the default port explicitly; the parser would drop it).
fn names_port(raw: &str) -> bool {
    let host_port = authority(raw).rsplit('@').next().unwrap_or("");
    let after_host = match host_port.rfind(']') {
        Some(i) => &host_port[i + 1..],
        None => host_port,
    };
    after_host
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

/// What a refusal may show of a hostile string: scheme, host, port and path only (userinfo, query and fragment
/// can carry credentials), at most 200 characters; an unparseable string is not echoed.
pub fn shown(raw: &str) -> String {
    let text = match Url::parse(raw) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) if !raw.contains("://") => raw.to_string(),
        Err(_) => return "(an unparseable URL)".to_string(),
    };
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    super::redact::cap(&clean, 200)
}

#[cfg(test)]
mod property;
#[cfg(test)]
mod tests;
