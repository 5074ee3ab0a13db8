//! The edna provider's bench: an edna Pulse simulator with one fresh API key (in the Secret `creds`) whose account
//! has an active and a pending channel.

use provider_simulators::edna::{CallbackUrls, Channel, EdnaConfig, EdnaSim, EdnaSimulator};

use super::bench::{ApiKey, Bench, SecretData, SimulatedProvider};

pub type EdnaBench = Bench<EdnaSim>;

/// The active channel every bench starts with: sender name `shop_wa`, subjectId 1001.
pub const SHOP_SUBJECT: &str = "shop_wa";
pub const SHOP_SUBJECT_ID: i64 = 1001;
/// `edna:` lines for the `shop_wa` channel by id, followed by `lines` (indented by 4).
pub fn on_shop(lines: &str) -> String {
    format!("    subjectId: {SHOP_SUBJECT_ID}\n{lines}")
}

/// A channel that exists but is not active yet (channel id 2, no subjectId).
pub const LATE_SUBJECT: &str = "late_wa";
pub const LATE_CHANNEL_ID: i64 = 2;

impl SimulatedProvider for EdnaSim {
    type Credentials = ApiKey;
    const SPEC_KEY: &'static str = "edna";

    async fn start() -> (EdnaSim, ApiKey) {
        let creds = ApiKey::fresh("edna-key");
        let key = &creds.key;
        let sim = EdnaSimulator::start(EdnaConfig {
            keys: vec![key.clone()],
            channels: vec![
                (
                    key.clone(),
                    Channel::active(1, "Shop", SHOP_SUBJECT, SHOP_SUBJECT_ID, "WHATSAPP"),
                ),
                (
                    key.clone(),
                    Channel::pending(LATE_CHANNEL_ID, "Late", LATE_SUBJECT, "WHATSAPP"),
                ),
            ],
            ..EdnaConfig::default()
        })
        .await
        .expect("starting the edna simulator");
        (sim, creds)
    }

    fn secrets(&self, creds: &ApiKey) -> Vec<SecretData> {
        vec![(
            "creds",
            vec![("apiKey", creds.key.clone()), ("endpoint", self.base_url().to_string())],
        )]
    }

    fn apply_readings(&self) {
        super::readings::apply_to::<provider_simulators::edna::EdnaSwitches>(
            "edna",
            || self.switches(),
            |s| self.set_switches(s),
        );
    }
}

impl EdnaBench {
    /// What the simulator holds for the `shop_wa` channel (subjectId 1001).
    pub fn shop_urls(&self) -> Option<CallbackUrls> {
        self.sim.callback_urls(&self.creds.key, Some(SHOP_SUBJECT_ID))
    }
}
