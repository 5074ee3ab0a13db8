//! Shared plumbing of the simulators: request log, fault injection (including hostile answers),
//! latency, serving on loopback, the HTTPS webhook [`Receiver`], the bystander
//! [`CountingListener`], URL normalisation and the outbound probe client.

mod core;
mod counting;
mod fault;
mod log;
mod middleware;
mod probe;
mod receiver;
mod secret;
mod server;
mod stream;
mod url_form;

pub use self::core::{Classified, Classifier, HANG_LIMIT, MAX_BODY, RequestView, SecretEcho, SimCore};
pub(crate) use self::core::{header_str, lock};
pub use counting::{CountingListener, SeenRequest};
pub use fault::Fault;
pub use log::{LOG_CAPACITY, RequestRecord};
pub use middleware::sim_middleware;
pub use probe::{install_crypto_provider, probe, probe_client};
pub use receiver::{Hit, Receiver};
pub use secret::{DEFAULT_TRUNCATION_OFFSET, SecretForm};
pub use server::{ConnInfo, KillSwitch, KillableIo, KillableListener, Server, Shutdown, serve, serve_at};
pub use url_form::UrlNormalisation;

/// Adds the shared test-handle methods (address, shutdown, log, faults, latency) to a simulator handle that has
/// `core: Arc<SimCore>`, `server: Arc<Server>` and `base_url: String` fields.
macro_rules! impl_sim_controls {
    ($ty:ty) => {
        impl $ty {
            /// The API base URL on 127.0.0.1, without a trailing slash (what a credential Secret's `endpoint` names).
            pub fn base_url(&self) -> &str {
                &self.base_url
            }
            /// The bound address.
            pub fn addr(&self) -> std::net::SocketAddr {
                self.server.addr()
            }
            /// Stop serving now (other clones become inert).
            pub fn shutdown(&self) {
                self.core.shutdown_signal().trigger();
            }
            /// All recorded API calls, oldest first.
            pub fn requests(&self) -> Vec<$crate::common::RequestRecord> {
                self.core.requests()
            }
            /// Number of calls of `op` since start or the last `clear_requests`.
            pub fn count(&self, op: &str) -> u64 {
                self.core.count(op)
            }
            /// Number of calls of `op` that arrived, answered or not: more than `count` while one is in flight.
            pub fn arrived(&self, op: &str) -> u64 {
                self.core.arrived(op)
            }
            /// Number of calls of `op` made with `credential`.
            pub fn count_for(&self, credential: &str, op: &str) -> u64 {
                self.core.count_for(credential, op)
            }
            /// Forget recorded calls and counters.
            pub fn clear_requests(&self) {
                self.core.clear_requests()
            }
            /// Queue `fault` for the next `times` calls of any op.
            pub fn inject(&self, fault: $crate::common::Fault, times: u32) {
                self.core.inject(fault, times)
            }
            /// Queue `fault` for the next `times` calls of `op` only.
            pub fn inject_for(&self, op: &str, fault: $crate::common::Fault, times: u32) {
                self.core.inject_for(op, fault, times)
            }
            /// Bytes of generated (huge or dripped) bodies written so far.
            pub fn streamed_bytes(&self) -> u64 {
                self.core.streamed_bytes()
            }
            /// Drop pending faults.
            pub fn clear_faults(&self) {
                self.core.clear_faults()
            }
            /// Delay every API call by `latency`.
            pub fn set_latency(&self, latency: std::time::Duration) {
                self.core.set_latency(latency)
            }
            /// The shared core (log, faults, latency).
            pub fn core(&self) -> &std::sync::Arc<$crate::common::SimCore> {
                &self.core
            }
        }
    };
}
pub(crate) use impl_sim_controls;
