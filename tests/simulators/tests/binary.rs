//! The `provider-simulators` binary: flags, the JSON address line, serving, and SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{client, parts};

const MB: &str = "11111111-2222-4333-8444-555555555555";

#[tokio::test]
async fn binary_serves_all_simulators_prints_addresses_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_provider-simulators"))
        .args(["--mail-port", "0", "--edna-port", "0", "--envelope-port", "0"])
        .args(["--receiver-port", "0", "--latency-ms", "20"])
        .args(["--mail-key", "mk", "--mail-key", "mk2", "--mail-wrong-dc-key", "dc2"])
        .args(["--edna-key", "ek", "--edna-channel", "1:Shop:shop_wa:1001"])
        .args(["--edna-channel", "ek@2:New:new_wa::VIBER"])
        .args(["--envelope-token", &format!("tok:{MB}")])
        .args(["--envelope-user", &format!("ops@example.com:pa:ss:{MB}")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addrs: Value = serde_json::from_str(&line).unwrap();
    let mail = addrs["mail"].as_str().unwrap();
    let edna = addrs["edna"].as_str().unwrap();
    let envelope = addrs["envelope"].as_str().unwrap();
    let receiver = addrs["receiver"].as_str().unwrap();
    assert!(mail.ends_with("/ru/transactional/api/v1"));
    assert!(receiver.starts_with("https://127.0.0.1:"));
    let c = client();

    let started = Instant::now();
    let hook = json!({"url": format!("{receiver}/mail"), "events": {"email_status": ["delivered"]}});
    let resp = c
        .post(format!("{mail}/webhook/set.json"))
        .header("X-API-KEY", "mk2")
        .json(&hook)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(resp).await.0, 200, "activation GET reached the receiver");
    assert!(started.elapsed() >= Duration::from_millis(20), "--latency-ms applies");
    let resp = c
        .post(format!("{mail}/webhook/list.json"))
        .header("X-API-KEY", "dc2")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(parts(resp).await.1["code"], 114);

    let set = json!({"statusCallbackUrl": format!("{receiver}/edna"), "subjectId": 1001});
    let resp = c
        .post(format!("{edna}/api/callback/set"))
        .header("X-API-KEY", "ek")
        .json(&set)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(resp).await.1, json!({"code": "ok"}));
    let resp = c
        .get(format!("{edna}/api/channel-profile?types=VIBER"))
        .header("X-API-KEY", "ek")
        .send()
        .await
        .unwrap();
    let (_, channels) = parts(resp).await;
    assert_eq!(channels[0]["id"], 2);
    assert!(channels[0].get("subjectId").is_none());

    let resp = c
        .post(format!("{envelope}/api/login"))
        .json(&json!({"login": "ops@example.com", "password": "pa:ss"}))
        .send()
        .await
        .unwrap();
    let (s, token) = parts(resp).await;
    assert_eq!(s, 200);
    let body = json!({"filter": {}, "url": format!("{receiver}/docs"), "retries": 1, "timeout": 1000});
    let resp = c
        .post(format!("{envelope}/api/v1/envelope/callback/add"))
        .bearer_auth(token["token"].as_str().unwrap())
        .header("Mailbox", MB)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = c
        .post(format!("{envelope}/api/v1/envelope/callback/add"))
        .bearer_auth("tok")
        .header("Mailbox", MB)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let (_, state) = parts(
        c.get(format!("{}/state", addrs["admin"]["mail"].as_str().unwrap()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["webhooks"]["mk2"][0]["url"], format!("{receiver}/mail"));
    let (_, state) = parts(
        c.get(format!("{}/state", addrs["admin"]["edna"].as_str().unwrap()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        state["accounts"]["ek"]["callbacks"]["1001"]["statusCallbackUrl"],
        format!("{receiver}/edna")
    );
    let (_, state) = parts(
        c.get(format!("{}/state", addrs["admin"]["envelope"].as_str().unwrap()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["callbacks"][MB].as_array().unwrap().len(), 2);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
