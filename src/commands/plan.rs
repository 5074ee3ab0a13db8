//! `callback-operator plan`: what the operator would do for one registration, from a real read of the provider and
//! the same gates and ownership rule the controller applies; no provider write. The exit code gates CI: 0 nothing
//! pending, 2 provider changes pending, 1 an error or an object the operator would not apply (a conflict with an
//! older object, a missing Secret, an invalid spec).

use std::fmt::Write as _;
use std::io::Read as _;

use anyhow::Context as _;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use super::{connect, split_key};
use crate::api::{CallbackRegistration, Reason};
use crate::cli::PlanArgs;
use crate::controller::{Preview, preview};
use crate::providers::Intent;

/// Exit codes.
pub const NOTHING_PENDING: i32 = 0;
pub const NOT_APPLICABLE: i32 = 1;
pub const CHANGES_PENDING: i32 = 2;

pub async fn plan(args: PlanArgs) -> anyhow::Result<i32> {
    let tools = connect(&args.tools).await?;
    let obj = object(&tools.client, &args).await?;
    let others = registrations(&tools.client, &obj.namespace().unwrap_or_default()).await?;
    let preview = preview(&tools.providers, tools.client.clone(), &obj, &others, &tools.endpoints).await?;
    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    let (text, code) = render(&key, &preview);
    print!("{text}");
    Ok(code)
}

/// The object to judge: the manifest's spec on the live object's metadata and status when it exists (what was
/// applied before, its age for ownership), else the manifest as a new object.
async fn object(client: &kube::Client, args: &PlanArgs) -> anyhow::Result<CallbackRegistration> {
    if let Some(key) = &args.object {
        let (namespace, name) = split_key(key)?;
        let api: Api<CallbackRegistration> = Api::namespaced(client.clone(), &namespace);
        return api
            .get_opt(&name)
            .await?
            .with_context(|| format!("CallbackRegistration {namespace}/{name} does not exist"));
    }
    let file = args.file.as_ref().expect("clap requires a file or an object");
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let mut manifest: CallbackRegistration =
        serde_yaml::from_str(&text).with_context(|| format!("{} is not one CallbackRegistration", file.display()))?;
    let namespace = manifest
        .metadata
        .namespace
        .clone()
        .or_else(|| args.namespace.clone())
        .unwrap_or_else(|| client.default_namespace().to_string());
    let api: Api<CallbackRegistration> = Api::namespaced(client.clone(), &namespace);
    Ok(match api.get_opt(&manifest.name_any()).await? {
        Some(mut live) => {
            live.spec = manifest.spec;
            live
        }
        None => {
            manifest.metadata.namespace = Some(namespace);
            manifest.metadata.uid = None;
            manifest.metadata.creation_timestamp = None;
            manifest.status = None;
            manifest
        }
    })
}

/// Every registration the ownership rule must weigh: the whole cluster, or this namespace when listing the cluster
/// is not allowed (then a conflict across namespaces goes unseen, and a note says so).
async fn registrations(client: &kube::Client, namespace: &str) -> anyhow::Result<Vec<CallbackRegistration>> {
    let all: Api<CallbackRegistration> = Api::all(client.clone());
    match all.list(&ListParams::default()).await {
        Ok(list) => Ok(list.items),
        Err(kube::Error::Api(status)) if status.code == 403 => {
            eprintln!("note: listing registrations cluster-wide is forbidden; ownership judged within {namespace}");
            let api: Api<CallbackRegistration> = Api::namespaced(client.clone(), namespace);
            Ok(api.list(&ListParams::default()).await?.items)
        }
        Err(err) => Err(err.into()),
    }
}

