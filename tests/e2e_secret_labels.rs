//! Issue #12 end to end, the label opt-in mode (`--secret-label-selector`): a registration naming an unlabelled
//! Secret stalls with reason SecretNotLabelled and nothing is sent to the provider; labelling the Secret is seen by
//! the (selector-scoped) Secret watch and the registration proceeds without a resync. That the unlabelled Secret's
//! data is never requested is shown on the requests themselves in `src/controller/secrets/tests.rs`, and by the
//! chart's RBAC in this mode (no `get` on Secrets) in `tests/e2e_install.rs`.

mod support;

use support::envelope::{self, EnvelopeBench, PLAIN_FIELDS};
use support::mail::{self, MailBench};

const LABEL: &str = "callback-operator.io/credentials";

fn args() -> [&'static str; 4] {
    [
        "--resync-interval",
        "10m",
        "--secret-label-selector",
        "callback-operator.io/credentials=true",
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unlabelled_credentials_secret_stalls_until_it_is_labelled() {
    let bench = MailBench::start_with("labels-mail", &args()).await;
    let url = bench.receiver.url("/hook");
    bench.apply("orders", &mail::block(&url, ""));
    let (status, message) = bench.wait_reason("orders", "SecretNotLabelled").await;
    assert_eq!(status, "False");
    assert!(message.contains(LABEL) && message.contains("creds"), "{message}");
    assert!(bench.condition_true("orders", "Stalled").await);
    assert!(bench.sim.requests().is_empty(), "the credentials were not used");

    bench.cluster.kubectl_ok(&[
        "label",
        "secret",
        "creds",
        "-n",
        &bench.ns.name,
        &format!("{LABEL}=true"),
    ]);
    bench.wait_ready("orders");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_cannot_send_an_unlabelled_secret_as_basic_auth() {
    let bench = EnvelopeBench::start_with("labels-env", &args()).await;
    bench.cluster.kubectl_ok(&[
        "label",
        "secret",
        "creds",
        "-n",
        &bench.ns.name,
        &format!("{LABEL}=true"),
    ]);
    // Somebody else's Secret in the namespace, which the registration's author cannot read.
    bench
        .ns
        .put_secret(
            "payroll-db",
            &[("username", "payroll"), ("password", "not-for-docstudio")],
        )
        .await;
    let block = format!(
        "{}    basicAuthSecretRef:\n      name: payroll-db\n      usernameKey: username\n      passwordKey: password\n",
        envelope::block(&bench.receiver.url("/exfiltrate"), PLAIN_FIELDS)
    );
    bench.apply("exfiltrate", &block);
    let (_, message) = bench.wait_reason("exfiltrate", "SecretNotLabelled").await;
    assert!(message.contains("payroll-db"), "{message}");
    assert!(bench.sim.requests().is_empty(), "nothing was sent to DocStudio");
    assert!(!bench.operator.log().contains("not-for-docstudio"));
}
