//! `callback-operator import`: lists what a provider account holds and prints one CallbackRegistration per webhook
//! — stable names, the credentials reference filled in, `managementPolicy: Observe` unless `--full` — ready to
//! commit. Applied as printed (observe-only), the operator adopts each object and writes nothing. edna cannot be
//! listed: the command says so and prints a template.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use anyhow::Context as _;

use super::{connect, split_key};
use crate::api::{CallbackRegistration, ManagementPolicy};
use crate::cli::ImportArgs;
use crate::controller::NamespaceSecrets;
use crate::providers::{
    Account, AccountError, EndpointPolicy, Import, ImportScope, Imported, NamedTask, Provider, Providers, SecretValues,
    redact,
};

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let tools = connect(&args.tools).await?;
    let (namespace, secret) = split_key(&args.secret)?;
    let (values, _) = NamespaceSecrets::new(tools.client.clone(), &namespace, None)
        .read(&secret)
        .await?
        .with_context(|| format!("Secret {namespace}/{secret} does not exist"))?;
    let task = ImportTask {
        secret: &secret,
        values: &values,
        endpoints: &tools.endpoints,
        scope: ImportScope {
            mailbox: args.mailbox.clone(),
        },
    };
    let found = tools
        .providers
        .dispatch_named(&args.provider, task)
        .with_context(|| format!("unknown provider {:?}: {}", args.provider, Providers::NAMES.join(", ")))?
        .await?;
    let policy = (!args.full).then_some(ManagementPolicy::Observe);
    match found {
        Import::Found(imported) => {
            eprintln!("{} registration(s) found", imported.len());
            print!("{}", manifests(&namespace, &imported, policy)?);
        }
        Import::Unreadable { why, template } => {
            eprintln!("{why}: nothing to import; printing a template to fill in");
            print!("{}", manifests(&namespace, &[template], None)?);
        }
    }
    Ok(())
}

struct ImportTask<'a> {
    secret: &'a str,
    values: &'a SecretValues,
    endpoints: &'a EndpointPolicy,
    scope: ImportScope,
}

impl<'a> NamedTask<'a> for ImportTask<'a> {
    type Output = Pin<Box<dyn Future<Output = anyhow::Result<Import>> + Send + 'a>>;
    fn run<P: Provider>(self, provider: &'a P) -> Self::Output {
        Box::pin(async move {
            let account = Account::<P::Credentials>::from_secret::<P>(self.secret, self.values, self.endpoints)
                .map_err(|err| match err {
                    AccountError::Incomplete(message) => anyhow::anyhow!("{message}"),
                    AccountError::EndpointNotAllowed(err) => {
                        anyhow::anyhow!("{err} (allow it with --allowed-endpoints, as the operator does)")
                    }
                })?;
            provider
                .import(&account, self.secret, &self.scope)
                .await
                .map_err(|err| anyhow::anyhow!("{}: {}", P::LABEL, redact(&err.to_string(), &account.secrets())))
        })
    }
}

/// The YAML stream: one document per object, its notes as comments above it. A name derived twice (two callbacks
/// with one identity, which the operator treats as one registration and its duplicate) is printed once. Pure.
pub fn manifests(namespace: &str, imported: &[Imported], policy: Option<ManagementPolicy>) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    for item in imported {
        if !seen.insert(item.name.clone()) {
            out.push_str(&format!(
                "# {} appears twice at the provider (a duplicate of one identity): imported once\n",
                item.name
            ));
            continue;
        }
        let mut obj = CallbackRegistration::new(&item.name, item.spec.clone());
        obj.metadata.namespace = Some(namespace.to_string());
        obj.spec.management_policy = policy;
        out.push_str("---\n");
        for note in &item.notes {
            out.push_str(&format!("# {note}\n"));
        }
        out.push_str(&serde_yaml::to_string(&obj)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CallbackRegistrationSpec, CredentialsRef, EmailStatus, MailEvents, MailSpec};

    fn imported(name: &str, url: &str) -> Imported {
        Imported {
            name: name.into(),
            spec: CallbackRegistrationSpec {
                credentials_ref: CredentialsRef { name: "creds".into() },
                deletion_policy: None,
                management_policy: None,
                suspend: None,
                resync_interval: None,
                edna: None,
                mail: Some(Box::new(MailSpec {
                    url: url.into(),
                    status: None,
                    event_format: None,
                    delivery_info: None,
                    single_event: None,
                    max_parallel: None,
                    events: MailEvents {
                        email_status: vec![EmailStatus::Delivered],
                        spam_block: None,
                    },
                })),
                envelope: None,
            },
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn each_object_is_one_document_observe_only_with_its_notes_and_no_status() {
        let yaml = manifests(
            "shop",
            &[imported("mail-a", "https://a"), imported("mail-b", "https://b")],
            Some(ManagementPolicy::Observe),
        )
        .unwrap();
        let docs: Vec<CallbackRegistration> = serde_yaml::Deserializer::from_str(&yaml)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(docs[1].spec.management_policy, Some(ManagementPolicy::Observe));
        assert!(yaml.contains("# a note\n"));
        assert!(!yaml.contains("status:"), "{yaml}");
        let full = manifests("shop", &[imported("mail-a", "https://a")], None).unwrap();
        assert!(!full.contains("managementPolicy"), "{full}");
    }

    #[test]
    fn a_name_derived_twice_is_printed_once() {
        let yaml = manifests(
            "shop",
            &[imported("mail-a", "https://a"), imported("mail-a", "https://a")],
            None,
        )
        .unwrap();
        assert_eq!(yaml.matches("kind: CallbackRegistration").count(), 1);
    }
}
