//! The mail provider's bench: a Unisender Go simulator with one fresh API key, held in the Secret `creds`.

use provider_simulators::mail::{MailConfig, MailSim, MailSimulator};

use super::bench::{ApiKey, Bench, SecretData, SimulatedProvider};

pub type MailBench = Bench<MailSim>;

impl SimulatedProvider for MailSim {
    type Credentials = ApiKey;
    const SPEC_KEY: &'static str = "mail";

    async fn start() -> (MailSim, ApiKey) {
        let creds = ApiKey::fresh("mail-key");
        let sim = MailSimulator::start(MailConfig {
            keys: vec![creds.key.clone()],
            ..MailConfig::default()
        })
        .await
        .expect("starting the mail simulator");
        (sim, creds)
    }

    fn secrets(&self, creds: &ApiKey) -> Vec<SecretData> {
        vec![(
            "creds",
            vec![("apiKey", creds.key.clone()), ("endpoint", self.base_url().to_string())],
        )]
    }

    fn apply_readings(&self) {
        super::readings::apply_to::<provider_simulators::mail::MailSwitches>(
            "mail",
            || self.switches(),
            |s| self.set_switches(s),
        );
    }
}

/// The `mail:` block for a webhook to `url` (statuses delivered, hard_bounced, spam), followed by `extra` lines
/// (YAML, indented by 4).
pub fn block(url: &str, extra: &str) -> String {
    format!(
        "    url: {url}
    events:
      emailStatus: [delivered, hard_bounced, spam]
{extra}"
    )
}
