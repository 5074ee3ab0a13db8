use super::*;
use crate::providers::Provider;
use crate::providers::edna::EdnaProvider;
use crate::providers::envelope::EnvelopeProvider;
use crate::providers::mail::MailProvider;

fn policy(entries: &[&str]) -> EndpointPolicy {
    EndpointPolicy::new(entries.iter().map(|e| e.to_string()))
}

fn mail(policy: &EndpointPolicy, endpoint: &str) -> Result<String, EndpointNotAllowed> {
    policy.resolve("mail", &MailProvider::ENDPOINTS, Some(endpoint))
}

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
    assert!(mail(&policy, "https://go2.unisender.ru/ru/transactional/api/v1/").is_ok());
    assert!(mail(&policy, "https://GO2.unisender.ru./ru/transactional/api/v1").is_ok());
    assert!(mail(&policy, "https://go2.unisender.ru:443/ru/transactional/api/v1").is_ok());
    assert!(
        policy
            .resolve(
                "envelope",
                &EnvelopeProvider::ENDPOINTS,
                Some("https://api.whitedoc.ua")
            )
            .is_ok()
    );
    // A public host's default port only, and https only.
    assert!(mail(&policy, "https://go2.unisender.ru:8443/ru/transactional/api/v1").is_err());
    assert!(mail(&policy, "http://go2.unisender.ru/ru/transactional/api/v1").is_err());
}

#[test]
fn unlisted_hosts_are_refused() {
    let policy = policy(&["http://127.0.0.1:8080"]);
    let err = mail(&policy, "https://evil.example/api").unwrap_err();
    assert_eq!(err.endpoint, "https://evil.example/api");
    assert!(mail(&policy, "http://127.0.0.1:80801").is_err());
}

#[test]
fn allowed_bases_match_whole_path_segments() {
    let policy = policy(&["http://127.0.0.1:8080/ru/"]);
    assert_eq!(
        mail(&policy, "http://127.0.0.1:8080/ru/transactional/api/v1").unwrap(),
        "http://127.0.0.1:8080/ru/transactional/api/v1"
    );
    assert!(mail(&policy, "http://127.0.0.1:8080/ru").is_ok());
    assert!(mail(&policy, "http://127.0.0.1:8080/rux/api").is_err());
    assert!(mail(&policy, "http://127.0.0.1:8080/").is_err());
}

#[test]
fn a_host_only_entry_allows_any_port_on_that_host_and_nothing_else() {
    let policy = policy(&["http://127.0.0.1"]);
    assert!(mail(&policy, "http://127.0.0.1:44881/ru/transactional/api/v1").is_ok());
    assert!(mail(&policy, "http://127.0.0.10:1/x").is_err());
    assert!(mail(&policy, "http://127.0.0.1.evil.example/x").is_err());
    assert!(
        mail(&policy, "https://127.0.0.1:44881/x").is_err(),
        "http entry, https asked"
    );
}

#[test]
fn the_reported_userinfo_bypass_is_refused_and_the_password_not_shown() {
    let policy = policy(&["http://127.0.0.1"]);
    let err = mail(&policy, "http://127.0.0.1:x@127.0.0.2:9999/ru/transactional/api/v1").unwrap_err();
    assert!(err.why.contains("userinfo"), "{err}");
    assert!(!err.to_string().contains("127.0.0.1:x"), "{err}");
    assert!(err.to_string().contains("127.0.0.2"), "{err}");
    for sneaky in [
        "http://127.0.0.1@127.0.0.2/",
        "http://@127.0.0.1/",
        "http://127.0.0.1:1/x?redirect=http://127.0.0.2",
        "http://127.0.0.1:1/x#frag",
        "http://127.0.0.1:1/x?",
        "http://127.0.0.1:1/ru/../../x",
        "http://127.0.0.1:1/ru/%2e%2e/x",
        "http://127.0.0.1:1/ru/.%2E/x",
        "http://127.0.0.1:1/ru%2fx",
        "http://127.0.0.1:1\\@127.0.0.2/",
        "http://127.0.0.1:1/x\ty",
        "http:127.0.0.1/x",
        "http:///127.0.0.1/x",
        "ftp://127.0.0.1/x",
    ] {
        assert!(mail(&policy, sneaky).is_err(), "{sneaky} must be refused");
    }
}

#[test]
fn hosts_are_compared_after_normalisation() {
    let policy = policy(&["http://127.0.0.1", "https://API.Example.com./v1", "http://[::1]:8080"]);
    assert!(
        mail(&policy, "https://api.example.com:444/v1").is_ok(),
        "an entry without a port allows any"
    );
    for same in [
        "http://127.0.0.1.:5/x",
        "http://2130706433:5/x",
        "http://0x7f.0.0.1:5/x",
        "http://127.1:5/x",
        "https://api.example.com/v1",
        "https://api.EXAMPLE.com:443/v1/x",
        "http://[0:0:0:0:0:0:0:1]:8080/",
    ] {
        assert!(mail(&policy, same).is_ok(), "{same} names an allowed base");
    }
    for other in [
        "http://[::ffff:127.0.0.1]:5/x",
        "https://api.example.com../v1",
        "http://[::1]:8081/",
        "http://[::1]/",
    ] {
        assert!(mail(&policy, other).is_err(), "{other} is another host or port");
    }
}

#[test]
fn bad_entries_fail_at_start_up() {
    for entry in [
        "127.0.0.1",
        "http://u:p@h",
        "http://h/x?y",
        "http://h/../x",
        "file:///x",
    ] {
        assert!(EndpointPolicy::parse([entry.to_string()]).is_err(), "{entry}");
    }
    let err = EndpointPolicy::parse(["http://u:secretpw@h".to_string()]).unwrap_err();
    assert!(!err.contains("secretpw"), "{err}");
}

#[test]
fn joined_paths_never_leave_the_base() {
    let base = "http://127.0.0.1:9/api/v1";
    assert_eq!(
        join(base, "webhook/set.json").unwrap().as_str(),
        "http://127.0.0.1:9/api/v1/webhook/set.json"
    );
    for bad in [
        "../x",
        "a/../../x",
        "/x",
        "a//b",
        "a/%2e%2e/b",
        "a?b",
        "a#b",
        "a\\b",
        ".",
        "a/./b",
        "%2F",
    ] {
        assert!(join(base, bad).is_err(), "{bad}");
    }
}

#[test]
fn shown_drops_userinfo_query_and_fragment() {
    assert_eq!(shown("https://u:p@h.example/x?token=t#f"), "https://h.example/x");
    assert_eq!(shown("http://[::"), "(an unparseable URL)");
}
