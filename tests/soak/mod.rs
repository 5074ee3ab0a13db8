//! The randomized soak (tests/soak.rs) and what the fault matrix shares with it. One job per module:
//! `model` (what the objects ask for) and `checker` (compare with snapshots) are plain code without IO;
//! `ops` generates seeded operations; `world` performs them; `quiesce` waits for rest and checks;
//! `runner` runs, prints figures and shrinks; `control_plane` is a private etcd + apiserver that may be restarted.

// Shared by several test binaries, each using a part.
#![allow(dead_code)]

pub mod checker;
pub mod control_plane;
pub mod defaults;
pub mod model;
#[cfg(test)]
mod model_tests;
pub mod ops;
pub mod quiesce;
pub mod runner;
pub mod world;
