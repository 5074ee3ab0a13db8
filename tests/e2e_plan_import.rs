//! `callback-operator plan` and `import` end to end (issue 17, must-shows 1 and 2): the binary against the real
//! control plane and the provider simulators, with the operator running at its shipped defaults.

mod support;

use callback_operator::api::{CallbackRegistration, ManagementPolicy};
use serde_json::json;
use support::cli::{self, CliRun};
use support::envelope::{EnvelopeBench, MAILBOX};
use support::mail::{self, MailBench};
use support::ready_condition;

fn mail_writes(bench: &MailBench) -> u64 {
    bench.sim.count("webhook/set") + bench.sim.count("webhook/delete")
}

fn envelope_writes(bench: &EnvelopeBench) -> u64 {
    bench.sim.count("callback/add") + bench.sim.count("callback/remove")
}

fn plan_file(bench: &MailBench, manifest: &str) -> CliRun {
    let run = cli::run(&bench.cluster, &["plan", "-f", "-"], Some(manifest));
    println!(
        "$ callback-operator plan -f -   (exit {})\n{}{}",
        run.code, run.stdout, run.stderr
    );
    run
}

/// The objects of an import's YAML stream.
fn documents(yaml: &str) -> Vec<CallbackRegistration> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("a CallbackRegistration"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_says_create_nothing_update_adopt_or_conflict_and_writes_nothing() {
    let bench = MailBench::start("plan").await;
    let url = bench.receiver.url("/owned");
    bench.apply("owner", &mail::block(&url, "    maxParallel: 20\n"));
    bench.wait_ready("owner");
    let before = mail_writes(&bench);

    // A new object: nothing at the provider.
    let fresh = bench.receiver.url("/fresh");
    let run = plan_file(&bench, &bench.registration("fresh", &mail::block(&fresh, ""), ""));
    assert_eq!(run.code, 2, "changes pending");
    assert!(
        run.stdout
            .starts_with(&format!("{}/fresh (mail, Unisender Go): create\n", bench.ns.name))
    );
    assert!(
        run.stdout.contains(&format!("set webhook {fresh} (create)")),
        "{}",
        run.stdout
    );

    // The live object, unchanged.
    let live = format!("{}/owner", bench.ns.name);
    let run = cli::run(&bench.cluster, &["plan", &live], None);
    println!(
        "$ callback-operator plan {live}   (exit {})\n{}{}",
        run.code, run.stdout, run.stderr
    );
    assert_eq!(run.code, 0, "nothing pending: {}", run.stdout);
    assert!(
        run.stdout
            .starts_with(&format!("{live} (mail, Unisender Go): nothing\n")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("no provider write"));

    // The same object with a changed spec: a field-level diff.
    let changed = bench.registration(
        "owner",
        &mail::block(&url, "    maxParallel: 30\n    singleEvent: true\n"),
        "",
    );
    let run = plan_file(&bench, &changed);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .starts_with(&format!("{live} (mail, Unisender Go): update\n")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("    ~ single_event: false → true\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("    ~ max_parallel: 20 → 30\n"), "{}", run.stdout);

    // Another object claiming the owner's URL: the controller's ownership rule, over the cluster's registrations.
    let run = plan_file(&bench, &bench.registration("intruder", &mail::block(&url, ""), ""));
    assert_eq!(run.code, 1, "not applicable");
    assert!(
        run.stdout
            .starts_with(&format!("{}/intruder: conflict (Conflict)\n", bench.ns.name))
    );
    assert!(run.stdout.contains(&format!("owned by {live}")), "{}", run.stdout);

    // A webhook set by hand that matches a new manifest. Observed: adopted, nothing written. Fully managed: a mail
    // registration that never synced is one `set` without a read first, and the plan says that `set` is due.
    let by_hand = bench.receiver.url("/by-hand");
    bench
        .sim
        .put_webhook(
            &bench.creds.key,
            json!({"url": by_hand, "events": {"email_status": ["delivered", "hard_bounced", "spam"]}}),
        )
        .unwrap();
    let observed = bench.registration("by-hand", &mail::block(&by_hand, ""), "  managementPolicy: Observe\n");
    let run = plan_file(&bench, &observed);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(": adopt\n") && run.stdout.contains("writing nothing"),
        "{}",
        run.stdout
    );
    let run = plan_file(&bench, &bench.registration("by-hand", &mail::block(&by_hand, ""), ""));
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains(": update\n")
            && run.stdout.contains(&format!(
                "set webhook {by_hand} (never synced: written without reading first"
            )),
        "{}",
        run.stdout
    );

    let after = mail_writes(&bench);
    println!(
        "mail provider log: {} webhook/get, {} webhook/list, writes before the plans {before}, after {after}",
        bench.sim.count("webhook/get"),
        bench.sim.count("webhook/list")
    );
    assert_eq!(after, before, "plan never writes to the provider");
    assert!(
        bench.api().get_opt("fresh").await.unwrap().is_none(),
        "nor to the cluster"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_never_prints_secret_values() {
    let bench = MailBench::start("plan-secret").await;
    let url = bench.receiver.url("/s");
    // The key rejected by the provider: its error must not echo the key.
    bench.sim.remove_key(&bench.creds.key);
    let run = plan_file(&bench, &bench.registration("s", &mail::block(&url, ""), ""));
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("could not be read (InvalidCredentials)"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(&bench.creds.key) && !run.stderr.contains(&bench.creds.key));
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_mail_webhooks_applied_as_printed_are_ready_with_no_provider_write() {
    let bench = MailBench::start("import-mail").await;
    let hooks = [
        json!({"url": bench.receiver.url("/orders"), "events": {"email_status": ["delivered", "spam"]}}),
        json!({"url": bench.receiver.url("/bounces"), "max_parallel": 25, "event_format": "json_post_gzip",
               "events": {"email_status": ["hard_bounced", "soft_bounced"], "spam_block": ["*"]}}),
        json!({"url": bench.receiver.url("/opens"), "status": "disabled", "delivery_info": 1,
               "events": {"email_status": ["opened", "clicked"]}}),
    ];
    for hook in hooks {
        bench.sim.put_webhook(&bench.creds.key, hook).unwrap();
    }
    let secret = format!("{}/creds", bench.ns.name);
    let args = ["import", "--secret", secret.as_str(), "--provider", "mail"];
    let run = cli::run(&bench.cluster, &args, None);
    println!(
        "$ callback-operator import --secret {secret} --provider mail   (exit {})\n{}{}",
        run.code, run.stdout, run.stderr
    );
    assert_eq!(run.code, 0);
    assert!(!run.stdout.contains(&bench.creds.key));
    assert_eq!(
        cli::run(&bench.cluster, &args, None).stdout,
        run.stdout,
        "names and order are stable"
    );
    let objects = documents(&run.stdout);
    assert_eq!(objects.len(), 3);
    assert!(
        objects
            .iter()
            .all(|o| o.spec.management_policy == Some(ManagementPolicy::Observe))
    );

    bench.cluster.apply_ok(&run.stdout);
    for obj in &objects {
        let name = obj.metadata.name.as_deref().unwrap();
        bench.wait_ready(name);
        let (_, reason, message) = ready_condition(&bench.api().get(name).await.unwrap()).unwrap();
        assert_eq!(reason, "Observed", "{name}: {message}");
    }
    println!(
        "mail provider writes after applying the import: {}",
        mail_writes(&bench)
    );
    assert_eq!(mail_writes(&bench), 0, "applied as printed: no provider write");

    // `--full` leaves the policy out: the objects are then fully managed once applied.
    let full = cli::run(&bench.cluster, &[&args[..], &["--full"]].concat(), None);
    assert!(!full.stdout.contains("managementPolicy"));
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_docstudio_callbacks_applied_as_printed_are_ready_with_no_provider_write() {
    let bench = EnvelopeBench::start("import-envelope").await;
    bench
        .sim
        .put_callback(
            MAILBOX,
            json!({"url": bench.receiver.url("/signed"), "retries": 2, "timeout": 3000,
                   "filter": {"status": ["COMPLETED"], "scope": ["inbox"]}}),
        )
        .unwrap();
    bench
        .sim
        .put_callback(
            MAILBOX,
            json!({"url": bench.receiver.url("/expired"), "retries": 0, "timeout": 10000, "successCode": 204,
                   "filter": {"subject": "Contract", "status": ["EXPIRED", "CANCELLED"]}}),
        )
        .unwrap();
    let secret = format!("{}/creds", bench.ns.name);
    let args = [
        "import",
        "--secret",
        secret.as_str(),
        "--provider",
        "envelope",
        "--mailbox",
        MAILBOX,
    ];
    let run = cli::run(&bench.cluster, &args, None);
    println!(
        "$ callback-operator import --secret {secret} --provider envelope --mailbox {MAILBOX}   (exit {})\n{}{}",
        run.code, run.stdout, run.stderr
    );
    assert_eq!(run.code, 0);
    assert!(!run.stdout.contains(&bench.creds.token));
    let objects = documents(&run.stdout);
    assert_eq!(objects.len(), 2);

    bench.cluster.apply_ok(&run.stdout);
    for obj in &objects {
        let name = obj.metadata.name.as_deref().unwrap();
        bench.wait_ready(name);
        let (_, reason, message) = ready_condition(&bench.api().get(name).await.unwrap()).unwrap();
        assert_eq!(reason, "Observed", "{name}: {message}");
    }
    println!(
        "envelope provider writes after applying the import: {}",
        envelope_writes(&bench)
    );
    assert_eq!(envelope_writes(&bench), 0, "applied as printed: no provider write");
    assert_eq!(bench.callbacks().len(), 2);

    // Without --mailbox DocStudio cannot be listed: an error, not a guess.
    let run = cli::run(&bench.cluster, &args[..5], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--mailbox"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn importing_edna_explains_it_cannot_be_read_and_prints_a_template() {
    let bench = support::edna::EdnaBench::start("import-edna").await;
    let secret = format!("{}/creds", bench.ns.name);
    let run = cli::run(
        &bench.cluster,
        &["import", "--secret", &secret, "--provider", "edna"],
        None,
    );
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("cannot be read back"), "{}", run.stderr);
    let objects = documents(&run.stdout);
    assert_eq!(objects.len(), 1);
    assert!(objects[0].spec.edna.is_some());
    assert!(bench.sim.requests().is_empty(), "edna is not called");
}
