//! Loopback simulators of the three providers' webhook/callback APIs, following the contracts in
//! `shared/providers/` (`mail.md`, `edna.md`, `envelope.md`).
//!
//! Each simulator is a real HTTP server on `127.0.0.1`, started in-process (tests) or by the
//! `provider-simulators` binary (demo). Every simulator also serves an admin API under `/_sim/`:
//! `GET /_sim/state`, `GET /_sim/requests`, `GET|POST /_sim/faults`, `POST /_sim/faults/clear`,
//! `POST /_sim/reset-requests`, `POST /_sim/latency`, `POST /_sim/switches`.
//!
//! Where a contract is silent or ambiguous, each reading is a switch (`MailSwitches`,
//! `EdnaSwitches`, `EnvelopeSwitches`); hostile provider answers (redirects, huge or slow bodies,
//! non-JSON, echoed secrets) are [`Fault`]s; [`common::CountingListener`] is a bystander host that
//! proves nothing reached it. The crate README has the tables.

pub mod common;
pub mod edna;
pub mod envelope;
pub mod mail;

pub use common::{CountingListener, Fault, Receiver, RequestRecord, SecretForm};
