//! callback-operator: keeps webhook/callback registrations declared as Kubernetes objects true at external providers.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod controller;
pub mod leader;
pub mod operator;
pub mod providers;
pub mod server;
pub mod telemetry;