/// The text `plan` prints and its exit code. Pure.
pub fn render(key: &str, preview: &Preview) -> (String, i32) {
    let mut out = String::new();
    let code = match preview {
        Preview::Blocked { reason, message } => {
            let word = if *reason == Reason::Conflict {
                "conflict"
            } else {
                "blocked"
            };
            let _ = writeln!(out, "{key}: {word} ({reason})");
            let _ = writeln!(out, "  {message}");
            let _ = writeln!(
                out,
                "  the operator would write nothing at the provider for this object"
            );
            NOT_APPLICABLE
        }
        Preview::Failed { reason, message } => {
            let _ = writeln!(out, "{key}: the provider could not be read ({reason})");
            let _ = writeln!(out, "  {message}");
            NOT_APPLICABLE
        }
        Preview::Observed {
            provider,
            label,
            target,
            observation,
            observe_only,
        } => {
            let intent = observation.intent();
            let policy = if *observe_only {
                ", managementPolicy Observe"
            } else {
                ""
            };
            let _ = writeln!(out, "{key} ({provider}, {label}{policy}): {}", intent.as_str());
            if let Some(why) = &observation.unreadable {
                let _ = writeln!(out, "  {why}");
            } else {
                match (&observation.found, observation.diff.is_empty()) {
                    (None, _) => {
                        let _ = writeln!(out, "  {label} holds nothing for {target}");
                    }
                    (Some(found), true) => {
                        let id = found.id.as_deref().map(|id| format!(" (id {id})")).unwrap_or_default();
                        let _ = writeln!(out, "  {label} holds {target}{id} as the spec asks");
                    }
                    (Some(found), false) => {
                        let id = found.id.as_deref().map(|id| format!(" (id {id})")).unwrap_or_default();
                        let _ = writeln!(
                            out,
                            "  {label} holds {target}{id}, differing from the spec (provider → spec):"
                        );
                        for d in &observation.diff {
                            let _ = writeln!(out, "    ~ {}: {} → {}", d.field, d.provider, d.spec);
                        }
                    }
                }
            }
            if intent == Intent::Adopt {
                let _ = writeln!(
                    out,
                    "  status does not record it yet: the operator would adopt it, writing nothing"
                );
            }
            if observation.writes.is_empty() {
                let _ = writeln!(out, "  no provider write");
                NOTHING_PENDING
            } else if *observe_only {
                let _ = writeln!(
                    out,
                    "  no provider write under managementPolicy Observe; with Full the operator would:"
                );
                for write in &observation.writes {
                    let _ = writeln!(out, "    - {write}");
                }
                NOTHING_PENDING
            } else {
                let _ = writeln!(out, "  the operator would:");
                for write in &observation.writes {
                    let _ = writeln!(out, "    - {write}");
                }
                CHANGES_PENDING
            }
        }
    };
    (out, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Registration;
    use crate::providers::{FieldDiff, Observation};

    fn observed(observation: Observation, observe_only: bool) -> Preview {
        Preview::Observed {
            provider: "mail",
            label: "Unisender Go",
            target: "https://h/u".into(),
            observation: Box::new(observation),
            observe_only,
        }
    }

    fn found() -> Option<Registration> {
        Some(Registration {
            id: Some("7".into()),
            ..Registration::default()
        })
    }

    #[test]
    fn a_changed_object_prints_the_field_diff_and_exits_2() {
        let o = Observation {
            found: found(),
            diff: vec![FieldDiff::new("max_parallel", "50", "10")],
            writes: vec!["set webhook https://h/u (update max_parallel)".into()],
            ..Observation::default()
        };
        let (text, code) = render("shop/a", &observed(o, false));
        assert_eq!(code, CHANGES_PENDING);
        assert!(text.starts_with("shop/a (mail, Unisender Go): update\n"), "{text}");
        assert!(text.contains("    ~ max_parallel: 50 → 10\n"), "{text}");
        assert!(text.contains("    - set webhook"), "{text}");
    }

    #[test]
    fn nothing_and_adopt_exit_0_and_create_exits_2() {
        let same = Observation {
            found: found(),
            ..Observation::default()
        };
        let (text, code) = render("shop/a", &observed(same.clone(), false));
        assert_eq!(
            (code, text.lines().next().unwrap()),
            (NOTHING_PENDING, "shop/a (mail, Unisender Go): nothing")
        );
        let adopt = Observation { adopt: true, ..same };
        let (text, code) = render("shop/a", &observed(adopt, false));
        assert_eq!(code, NOTHING_PENDING);
        assert!(text.contains(": adopt\n") && text.contains("writing nothing"), "{text}");
        let create = Observation {
            writes: vec!["set webhook https://h/u (create)".into()],
            ..Observation::default()
        };
        let (text, code) = render("shop/a", &observed(create, false));
        assert_eq!(code, CHANGES_PENDING);
        assert!(text.contains(": create\n") && text.contains("holds nothing"), "{text}");
    }

    #[test]
    fn observe_only_never_has_changes_pending_but_says_what_full_would_do() {
        let o = Observation {
            found: found(),
            diff: vec![FieldDiff::new("max_parallel", "50", "10")],
            writes: vec!["set webhook".into()],
            ..Observation::default()
        };
        let (text, code) = render("shop/a", &observed(o, true));
        assert_eq!(code, NOTHING_PENDING);
        assert!(
            text.contains("managementPolicy Observe") && text.contains("with Full"),
            "{text}"
        );
    }

    #[test]
    fn a_conflict_names_the_owner_and_exits_1() {
        let p = Preview::Blocked {
            reason: Reason::Conflict,
            message: "mail url https://h/u is already owned by shop/owner".into(),
        };
        let (text, code) = render("shop/b", &p);
        assert_eq!(code, NOT_APPLICABLE);
        assert!(
            text.starts_with("shop/b: conflict (Conflict)\n") && text.contains("shop/owner"),
            "{text}"
        );
    }
}
