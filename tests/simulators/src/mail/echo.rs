//! How the mail simulator echoes a stored webhook (`get`, `list`, the `set` answer) under the
//! read-side switches.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::model::{EMAIL_STATUSES, Webhook};
use super::switches::{EmailStatusOrder, MailSwitches};

/// The webhook's API object as the current switches show it.
pub(crate) fn api_json(hook: &Webhook, sw: &MailSwitches, on_read: bool) -> Value {
    let mut v = hook.to_api_json(on_read && sw.omit_delivery_flags_on_read);
    if hook.status == "stopped" {
        v["status"] = json!(sw.disabled_status_word.word());
    }
    if sw.email_status_order == EmailStatusOrder::Canonical {
        let mut sorted: Vec<&str> = EMAIL_STATUSES
            .iter()
            .copied()
            .chain(["sent"])
            .filter(|s| hook.events.email_status.iter().any(|e| e == s))
            .collect();
        sorted.dedup();
        v["events"]["email_status"] = json!(sorted);
    }
    if let Some(field) = &sw.echo_always_differs {
        let turn = if sw.echo_varies {
            ANSWERS.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        differ(&mut v, field, turn);
    }
    v
}

/// Answers given under `echo_varies`: each picks the next differing value.
static ANSWERS: AtomicU64 = AtomicU64::new(0);

/// Replace `field` of the API object with a value that differs from the stored one; `turn` picks one of several
/// where the field has them (`max_parallel`, `events.email_status`).
fn differ(v: &mut Value, field: &str, turn: u64) {
    match field {
        "status" => {
            let other = if v["status"] == "disabled" {
                "active"
            } else {
                "disabled"
            };
            v["status"] = json!(other);
        }
        "event_format" => {
            let other = if v["event_format"] == "json_post" {
                "json_post_gzip"
            } else {
                "json_post"
            };
            v["event_format"] = json!(other);
        }
        "delivery_info" | "single_event" => {
            let flipped = 1 - v[field].as_u64().unwrap_or(0).min(1);
            v[field] = json!(flipped);
        }
        "max_parallel" => {
            let n = v["max_parallel"].as_u64().unwrap_or(10);
            // Turn 0: n + 1 (99 at 100). Later turns walk through every other valid value (5..=100) before one
            // repeats, so a varying echo does not come back to an earlier answer within 95 answers.
            let others: Vec<u64> = (n + 1..=100).chain(5..n).collect();
            v["max_parallel"] = json!(if turn == 0 && n >= 100 {
                99
            } else {
                others[turn as usize % others.len()]
            });
        }
        "events.email_status" => {
            let mut list: Vec<Value> = v["events"]["email_status"].as_array().cloned().unwrap_or_default();
            let missing: Vec<&&str> = EMAIL_STATUSES
                .iter()
                .filter(|s| !list.iter().any(|e| e == **s))
                .collect();
            match missing.get(turn as usize % missing.len().max(1)) {
                Some(missing) => list.push(json!(missing)),
                None => {
                    list.pop();
                }
            }
            v["events"]["email_status"] = Value::Array(list);
        }
        "events.spam_block" => {
            let events = &mut v["events"];
            if events.get("spam_block").is_some_and(|s| !s.is_null()) {
                if let Some(o) = events.as_object_mut() {
                    o.remove("spam_block");
                }
            } else {
                events["spam_block"] = json!(["*"]);
            }
        }
        _ => {}
    }
}
