//! Serves the three provider simulators and an HTTPS webhook receiver on fixed loopback ports,
//! for the quick-start demo and benchmarks. Prints the bound addresses as one JSON line on stdout,
//! then serves until SIGTERM or Ctrl-C. State is readable at `<simulator>/_sim/state`.

use std::time::Duration;

use clap::Parser;
use provider_simulators::common::{Receiver, install_crypto_provider};
use provider_simulators::edna::{Channel, EdnaConfig, EdnaSimulator, EdnaSwitches};
use provider_simulators::envelope::{EnvelopeConfig, EnvelopeSimulator, User};
use provider_simulators::mail::{MailConfig, MailSimulator, MailSwitches};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "provider-simulators",
    about = "Loopback simulators of the mail, edna and envelope callback APIs"
)]
struct Args {
    /// Port of the mail (Unisender Go) simulator; 0 = ephemeral.
    #[arg(long, default_value_t = 18081)]
    mail_port: u16,
    /// Port of the edna Pulse simulator; 0 = ephemeral.
    #[arg(long, default_value_t = 18082)]
    edna_port: u16,
    /// Port of the envelope (DocStudio) simulator; 0 = ephemeral.
    #[arg(long, default_value_t = 18083)]
    envelope_port: u16,
    /// Port of the HTTPS webhook receiver (self-signed certificate); 0 = ephemeral.
    #[arg(long, default_value_t = 18443)]
    receiver_port: u16,
    /// A valid mail API key (repeatable).
    #[arg(long = "mail-key", value_name = "KEY")]
    mail_keys: Vec<String>,
    /// A mail key of an account in the other data centre: answers 401, code 114 (repeatable).
    #[arg(long = "mail-wrong-dc-key", value_name = "KEY")]
    mail_wrong_dc_keys: Vec<String>,
    /// A valid edna master key (repeatable).
    #[arg(long = "edna-key", value_name = "KEY")]
    edna_keys: Vec<String>,
    /// An edna channel `[KEY@]ID:NAME:SUBJECT[:SUBJECT_ID[:TYPE]]` (repeatable). Without `KEY@` it
    /// belongs to every `--edna-key`; an empty SUBJECT_ID makes a channel that is not active yet;
    /// TYPE defaults to WHATSAPP.
    #[arg(long = "edna-channel", value_name = "SPEC", value_parser = parse_channel)]
    edna_channels: Vec<(Option<String>, Channel)>,
    /// An envelope application token `TOKEN:MAILBOX[,MAILBOX...]` (repeatable).
    #[arg(long = "envelope-token", value_name = "TOKEN:MAILBOX", value_parser = parse_token)]
    envelope_tokens: Vec<(String, Vec<String>)>,
    /// An envelope login user `LOGIN:PASSWORD:MAILBOX[,MAILBOX...]` (repeatable; the password may
    /// contain `:`).
    #[arg(long = "envelope-user", value_name = "LOGIN:PASSWORD:MAILBOX", value_parser = parse_user)]
    envelope_users: Vec<User>,
    /// Latency added to every API call of every simulator, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Skip edna's HEAD check and mail's activation GET.
    #[arg(long)]
    no_url_checks: bool,
}

fn parse_channel(spec: &str) -> Result<(Option<String>, Channel), String> {
    let (key, rest) = match spec.split_once('@') {
        Some((k, r)) => (Some(k.to_owned()), r),
        None => (None, spec),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if !(3..=5).contains(&parts.len()) {
        return Err("expected [KEY@]ID:NAME:SUBJECT[:SUBJECT_ID[:TYPE]]".into());
    }
    let id: i64 = parts[0].parse().map_err(|_| format!("bad channel id {:?}", parts[0]))?;
    let channel_type = parts.get(4).copied().unwrap_or("WHATSAPP");
    let channel = match parts.get(3).copied().filter(|s| !s.is_empty()) {
        Some(sid) => {
            let sid: i64 = sid.parse().map_err(|_| format!("bad subjectId {sid:?}"))?;
            Channel::active(id, parts[1], parts[2], sid, channel_type)
        }
        None => Channel::pending(id, parts[1], parts[2], channel_type),
    };
    Ok((key, channel))
}

fn mailboxes(list: &str) -> Vec<String> {
    list.split(',').filter(|m| !m.is_empty()).map(str::to_owned).collect()
}

fn parse_token(spec: &str) -> Result<(String, Vec<String>), String> {
    let (token, mbs) = spec.split_once(':').ok_or("expected TOKEN:MAILBOX[,MAILBOX...]")?;
    Ok((token.to_owned(), mailboxes(mbs)))
}

fn parse_user(spec: &str) -> Result<User, String> {
    let (login, rest) = spec.split_once(':').ok_or("expected LOGIN:PASSWORD:MAILBOX")?;
    let (password, mbs) = rest.rsplit_once(':').ok_or("expected LOGIN:PASSWORD:MAILBOX")?;
    Ok(User {
        login: login.to_owned(),
        password: password.to_owned(),
        mailboxes: mailboxes(mbs),
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    install_crypto_provider();
    let latency = Duration::from_millis(args.latency_ms);
    let checks = !args.no_url_checks;

    let receiver = Receiver::start_on(args.receiver_port).await?;
    let mail = MailSimulator::start(MailConfig {
        port: args.mail_port,
        keys: args.mail_keys.clone(),
        wrong_datacenter_keys: args.mail_wrong_dc_keys.clone(),
        latency,
        switches: MailSwitches {
            activation_check: checks,
            ..Default::default()
        },
        ..Default::default()
    })
    .await?;
    let mut channels = Vec::new();
    for (key, channel) in &args.edna_channels {
        match key {
            Some(k) => channels.push((k.clone(), channel.clone())),
            None => channels.extend(args.edna_keys.iter().map(|k| (k.clone(), channel.clone()))),
        }
    }
    let edna = EdnaSimulator::start(EdnaConfig {
        port: args.edna_port,
        keys: args.edna_keys.clone(),
        channels,
        latency,
        switches: EdnaSwitches {
            url_check: checks,
            ..Default::default()
        },
        ..Default::default()
    })
    .await?;
    let envelope = EnvelopeSimulator::start(EnvelopeConfig {
        port: args.envelope_port,
        tokens: args.envelope_tokens.clone(),
        users: args.envelope_users.clone(),
        latency,
        ..Default::default()
    })
    .await?;

    let admin = |addr: std::net::SocketAddr| format!("http://{addr}/_sim");
    println!(
        "{}",
        json!({
            "mail": mail.base_url(),
            "edna": edna.base_url(),
            "envelope": envelope.base_url(),
            "receiver": format!("https://{}", receiver.addr()),
            "admin": {
                "mail": admin(mail.addr()),
                "edna": admin(edna.addr()),
                "envelope": admin(envelope.addr()),
            },
        })
    );

    wait_for_signal().await;
    mail.shutdown();
    edna.shutdown();
    envelope.shutdown();
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
