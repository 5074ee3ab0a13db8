//! The edna simulator's alternative readings of edna.md ("Other readings"), each behind a
//! switch, over real HTTP.

mod support;

use provider_simulators::edna::{CallbackUrls, EdnaSetOmitted, EdnaSim, SuccessShape, TenantWideScope};
use serde_json::{Value, json};
use support::{admin_post, admin_state, client};

const KEY: &str = "edna-key";
const SHOP: i64 = 1001;
const VIBER: i64 = 1003;

async fn start() -> EdnaSim {
    support::edna_sim(KEY, false).await
}

/// Status, content type and raw body of a `set`.
async fn set_raw(sim: &EdnaSim, body: Value) -> (u16, String, String) {
    let resp = client()
        .post(format!("{}/api/callback/set", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

async fn set(sim: &EdnaSim, body: Value) -> Value {
    let (status, _, text) = set_raw(sim, body).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn urls(status: Option<&str>, inbound: Option<&str>, matcher: Option<&str>) -> CallbackUrls {
    support::edna_urls(status, inbound, matcher)
}

#[tokio::test]
async fn tenant_wide_set_as_a_separate_default_leaves_channel_urls_alone() {
    let sim = start().await;
    sim.set_tenant_wide_scope(TenantWideScope::SeparateDefault);
    set(
        &sim,
        json!({"statusCallbackUrl": "https://r/shop-status", "subjectId": SHOP}),
    )
    .await;
    set(
        &sim,
        json!({"statusCallbackUrl": "https://r/t-status", "inMessageCallbackUrl": "https://r/t-in"}),
    )
    .await;

    assert_eq!(
        sim.effective_callbacks(KEY, SHOP),
        urls(Some("https://r/shop-status"), Some("https://r/t-in"), None),
        "the channel keeps its own status URL and inherits the rest"
    );
    assert_eq!(
        sim.effective_callbacks(KEY, VIBER),
        urls(Some("https://r/t-status"), Some("https://r/t-in"), None)
    );
    let held: Vec<Option<i64>> = sim.state(KEY).into_keys().collect();
    assert_eq!(held, vec![None, Some(SHOP)], "no per-channel entry was written");
}

#[tokio::test]
async fn by_default_a_tenant_wide_set_overwrites_the_field_on_every_channel_and_the_default() {
    let sim = start().await;
    assert_eq!(
        sim.switches().tenant_wide_scope,
        TenantWideScope::AllChannels,
        "the seed's reading"
    );
    set(&sim, json!({"statusCallbackUrl": "https://r/shop-status", "inMessageCallbackUrl": "https://r/shop-in", "subjectId": SHOP})).await;
    set(&sim, json!({"statusCallbackUrl": "https://r/t-status"})).await;

    assert_eq!(
        sim.effective_callbacks(KEY, SHOP),
        urls(Some("https://r/t-status"), Some("https://r/shop-in"), None),
        "the sent field is overwritten on the channel; the field left out stays"
    );
    assert_eq!(
        sim.effective_callbacks(KEY, VIBER),
        urls(Some("https://r/t-status"), None, None)
    );
    let held: Vec<Option<i64>> = sim.state(KEY).into_keys().collect();
    assert_eq!(
        held,
        vec![None, Some(SHOP), Some(VIBER)],
        "written on every channel and the tenant entry"
    );

    // A later per-channel set changes that channel only; a channel activated later inherits the default.
    set(
        &sim,
        json!({"statusCallbackUrl": "https://r/viber-status", "subjectId": VIBER}),
    )
    .await;
    assert_eq!(
        sim.effective_callbacks(KEY, SHOP).status_callback_url.as_deref(),
        Some("https://r/t-status")
    );
    assert!(sim.activate_channel(KEY, 2, 1002));
    assert_eq!(
        sim.effective_callbacks(KEY, 1002),
        urls(Some("https://r/t-status"), None, None)
    );
}

#[tokio::test]
async fn all_channels_with_clear_clears_fields_left_out_on_every_channel() {
    let sim = start().await;
    sim.set_tenant_wide_scope(TenantWideScope::AllChannels);
    sim.set_set_omitted(EdnaSetOmitted::Clear);
    set(
        &sim,
        json!({"inMessageCallbackUrl": "https://r/shop-in", "subjectId": SHOP}),
    )
    .await;
    set(&sim, json!({"statusCallbackUrl": "https://r/t-status"})).await;
    assert_eq!(
        sim.effective_callbacks(KEY, SHOP),
        urls(Some("https://r/t-status"), None, None)
    );
}

#[tokio::test]
async fn admin_state_exposes_the_effective_urls_of_each_channel() {
    let sim = start().await;
    set(
        &sim,
        json!({"statusCallbackUrl": "https://r/shop-status", "subjectId": SHOP}),
    )
    .await;
    set(&sim, json!({"messageMatcherCallbackUrl": "https://r/t-matcher"})).await;
    let state = admin_state(sim.base_url()).await;
    let effective = &state["accounts"][KEY]["effective"];
    assert_eq!(effective[SHOP.to_string()]["channelId"], 1);
    assert_eq!(
        effective[SHOP.to_string()]["statusCallbackUrl"],
        "https://r/shop-status"
    );
    assert_eq!(
        effective[SHOP.to_string()]["messageMatcherCallbackUrl"],
        "https://r/t-matcher"
    );
    assert_eq!(effective[VIBER.to_string()]["statusCallbackUrl"], Value::Null);
    assert_eq!(
        effective[VIBER.to_string()]["messageMatcherCallbackUrl"],
        "https://r/t-matcher"
    );
    assert_eq!(
        effective.as_object().unwrap().len(),
        2,
        "the pending channel has no subjectId yet"
    );
    assert_eq!(sim.effective_state(KEY).len(), 2);
}

#[tokio::test]
async fn matcher_only_set_is_refused_with_url_not_specified_when_switched() {
    let sim = start().await;
    let matcher_only = json!({"messageMatcherCallbackUrl": "https://r/m", "subjectId": SHOP});
    assert_eq!(
        set(&sim, matcher_only.clone()).await,
        json!({"code": "ok"}),
        "default: any one URL is enough"
    );

    sim.set_require_status_or_in_message(true);
    sim.put_callback_urls(KEY, Some(SHOP), CallbackUrls::default());
    assert_eq!(set(&sim, matcher_only).await, json!({"code": "url-not-specified"}));
    assert_eq!(
        sim.callback_urls(KEY, Some(SHOP)),
        Some(CallbackUrls::default()),
        "nothing written"
    );
    let with_status = json!({"messageMatcherCallbackUrl": "https://r/m", "statusCallbackUrl": "https://r/s"});
    assert_eq!(set(&sim, with_status).await, json!({"code": "ok"}));
    assert_eq!(
        set(&sim, json!({"inMessageCallbackUrl": "https://r/i"})).await,
        json!({"code": "ok"})
    );
}

#[tokio::test]
async fn success_shapes_answer_without_the_documented_code_but_still_store() {
    let sim = start().await;
    let cases: [(SuccessShape, u16, &str, &str); 5] = [
        (SuccessShape::CodeOk, 200, "application/json", r#"{"code":"ok"}"#),
        (SuccessShape::EmptyBody, 200, "", ""),
        (SuccessShape::EmptyObject, 200, "application/json", "{}"),
        (SuccessShape::HtmlPage, 200, "text/html", "<!DOCTYPE html>"),
        (SuccessShape::NoContent, 204, "", ""),
    ];
    for (i, (shape, status, ct, body_start)) in cases.into_iter().enumerate() {
        sim.set_success_shape(shape);
        let url = format!("https://r/{i}");
        let (s, got_ct, body) = set_raw(&sim, json!({"statusCallbackUrl": url, "subjectId": SHOP})).await;
        assert_eq!(s, status, "{shape:?}");
        assert!(got_ct.starts_with(ct), "{shape:?}: content type {got_ct:?}");
        assert!(body.starts_with(body_start), "{shape:?}: {body:?}");
        assert_eq!(
            sim.effective_callbacks(KEY, SHOP).status_callback_url,
            Some(url),
            "{shape:?} stored"
        );
    }
    sim.set_success_shape(SuccessShape::EmptyBody);
    let (_, _, refused) = set_raw(&sim, json!({"statusCallbackUrl": "http://plain"})).await;
    assert_eq!(
        refused, r#"{"code":"error-callback-url-not-https"}"#,
        "errors keep their shape"
    );
}

#[tokio::test]
async fn new_switches_are_settable_as_json() {
    let sim = start().await;
    let body = json!({
        "tenant_wide_scope": "all_channels",
        "require_status_or_in_message": true,
        "success_shape": "html_page",
    });
    let (s, text) = admin_post(sim.base_url(), "switches", &body).await;
    assert_eq!(s, 204, "{text}");
    let sw = sim.switches();
    assert_eq!(sw.tenant_wide_scope, TenantWideScope::AllChannels);
    assert!(sw.require_status_or_in_message);
    assert_eq!(sw.success_shape, SuccessShape::HtmlPage);
    assert!(sw.url_check, "fields left out take defaults");
    for shape in ["code_ok", "empty_body", "empty_object", "html_page", "no_content"] {
        let (s, _) = admin_post(sim.base_url(), "switches", &json!({"success_shape": shape})).await;
        assert_eq!(s, 204, "{shape}");
    }
    let (s, _) = admin_post(
        sim.base_url(),
        "switches",
        &json!({"tenant_wide_scope": "separate_default"}),
    )
    .await;
    assert_eq!(s, 204);
}
