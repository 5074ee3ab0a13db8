//! The envelope simulator's alternative readings of envelope.md ("Other readings" and the
//! formatting the contract allows), each behind a switch, over real HTTP.

mod support;

use provider_simulators::common::UrlNormalisation;
use provider_simulators::envelope::{
    ALWAYS_DIFFERS_FIELDS, DateEcho, EnumCase, EnvelopeConfig, EnvelopeSim, EnvelopeSimulator, EnvelopeSwitches,
    KeyOrder, RemoveSuccess, RemovedAnswer, UnsetFilterFields,
};
use serde_json::{Value, json};
use support::{admin_post, client};

const TOKEN: &str = "app-token";
const MB: &str = "6f1c1e1e-0000-4000-8000-000000000001";
const SENT_DATE: &str = "2024-05-01T12:00:00+03:00";

async fn start() -> EnvelopeSim {
    EnvelopeSimulator::start(EnvelopeConfig {
        tokens: vec![(TOKEN.into(), vec![MB.into()])],
        ..Default::default()
    })
    .await
    .unwrap()
}

fn body(url: &str) -> Value {
    json!({"filter": {}, "url": url, "retries": 3, "timeout": 5000})
}

/// Status and raw text.
async fn send(req: reqwest::RequestBuilder) -> (u16, String) {
    let resp = req.bearer_auth(TOKEN).header("Mailbox", MB).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn add_raw(sim: &EnvelopeSim, body: &Value) -> (u16, String) {
    send(
        client()
            .post(format!("{}/api/v1/envelope/callback/add", sim.base_url()))
            .json(body),
    )
    .await
}

async fn add(sim: &EnvelopeSim, body: &Value) -> Value {
    let (s, text) = add_raw(sim, body).await;
    assert_eq!(s, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn list(sim: &EnvelopeSim) -> Value {
    let (s, text) = send(client().get(format!("{}/api/v1/envelope/callback/list", sim.base_url()))).await;
    assert_eq!(s, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn remove(sim: &EnvelopeSim, id: &str) -> (u16, String) {
    send(client().delete(format!("{}/api/v1/envelope/callback/{id}/remove", sim.base_url()))).await
}

#[tokio::test]
async fn filter_dates_are_echoed_by_add_and_list_as_the_date_switch_says() {
    let instant = chrono::DateTime::parse_from_rfc3339(SENT_DATE).unwrap();
    let cases = [
        (
            DateEcho::AsSent,
            Some(json!("2024-05-01T09:00:00.000Z")),
            Some(Value::Null),
        ),
        (DateEcho::Verbatim, Some(json!(SENT_DATE)), Some(Value::Null)),
        (DateEcho::Null, Some(Value::Null), Some(Value::Null)),
        (
            DateEcho::EpochMillis,
            Some(json!(instant.timestamp_millis())),
            Some(Value::Null),
        ),
        (DateEcho::Dropped, None, None),
        (
            DateEcho::OffsetPlus3,
            Some(json!("2024-05-01T12:00:00.000+03:00")),
            Some(Value::Null),
        ),
    ];
    for (mode, set_date, unset_date) in cases {
        let sim = start().await;
        sim.set_date_echo(mode);
        let mut b = body("https://r.example/cb");
        b["filter"] = json!({"receiveDateFrom": SENT_DATE});
        let created = add(&sim, &b).await;
        let listed = list(&sim).await;
        for echoed in [&created["filter"], &listed[0]["filter"]] {
            assert_eq!(echoed.get("receiveDateFrom").cloned(), set_date, "{mode:?}: {echoed}");
            assert_eq!(echoed.get("expireDateTo").cloned(), unset_date, "{mode:?}: {echoed}");
        }
        let held = &sim.callbacks(MB)[0].filter;
        assert_eq!(
            held.receive_date_from.as_deref(),
            Some("2024-05-01T09:00:00.000Z"),
            "stored form unchanged"
        );
    }
}

#[tokio::test]
async fn status_and_scope_case_follows_the_enum_case_switch() {
    let cases = [
        (EnumCase::Canonical, json!(["COMPLETED", "WAITING"]), json!(["inbox"])),
        (EnumCase::AsSent, json!(["completed", "Waiting"]), json!(["INBOX"])),
        (EnumCase::Lower, json!(["completed", "waiting"]), json!(["inbox"])),
        (EnumCase::Upper, json!(["COMPLETED", "WAITING"]), json!(["INBOX"])),
    ];
    for (mode, status, scope) in cases {
        let sim = start().await;
        sim.set_enum_case(mode);
        let mut b = body("https://r.example/cb");
        b["filter"] = json!({"status": ["completed", "Waiting"], "scope": ["INBOX"]});
        let created = add(&sim, &b).await;
        let listed = list(&sim).await;
        for echoed in [&created["filter"], &listed[0]["filter"]] {
            assert_eq!((&echoed["status"], &echoed["scope"]), (&status, &scope), "{mode:?}");
        }
    }
}

#[tokio::test]
async fn unset_filter_fields_are_null_absent_or_empty_lists() {
    let sim = start().await;
    let mut b = body("https://r.example/cb");
    b["filter"] = json!({"subject": "Invoice"});
    let f = add(&sim, &b).await["filter"].clone();
    assert!(f["label"].is_null() && f.get("label").is_some() && f["receiveDateTo"].is_null());

    sim.set_unset_filter_fields(UnsetFilterFields::Absent);
    let f = list(&sim).await[0]["filter"].clone();
    assert_eq!(f, json!({"subject": "Invoice"}), "only the set field remains");

    sim.set_unset_filter_fields(UnsetFilterFields::EmptyLists);
    let f = list(&sim).await[0]["filter"].clone();
    for field in ["label", "status", "template", "sender", "scope"] {
        assert_eq!(f[field], json!([]), "{field}");
    }
    assert!(f.get("receiveDateFrom").is_some_and(Value::is_null), "dates stay null");
}

#[tokio::test]
async fn reversed_key_order_writes_the_same_objects_with_keys_reversed() {
    let sim = start().await;
    let (_, sorted) = add_raw(&sim, &body("https://r.example/cb")).await;
    assert!(sorted.find("\"authType\"").unwrap() < sorted.find("\"url\"").unwrap());
    sim.set_key_order(KeyOrder::Reversed);
    let (s, reversed) = add_raw(&sim, &body("https://r.example/cb")).await;
    assert_eq!(s, 201);
    assert!(
        reversed.find("\"url\"").unwrap() < reversed.find("\"authType\"").unwrap(),
        "{reversed}"
    );
    assert!(
        reversed.find("\"subject\"").unwrap() < reversed.find("\"label\"").unwrap(),
        "filter too"
    );
    let (_, listed) = send(client().get(format!("{}/api/v1/envelope/callback/list", sim.base_url()))).await;
    assert!(listed.starts_with("[{\"url\""), "{listed}");
    let mut a: Value = serde_json::from_str(&sorted).unwrap();
    let mut b: Value = serde_json::from_str(&reversed).unwrap();
    a["id"] = Value::Null;
    b["id"] = Value::Null;
    assert_eq!(a, b, "same content");
}

#[tokio::test]
async fn removing_a_gone_callback_answers_each_named_variant() {
    let sim = start().await;
    let id = add(&sim, &body("https://r.example/cb")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(remove(&sim, &id).await, (200, String::new()));
    for answer in RemovedAnswer::ALL {
        sim.set_removed_answer_named(answer);
        let (status, text) = remove(&sim, &id).await;
        assert_eq!(status, answer.status(), "{answer:?}");
        if matches!(answer, RemovedAnswer::SilentOk | RemovedAnswer::NoContent) {
            assert_eq!(text, "", "{answer:?} has no body");
        } else {
            let b: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(b["code"], answer.status(), "{answer:?}: {text}");
            assert!(b["message"].is_string());
        }
    }
    let never = uuid::Uuid::new_v4().to_string();
    assert_eq!(remove(&sim, &never).await.0, 404, "never-issued ids stay 404");

    let (s, _) = admin_post(sim.base_url(), "switches", &json!({"removed_answer": "gone"})).await;
    assert_eq!(s, 204);
    assert_eq!(sim.switches().removed_answer, 410);
    let (s, _) = admin_post(sim.base_url(), "switches", &json!({"removed_answer": 400})).await;
    assert_eq!(s, 204);
    assert_eq!(remove(&sim, &id).await.0, 400);
}

#[tokio::test]
async fn strict_bounds_refuse_retries_0_and_timeouts_100_and_60000() {
    let sim = start().await;
    let edge = [("retries", 0), ("timeout", 100), ("timeout", 60_000)];
    for (field, value) in edge {
        let mut b = body("https://r.example/cb");
        b[field] = json!(value);
        assert_eq!(add_raw(&sim, &b).await.0, 201, "default: {field} {value} accepted");
    }
    sim.set_strict_bounds(true);
    for (field, value) in edge {
        let mut b = body("https://r.example/cb");
        b[field] = json!(value);
        let (s, text) = add_raw(&sim, &b).await;
        assert_eq!(s, 400, "strict: {field} {value}");
        let err: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(err["code"], 400);
        assert!(err["message"].as_str().unwrap().contains(field), "{text}");
    }
    for (field, value) in [("retries", 1), ("timeout", 101), ("timeout", 59_999)] {
        let mut b = body("https://r.example/cb");
        b[field] = json!(value);
        assert_eq!(add_raw(&sim, &b).await.0, 201, "strict: {field} {value} accepted");
    }
}

#[tokio::test]
async fn normalised_url_is_what_add_and_list_echo() {
    let sim = start().await;
    sim.set_url_normalisation(UrlNormalisation::Normalised);
    assert_eq!(
        add(&sim, &body("https://R.Example:443")).await["url"],
        "https://r.example/"
    );
    sim.set_url_normalisation(UrlNormalisation::NormalisedNoTrailingSlash);
    add(&sim, &body("https://R.Example:443/cb/")).await;
    let urls: Vec<Value> = list(&sim)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["url"].clone())
        .collect();
    assert_eq!(urls, vec![json!("https://r.example/"), json!("https://r.example/cb")]);
}

#[tokio::test]
async fn add_may_answer_200_and_remove_204_or_a_json_object() {
    let sim = start().await;
    sim.set_add_success_status(200);
    let (s, text) = add_raw(&sim, &body("https://r.example/a")).await;
    assert_eq!(s, 200);
    let id_a = serde_json::from_str::<Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, text) = add_raw(&sim, &body("https://r.example/b")).await;
    let id_b = serde_json::from_str::<Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.set_remove_success(RemoveSuccess::NoContent);
    assert_eq!(remove(&sim, &id_a).await, (204, String::new()));
    sim.set_remove_success(RemoveSuccess::JsonObject);
    assert_eq!(remove(&sim, &id_b).await, (200, "{}".to_owned()));
}

#[tokio::test]
async fn echo_always_differs_distorts_exactly_the_named_field_in_add_and_list() {
    let sim = start().await;
    let mut b = body("https://r.example/cb");
    b["filter"] = json!({"status": ["WAITING"], "subject": "Invoice", "receiveDateFrom": "2024-05-01T09:00:00.000Z"});
    let stored = add(&sim, &b).await;
    for field in ALWAYS_DIFFERS_FIELDS {
        sim.set_echo_always_differs(Some(field));
        let created = add(&sim, &b).await;
        let listed = list(&sim).await;
        let pointer = format!("/{}", field.replace('.', "/"));
        for echoed in [&created, listed.as_array().unwrap().last().unwrap()] {
            assert_ne!(echoed.pointer(&pointer), stored.pointer(&pointer), "{field}: {echoed}");
            let (mut same, mut want) = (echoed.clone(), stored.clone());
            for v in [&mut same, &mut want] {
                v["id"] = Value::Null;
                *v.pointer_mut(&pointer).unwrap() = Value::Null;
            }
            assert_eq!(same, want, "only {field} differs");
        }
    }
    assert_eq!(sim.callbacks(MB)[0].retries, 3, "stored values never change");
    sim.set_echo_always_differs(None);
    assert_eq!(list(&sim).await[0]["retries"], 3);
}

#[tokio::test]
async fn new_switches_are_settable_as_json_and_unknown_echo_fields_are_refused() {
    let sim = start().await;
    let all = json!({
        "removed_answer": "silent_ok",
        "date_echo": "epoch_millis",
        "enum_case": "as_sent",
        "unset_filter_fields": "empty_lists",
        "key_order": "reversed",
        "strict_bounds": true,
        "url_normalisation": "normalised_no_trailing_slash",
        "add_success_status": 200,
        "remove_success": "no_content",
        "echo_always_differs": "filter.subject",
    });
    let (s, text) = admin_post(sim.base_url(), "switches", &all).await;
    assert_eq!(s, 204, "{text}");
    let want = EnvelopeSwitches {
        removed_answer: 200,
        date_echo: DateEcho::EpochMillis,
        enum_case: EnumCase::AsSent,
        unset_filter_fields: UnsetFilterFields::EmptyLists,
        key_order: KeyOrder::Reversed,
        strict_bounds: true,
        url_normalisation: UrlNormalisation::NormalisedNoTrailingSlash,
        add_success_status: 200,
        remove_success: RemoveSuccess::NoContent,
        echo_always_differs: Some("filter.subject".into()),
    };
    assert_eq!(sim.switches(), want);
    for mode in ["as_sent", "verbatim", "null", "epoch_millis", "dropped", "offset_plus3"] {
        let (s, _) = admin_post(sim.base_url(), "switches", &json!({"date_echo": mode})).await;
        assert_eq!(s, 204, "{mode}");
    }
    let (s, text) = admin_post(sim.base_url(), "switches", &json!({"echo_always_differs": "url"})).await;
    assert_eq!(s, 400);
    assert!(text.contains("filter.status"), "{text}");
}
