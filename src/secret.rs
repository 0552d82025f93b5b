//! Secrets: API keys are wrapped so that no `Debug`/`Display` ever prints them, and every
//! string the suite writes (evidence, reports, panics) goes through [`redact`] first.
//!
//! ```
//! use hokusai_verify::secret::{ApiKey, redact};
//! let key = ApiKey::parse("hk_live_0123456789abcdefABCDEF0123456789").unwrap();
//! assert_eq!(format!("{key:?}"), "ApiKey(hk_live_…[redacted])");
//! assert!(!redact("got hk_live_0123456789abcdefABCDEF0123456789").contains("0123"));
//! ```

use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::LazyLock;

/// The prefix every Hokusai API key starts with.
pub const KEY_PREFIX: &str = "hk_live_";
/// Number of letters and digits after the prefix.
pub const KEY_BODY_LEN: usize = 32;
/// What a redacted key looks like in any output.
pub const REDACTED: &str = "hk_live_…[redacted]";

/// Why a string is not an API key. Never contains the string itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("it is empty")]
    Empty,
    #[error("it does not start with `{KEY_PREFIX}`")]
    WrongPrefix,
    #[error("it has {0} characters after `{KEY_PREFIX}`, expected {KEY_BODY_LEN}")]
    WrongLength(usize),
    #[error("it contains characters other than letters and digits after `{KEY_PREFIX}`")]
    BadCharacters,
}

/// A Hokusai API key. Cloning is cheap; printing it never shows the secret.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Checks the format (`hk_live_` + 32 letters/digits) without ever echoing the value.
    pub fn parse(raw: &str) -> Result<Self, KeyFormatError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(KeyFormatError::Empty);
        }
        let Some(body) = raw.strip_prefix(KEY_PREFIX) else {
            return Err(KeyFormatError::WrongPrefix);
        };
        if !body.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(KeyFormatError::BadCharacters);
        }
        if body.len() != KEY_BODY_LEN {
            return Err(KeyFormatError::WrongLength(body.len()));
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    /// A fresh random key in the platform's format (stand-in keys and canaries).
    pub fn random() -> Self {
        let body: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(KEY_BODY_LEN)
            .collect();
        Self(SecretString::from(format!("{KEY_PREFIX}{body}")))
    }

    /// The raw key, for the one place that needs it: an outgoing header.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({REDACTED})")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl PartialEq for ApiKey {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}
impl Eq for ApiKey {}

/// Anything that looks like a Hokusai key, even a malformed one with the right prefix, and
/// bearer tokens in header dumps.
static KEY_PATTERN: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i)hk_live_[A-Za-z0-9_\-]*|(bearer\s+)[^\s,;\x22]+").expect("static regex")
});

/// The password of a URL's userinfo (`redis://:pw@host`, `https://user:pw@host`).
static URL_PASSWORD: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.\-]*://[^/@\s:\x22]*):[^@/\s\x22]+@")
        .expect("static regex")
});

/// Removes every API key (and every bearer token, and every password in a URL) from a
/// string. Used on every body excerpt, error message and report line before it is stored or
/// printed.
///
/// ```
/// use hokusai_verify::secret::redact;
/// assert_eq!(redact("redis://:pw123@10.0.0.1:6379/0"), "redis://:[redacted]@10.0.0.1:6379/0");
/// ```
pub fn redact(text: &str) -> String {
    let text = URL_PASSWORD.replace_all(text, "$1:[redacted]@");
    KEY_PATTERN
        .replace_all(&text, |caps: &regex::Captures<'_>| match caps.get(1) {
            Some(scheme) => {
                let token = &caps[0][scheme.as_str().len()..];
                // A word after "bearer" in a sentence is not a token: redact what looks
                // like one (long, or with digits or token punctuation); keys are caught by
                // their prefix anyway.
                // A shell variable (`$HOKUSAI_API_KEY` in a reproduction) is a reference,
                // not a value.
                if token.starts_with('$') {
                    caps[0].to_owned()
                } else if token.len() >= 16
                    || token
                        .chars()
                        .any(|c| c.is_ascii_digit() || "._~+/=-".contains(c))
                {
                    format!("{}[redacted]", scheme.as_str())
                } else {
                    caps[0].to_owned()
                }
            }
            None => REDACTED.to_owned(),
        })
        .into_owned()
}

/// A URL as every message, table and report shows it: without its user information (user
/// name and password), so `redis://:pw@host:6379/0` is `redis://host:6379/0`. The one
/// place a configured URL is turned into text; free text that may hold one goes through
/// [`redact`].
///
/// ```
/// use hokusai_verify::secret::display_url;
/// assert_eq!(display_url("redis://:pw123@10.0.0.1:6379/0"), "redis://10.0.0.1:6379/0");
/// assert_eq!(display_url("https://user:pw@registry.hokus.ai/x"), "https://registry.hokus.ai/x");
/// assert!(!display_url("not a url :pw@").contains("pw"));
/// ```
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "<unparseable URL>".into(),
    }
}

