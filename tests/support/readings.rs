//! The readings matrix: `SIM_READING` names switches of the provider simulators (one reading of a contract each,
//! tests/simulators/README.md) that every bench applies to its simulator at start, so the whole provider e2e suite
//! runs under that reading. `scripts/test-readings` runs the suite once per reading and prints a table.
//!
//! Format: `provider.switch=value`, several separated by `;` — e.g. `envelope.date_echo=null`,
//! `edna.tenant_wide_scope=separate_default;edna.error_style=problem`, `mail.not_found_http_status=404`. The value
//! is JSON (`true`, `404`, `{"code":{"http":422,"code":2799}}`) or else a bare word (an enum's snake_case name; `null`
//! is the word, as in `date_echo=null`).

use serde_json::Value;

/// One switch of one provider's simulator.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub provider: String,
    pub switch: String,
    pub value: Value,
}

/// Parses a `SIM_READING` text. Panics on a malformed entry: a typo must not run the suite under the defaults.
pub fn parse(text: &str) -> Vec<Reading> {
    text.split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, value) = entry
                .split_once('=')
                .unwrap_or_else(|| panic!("SIM_READING entry {entry:?} is not provider.switch=value"));
            let (provider, switch) = name
                .trim()
                .split_once('.')
                .unwrap_or_else(|| panic!("SIM_READING entry {entry:?} names no provider (provider.switch=value)"));
            let value = value.trim();
            let value = match serde_json::from_str::<Value>(value) {
                Ok(Value::Null) | Err(_) => Value::String(value.to_string()),
                Ok(json) => json,
            };
            Reading {
                provider: provider.to_string(),
                switch: switch.to_string(),
                value,
            }
        })
        .collect()
}

/// The readings `SIM_READING` asks for, for `provider` (`mail`, `edna`, `envelope`).
pub fn current(provider: &str) -> Vec<Reading> {
    parse(&std::env::var("SIM_READING").unwrap_or_default())
        .into_iter()
        .filter(|r| r.provider == provider)
        .collect()
}

/// Whether `SIM_READING` switches `provider`'s `switch` to `value` (a bare word or JSON text).
pub fn is(provider: &str, switch: &str, value: &str) -> bool {
    let wanted = parse(&format!("{provider}.{switch}={value}")).remove(0).value;
    current(provider)
        .iter()
        .any(|r| r.switch == switch && r.value == wanted)
}

/// `switches` (a simulator's switch struct as JSON) with `readings` applied. Panics on a switch the struct does not
/// have.
pub fn apply(mut switches: Value, readings: &[Reading]) -> Value {
    for reading in readings {
        let object = switches.as_object_mut().expect("switches serialise as an object");
        assert!(
            object.contains_key(&reading.switch),
            "SIM_READING: the {} simulator has no switch {:?} (it has {:?})",
            reading.provider,
            reading.switch,
            object.keys().collect::<Vec<_>>()
        );
        object.insert(reading.switch.clone(), reading.value.clone());
    }
    switches
}

/// Applies `SIM_READING` to a simulator through its switch struct `T`.
pub fn apply_to<T: serde::Serialize + serde::de::DeserializeOwned>(
    provider: &str,
    get: impl FnOnce() -> T,
    set: impl FnOnce(T),
) {
    let readings = current(provider);
    if readings.is_empty() {
        return;
    }
    let switched = apply(serde_json::to_value(get()).expect("switches serialise"), &readings);
    let switches = serde_json::from_value(switched)
        .unwrap_or_else(|err| panic!("SIM_READING {readings:?}: not a value of that switch: {err}"));
    set(switches);
    eprintln!("simulator {provider} under SIM_READING {readings:?}");
}
