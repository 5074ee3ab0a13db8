//! Which provider base URLs the operator may call: each provider's public default and documented hosts, plus
//! what the cluster admin allows. A namespace user cannot steer the operator (and the credentials in their Secret)
//! at arbitrary hosts.

/// A provider's public API hosts, declared in its folder.
#[derive(Clone, Copy, Debug)]
pub struct Endpoints {
    /// The base URL used when the Secret names no `endpoint`.
    pub default: &'static str,
    /// Regional and white-label hosts the provider documents: allowed without configuration.
    pub regional: &'static [&'static str],
}

/// The admin's allow-list of URL prefixes (`--allowed-endpoints`), on top of the public defaults.
#[derive(Clone, Debug, Default)]
pub struct EndpointPolicy {
    allowed_prefixes: Vec<String>,
}

/// Why an endpoint was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("endpoint {endpoint} is not allowed for {provider}; the cluster admin can allow it with --allowed-endpoints")]
pub struct EndpointNotAllowed {
    pub provider: &'static str,
    pub endpoint: String,
}

impl EndpointPolicy {
    pub fn new(prefixes: impl IntoIterator<Item = String>) -> Self {
        let allowed_prefixes = prefixes
            .into_iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        Self { allowed_prefixes }
    }

    /// The endpoint to call: the Secret's `endpoint` when allowed, else the provider's default.
    pub fn resolve(
        &self,
        provider: &'static str,
        endpoints: &Endpoints,
        requested: Option<&str>,
    ) -> Result<String, EndpointNotAllowed> {
        let default = endpoints.default;
        let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(default.to_string());
        };
        let normalised = requested.trim_end_matches('/');
        let allowed = normalised == default
            || endpoints.regional.contains(&normalised)
            || self.allowed_prefixes.iter().any(|p| prefix_matches(p, normalised));
        if allowed {
            Ok(normalised.to_string())
        } else {
            Err(EndpointNotAllowed {
                provider,
                endpoint: normalised.to_string(),
            })
        }
    }
}

/// A prefix matches at a boundary only: `http://127.0.0.1:80` must not allow `http://127.0.0.1:8080`, while a
/// prefix naming just a host (`http://127.0.0.1`) allows any port on it.
fn prefix_matches(prefix: &str, endpoint: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if endpoint == prefix {
        return true;
    }
    let Some(rest) = endpoint.strip_prefix(prefix) else {
        return false;
    };
    let host_only = prefix
        .split_once("://")
        .is_some_and(|(_, authority)| !authority.contains(['/', ':']));
    rest.starts_with('/') || (host_only && rest.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Provider;
    use crate::providers::edna::EdnaProvider;
    use crate::providers::envelope::EnvelopeProvider;
    use crate::providers::mail::MailProvider;

    #[test]
    fn absent_endpoint_means_the_public_default() {
        let policy = EndpointPolicy::default();
        assert_eq!(
            policy.resolve("edna", &EdnaProvider::ENDPOINTS, None).unwrap(),
            "https://app.edna.io"
        );
        assert_eq!(
            policy.resolve("mail", &MailProvider::ENDPOINTS, Some(" ")).unwrap(),
            MailProvider::ENDPOINTS.default
        );
    }

    #[test]
    fn regional_hosts_are_allowed_without_configuration() {
        let policy = EndpointPolicy::default();
        assert!(
            policy
                .resolve(
                    "mail",
                    &MailProvider::ENDPOINTS,
                    Some("https://go2.unisender.ru/ru/transactional/api/v1/")
                )
                .is_ok()
        );
        assert!(
            policy
                .resolve(
                    "envelope",
                    &EnvelopeProvider::ENDPOINTS,
                    Some("https://api.whitedoc.ua")
                )
                .is_ok()
        );
    }

    #[test]
    fn unlisted_hosts_are_refused() {
        let policy = EndpointPolicy::new(["http://127.0.0.1:8080".to_string()]);
        let err = policy
            .resolve("mail", &MailProvider::ENDPOINTS, Some("https://evil.example/api"))
            .unwrap_err();
        assert_eq!(err.endpoint, "https://evil.example/api");
        assert!(
            policy
                .resolve("mail", &MailProvider::ENDPOINTS, Some("http://127.0.0.1:80801"))
                .is_err()
        );
    }

    #[test]
    fn allowed_prefixes_match_at_a_path_boundary() {
        let policy = EndpointPolicy::new(["http://127.0.0.1:8080/".to_string()]);
        assert_eq!(
            policy
                .resolve(
                    "mail",
                    &MailProvider::ENDPOINTS,
                    Some("http://127.0.0.1:8080/ru/transactional/api/v1")
                )
                .unwrap(),
            "http://127.0.0.1:8080/ru/transactional/api/v1"
        );
        assert!(
            policy
                .resolve("edna", &EdnaProvider::ENDPOINTS, Some("http://127.0.0.1:8080"))
                .is_ok()
        );
    }

    #[test]
    fn a_host_only_prefix_allows_any_port_on_that_host() {
        let policy = EndpointPolicy::new(["http://127.0.0.1".to_string()]);
        assert!(
            policy
                .resolve(
                    "mail",
                    &MailProvider::ENDPOINTS,
                    Some("http://127.0.0.1:44881/ru/transactional/api/v1")
                )
                .is_ok()
        );
        assert!(
            policy
                .resolve("mail", &MailProvider::ENDPOINTS, Some("http://127.0.0.10:1/x"))
                .is_err()
        );
        assert!(
            policy
                .resolve(
                    "mail",
                    &MailProvider::ENDPOINTS,
                    Some("http://127.0.0.1.evil.example/x")
                )
                .is_err()
        );
    }
}
