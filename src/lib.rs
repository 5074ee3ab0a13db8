//! callback-operator: keeps webhook/callback registrations declared as Kubernetes objects true at external providers.
//! The binary (`main.rs`) uses `cli` and `operator`; the end-to-end tests use `api`. Everything else is private.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod commands;
mod controller;
mod fingerprint_key;
mod leader;
pub mod operator;
mod providers;
mod server;
mod startup;
mod telemetry;
