//! The floor measured side by side: a controller that does only the apiserver writes no controller of this resource
//! can avoid — the finalizer, then one status write with `Ready=True` — with no Secret read, no Event and no
//! provider call. It runs in the bench process on the same apiserver, with the same N, namespaces and creation
//! driver as the operator's round, so the operator's time to all Ready ÷ this one's says what the operator adds.
//! Same concurrency as the operator and the same kube-runtime machinery (watch, finalizer helper, server-side apply).

use std::sync::Arc;

use callback_operator::api::{CallbackRegistration, FINALIZER};
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

#[derive(Debug)]
struct NullError(String);

impl std::fmt::Display for NullError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NullError {}

/// Runs until the returned task is aborted. `operator_status`: write a status shaped like the operator's (`--rounds
/// null-shaped`: the same fields and about the same sizes), so the floor can be measured with the operator's status
/// as well as with one condition.
pub fn start(client: kube::Client, concurrency: u16, operator_status: bool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<CallbackRegistration> = Api::all(client.clone());
        Controller::new(api, watcher::Config::default().any_semantic())
            .with_config(Config::default().concurrency(concurrency))
            .run(
                reconcile,
                |_, _, _| Action::requeue(std::time::Duration::from_secs(2)),
                Arc::new((client, operator_status)),
            )
            .for_each(|_| async {})
            .await;
    })
}

async fn reconcile(obj: Arc<CallbackRegistration>, ctx: Arc<(kube::Client, bool)>) -> Result<Action, NullError> {
    let (client, operator_status) = (&ctx.0, ctx.1);
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<CallbackRegistration> = Api::namespaced((*client).clone(), &namespace);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Event::Apply(obj) => {
                let ready = obj
                    .status
                    .as_ref()
                    .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if !ready {
                    let now = k8s_openapi::jiff::Timestamp::now().to_string();
                    let mut status = json!({
                        "apiVersion": "callback-operator.io/v1alpha1",
                        "kind": "CallbackRegistration",
                        "status": {
                            "observedGeneration": obj.metadata.generation,
                            "conditions": [{
                                "type": "Ready", "status": "True", "reason": "Synced",
                                "message": "null controller", "lastTransitionTime": now,
                                "observedGeneration": obj.metadata.generation,
                            }],
                        },
                    });
                    if operator_status {
                        let url = format!("https://127.0.0.1:46021/{namespace}/{}", obj.name_any());
                        status["status"]["conditions"][0]["message"] = json!(format!("Unisender Go holds {url}"));
                        status["status"]["appliedHash"] = json!("306fc2dce8a4464aa9e07046");
                        status["status"]["observedHash"] = json!("514275d2f0283c9a5f5c752c");
                        status["status"]["provider"] = json!("mail");
                        status["status"]["target"] = json!(url.clone());
                        status["status"]["registration"] = json!({
                            "account": "http://127.0.0.1:44033/ru/transactional/api/v1#55e47d52288b9af045631f9bf08fe4ae",
                            "id": "2", "lastSyncedTime": now, "providerStatus": "active", "urls": [url],
                        });
                    }
                    api.patch_status(
                        &obj.name_any(),
                        &PatchParams::apply("null-controller").force(),
                        &Patch::Apply(&status),
                    )
                    .await
                    .map_err(|e| NullError(e.to_string()))?;
                }
                Ok::<_, NullError>(Action::await_change())
            }
            Event::Cleanup(_) => Ok(Action::await_change()),
        }
    })
    .await
    .map_err(|e| NullError(e.to_string()))
}
