//! The one place that knows which providers exist: `register_providers!` (invoked in `providers/mod.rs`) declares
//! each provider's module and builds `Providers` and its dispatch from one list.

use crate::api::{CallbackRegistrationSpec, Registration};

use super::{Provider, Providers};

/// Work to do with whichever provider a spec targets; the provider's type is known inside `run`.
pub trait ProviderTask<'a> {
    type Output;
    fn run<P: Provider>(self, provider: &'a P, block: &'a P::Spec) -> Self::Output;
}

/// Work to do with the provider of a given name (`callback-operator import --provider mail`).
pub trait NamedTask<'a> {
    type Output;
    fn run<P: Provider>(self, provider: &'a P) -> Self::Output;
}

/// Declares the provider modules, `Providers` (one client each) and `Providers::dispatch`.
macro_rules! register_providers {
    ($($field:ident: $module:ident::$provider:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// Every provider's client, built once and shared by all reconciliations.
        #[derive(Clone)]
        pub struct Providers {
            $($field: $module::$provider,)+
        }

        impl Providers {
            /// Every provider's name, in registration order.
            pub const NAMES: &'static [&'static str] = &[$(<$module::$provider as Provider>::NAME),+];

            pub fn new(options: &ProviderOptions) -> Self {
                Self { $($field: <$module::$provider as Provider>::new(options),)+ }
            }

            /// The provider's name for `spec` (`mail`), if exactly one block is set. Needs no client: the
            /// controller's cache records it as each object arrives.
            pub fn name_for(spec: &CallbackRegistrationSpec) -> Option<&'static str> {
                let blocks = [$((<$module::$provider as Provider>::block(spec).is_some(), <$module::$provider as Provider>::NAME)),+];
                let mut set = blocks.iter().filter(|(is_set, _)| *is_set).map(|(_, name)| *name);
                match (set.next(), set.next()) {
                    (Some(name), None) => Some(name),
                    _ => None,
                }
            }

            /// Runs `task` with the provider whose block `spec` holds. `None` when not exactly one block is set
            /// (only an object that bypassed the schema's CEL rule).
            pub fn dispatch<'a, T: ProviderTask<'a>>(
                &'a self,
                spec: &'a CallbackRegistrationSpec,
                task: T,
            ) -> Option<T::Output> {
                let set = [$(<$module::$provider as Provider>::block(spec).is_some()),+];
                if set.iter().filter(|is_set| **is_set).count() != 1 {
                    return None;
                }
                $(
                    if let Some(block) = <$module::$provider as Provider>::block(spec) {
                        return Some(task.run(&self.$field, block));
                    }
                )+
                None
            }

            /// Runs `task` with the provider called `name` (`Provider::NAME`); `None` for an unknown name.
            pub fn dispatch_named<'a, T: NamedTask<'a>>(&'a self, name: &str, task: T) -> Option<T::Output> {
                $(
                    if name == <$module::$provider as Provider>::NAME {
                        return Some(task.run(&self.$field));
                    }
                )+
                None
            }
        }
    };
}
pub(crate) use register_providers;

impl Providers {
    /// The provider-side identities `spec` claims.
    pub fn claims_of(&self, spec: &CallbackRegistrationSpec) -> Vec<String> {
        self.dispatch(spec, Claims).unwrap_or_default()
    }

    /// Whether `spec`'s provider shares its identities across accounts ([`Provider::IDENTITY_SPANS_ACCOUNTS`]).
    pub fn identity_spans_accounts(&self, spec: &CallbackRegistrationSpec) -> bool {
        self.dispatch(spec, SpansAccounts).unwrap_or_default()
    }

    /// What a recorded `registration` of `spec`'s provider still holds ([`Provider::held_claims`]).
    pub fn held_claims_of(&self, spec: &CallbackRegistrationSpec, registration: &Registration) -> Vec<String> {
        self.dispatch(spec, HeldClaims(registration)).unwrap_or_default()
    }

    /// Every Secret `spec` reads: the credentials and whatever its provider block references.
    pub fn secrets_of(&self, spec: &CallbackRegistrationSpec) -> Vec<String> {
        let mut secrets = vec![spec.credentials_ref.name.clone()];
        secrets.extend(self.dispatch(spec, ReferencedSecrets).unwrap_or_default());
        secrets
    }
}

struct Claims;
impl<'a> ProviderTask<'a> for Claims {
    type Output = Vec<String>;
    fn run<P: Provider>(self, _: &'a P, block: &'a P::Spec) -> Vec<String> {
        P::claims(block)
    }
}

struct SpansAccounts;
impl<'a> ProviderTask<'a> for SpansAccounts {
    type Output = bool;
    fn run<P: Provider>(self, _: &'a P, _: &'a P::Spec) -> bool {
        P::IDENTITY_SPANS_ACCOUNTS
    }
}

struct HeldClaims<'r>(&'r Registration);
impl<'a> ProviderTask<'a> for HeldClaims<'_> {
    type Output = Vec<String>;
    fn run<P: Provider>(self, _: &'a P, _: &'a P::Spec) -> Vec<String> {
        P::held_claims(self.0)
    }
}

struct ReferencedSecrets;
impl<'a> ProviderTask<'a> for ReferencedSecrets {
    type Output = Vec<String>;
    fn run<P: Provider>(self, _: &'a P, block: &'a P::Spec) -> Vec<String> {
        P::referenced_secrets(block)
    }
}
