//! callback-operator: keeps webhook/callback registrations declared as Kubernetes objects true at external providers.
#![forbid(unsafe_code)]

pub mod api;
