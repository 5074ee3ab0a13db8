//! Schema fragments shared by the provider blocks: what every provider's URL rules have in common.

/// Printable ASCII without spaces: providers want punycode hosts and escaped paths.
pub const PRINTABLE_ASCII_PATTERN: &str = r"^[!-~]+$";

/// Every callback URL is an absolute https URL (CEL, so `kubectl apply` says so in plain words).
pub const HTTPS_URL_RULE: &str = "self.startsWith('https://') && isURL(self)";
pub const HTTPS_URL_MESSAGE: &str = "must be an absolute https:// URL";

/// A lower- or upper-case hex UUID, as DocStudio issues them.
pub const UUID_PATTERN: &str = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A Go-style duration such as `90s`, `10m` or `1h30m`.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";