/// A configuration value quoted for an error message, or a placeholder when it could be a
/// secret (a key or token put in the wrong variable): only short values made of the
/// characters of names, numbers and paths are echoed, never a long run of letters and
/// digits, never anything shaped like an API key.
///
/// ```
/// use hokusai_verify::secret::shown;
/// assert_eq!(shown("soon"), "`soon`");
/// assert!(!shown("hk_live_CanaryCanaryCanaryCanary01234567").contains("Canary"));
/// assert!(!shown("s3cr3tT0kenValueWithoutPrefix99").contains("s3cr3t"));
/// ```
pub fn shown(value: &str) -> String {
    let harmless_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._:/,+-".contains(c));
    let longest_run = value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if value.len() <= 64
        && harmless_chars
        && longest_run < 20
        && !value.trim().starts_with("hk_")
        && ApiKey::parse(value.trim()).is_err()
    {
        format!("`{value}`")
    } else {
        "the value (not shown: it may be a secret)".to_owned()
    }
}

/// Replaces the panic hook with one that prints the panic's message and place redacted: a
/// check that panics with a key in its message (a bug of the suite) must not print the key
/// to stderr. The binary installs it first thing.
pub fn install_redacting_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info.payload_as_str().unwrap_or("a panic without a message");
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("panicked{place}: {}", redact(msg));
    }));
}

/// Removes the given secrets (which may not look like keys, e.g. malformed test inputs or
/// AWS secrets) and then everything key-shaped.
pub fn redact_with(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "[redacted]");
    }
    redact(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The redacting hook, seen from outside: this test runs itself again as a child that
    /// panics with a key in its message, and reads the child's stderr.
    #[test]
    fn panic_hook_redacts_keys() {
        const CANARY: &str = "hk_live_CanaryCanaryCanaryCanary01234567";
        if std::env::var_os("HV_PANIC_CHILD").is_some() {
            install_redacting_panic_hook();
            panic!("a check saw {CANARY}");
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "secret::tests::panic_hook_redacts_keys",
                "--nocapture",
            ])
            .env("HV_PANIC_CHILD", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains("a check saw hk_live_…[redacted]"),
            "{stderr}"
        );
        assert!(!stderr.contains("Canary01234567"), "{stderr}");
    }

    #[test]
    fn redaction_keeps_ordinary_words_after_bearer() {
        assert_eq!(
            redact("a key sent as bearer reaches a proxied read"),
            "a key sent as bearer reaches a proxied read"
        );
        assert_eq!(
            redact("the key as a Bearer tracking token"),
            "the key as a Bearer tracking token"
        );
        assert_eq!(redact("Bearer abc123"), "Bearer [redacted]");
        assert_eq!(
            redact("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"),
            "Authorization: Bearer [redacted]"
        );
        assert!(!redact("bearer hk_live_0123456789abcdef0123456789abcdef").contains("0123"));
    }

    #[test]
    fn parse_rejects_malformed_keys_without_echoing_them() {
        assert_eq!(ApiKey::parse(""), Err(KeyFormatError::Empty));
        assert_eq!(ApiKey::parse("sk_live_x"), Err(KeyFormatError::WrongPrefix));
        assert_eq!(
            ApiKey::parse("hk_live_abc"),
            Err(KeyFormatError::WrongLength(3))
        );
        assert_eq!(
            ApiKey::parse("hk_live_0123456789abcdef0123456789abcde!"),
            Err(KeyFormatError::BadCharacters)
        );
        let msg = KeyFormatError::WrongLength(3).to_string();
        assert!(!msg.contains("abc"));
    }

    #[test]
    fn random_keys_are_valid_and_never_printed() {
        let k = ApiKey::random();
        assert!(ApiKey::parse(k.expose()).is_ok());
        for printed in [format!("{k}"), format!("{k:?}"), format!("{:#?}", Some(&k))] {
            assert!(!printed.contains(&k.expose()[8..]), "{printed}");
        }
    }

    #[test]
    fn redact_removes_keys_and_bearer_tokens() {
        let k = ApiKey::random();
        let text = format!(
            "Authorization: Bearer {0} and x-api-key: {0}; bearer abc.def",
            k.expose()
        );
        let out = redact(&text);
        assert!(!out.contains(&k.expose()[8..]), "{out}");
        assert!(!out.contains("abc.def"), "{out}");
        assert!(out.contains("Bearer [redacted]"));
    }
}
