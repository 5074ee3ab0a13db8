//! The DocStudio (envelope) provider's bench: an envelope simulator with a fresh application token (Secret `creds`)
//! and a fresh login user (Secret `login-creds`), both owning one mailbox.

use std::time::Duration;

use provider_simulators::envelope::{Callback, EnvelopeConfig, EnvelopeSim, EnvelopeSimulator, User};

use super::bench::{Bench, SecretData, SimulatedProvider};
use super::eventually;

pub type EnvelopeBench = Bench<EnvelopeSim>;

/// The mailbox every bench credential owns.
pub const MAILBOX: &str = "6f1c1e1e-0000-4000-8000-0000000000e1";
/// The envelope fields most tests use (YAML, indented by 4).
pub const PLAIN_FIELDS: &str = "    retries: 3\n    timeoutMs: 5000\n";

/// The envelope credentials: an application token, and a login with its password.
pub struct EnvelopeCreds {
    pub token: String,
    pub login: String,
    pub password: String,
}

impl SimulatedProvider for EnvelopeSim {
    type Credentials = EnvelopeCreds;
    const SPEC_KEY: &'static str = "envelope";

    async fn start() -> (EnvelopeSim, EnvelopeCreds) {
        let creds = EnvelopeCreds {
            token: format!("envelope-token-{}", uuid::Uuid::new_v4().simple()),
            login: format!("ops-{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            password: format!("login-pw-{}", uuid::Uuid::new_v4().simple()),
        };
        let sim = EnvelopeSimulator::start(EnvelopeConfig {
            tokens: vec![(creds.token.clone(), vec![MAILBOX.into()])],
            users: vec![User {
                login: creds.login.clone(),
                password: creds.password.clone(),
                mailboxes: vec![MAILBOX.into()],
            }],
            ..EnvelopeConfig::default()
        })
        .await
        .expect("starting the envelope simulator");
        (sim, creds)
    }

    fn secrets(&self, creds: &EnvelopeCreds) -> Vec<SecretData> {
        let endpoint = self.base_url().to_string();
        vec![
            (
                "creds",
                vec![("token", creds.token.clone()), ("endpoint", endpoint.clone())],
            ),
            (
                "login-creds",
                vec![
                    ("login", creds.login.clone()),
                    ("password", creds.password.clone()),
                    ("endpoint", endpoint),
                ],
            ),
        ]
    }

    fn apply_readings(&self) {
        super::readings::apply_to::<provider_simulators::envelope::EnvelopeSwitches>(
            "envelope",
            || self.switches(),
            |s| self.set_switches(s),
        );
    }
}

/// The `envelope:` block for a callback in MAILBOX to `url`, followed by `fields` (YAML, indented by 4; e.g.
/// [`PLAIN_FIELDS`]).
pub fn block(url: &str, fields: &str) -> String {
    format!("    mailbox: {MAILBOX}\n    url: {url}\n{fields}")
}

impl EnvelopeBench {
    /// The callbacks the simulator holds in MAILBOX, oldest first.
    pub fn callbacks(&self) -> Vec<Callback> {
        self.sim.callbacks(MAILBOX)
    }

    /// Waits until `name`'s status records `id`.
    pub async fn wait_recorded_id(&self, name: &str, id: &str) {
        let what = format!("{name} records callback {id}");
        eventually(&what, Duration::from_secs(30), || async {
            let recorded = self.registration_status(name).await.and_then(|r| r.id);
            (recorded.as_deref() == Some(id)).then_some(())
        })
        .await;
    }

    /// Waits until the simulator has served `more` further `callback/list` calls: resyncs happened.
    pub async fn wait_for_lists(&self, more: u64) {
        let target = self.sim.count("callback/list") + more;
        eventually("further resyncs", Duration::from_secs(60), || async {
            (self.sim.count("callback/list") >= target).then_some(())
        })
        .await;
    }
}
