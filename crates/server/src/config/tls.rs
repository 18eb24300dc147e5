//! `-Z` and the `ssl_*` keys of `-o`, read as memcached 1.6.45 (built with TLS) reads them:
//!
//! ```text
//! -Z -o ssl_chain_cert=<pem>,ssl_key=<file>[,ssl_keyformat=1|2][,ssl_ca_cert=<pem>]
//!    [,ssl_verify_mode=0|1|2|3][,ssl_min_version=2|3][,ssl_ciphers=<list>]
//!    [,ssl_session_cache][,ssl_wbuf_size=<KB>]
//! ```
//!
//! Values are checked with memcached's messages and exit codes. What rustls cannot do (TLS
//! 1.0 and 1.1, kernel TLS, engine keys, OpenSSL cipher expressions, client certificates
//! checked against no CA) is refused at start-up by [`check`], never served differently.

use super::{invalid, ConfigError, EX_USAGE};
use crate::Config;
use std::path::PathBuf;

/// memcached's `goto error` after a bad `-o` value: the process exits 1.
const EXIT_FAILURE: i32 = 1;

/// The TLS settings, as `stats settings` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// `-Z`
    pub enabled: bool,
    /// `ssl_chain_cert`: the server's certificate chain, PEM, leaf first.
    pub chain_cert: Option<PathBuf>,
    /// `ssl_key`: the server's private key.
    pub key: Option<PathBuf>,
    /// `ssl_keyformat`: OpenSSL's file type number, 1 (PEM, the default) or 2 (DER).
    pub keyformat: i32,
    /// `ssl_ca_cert`: the CAs client certificates are checked against, PEM.
    pub ca_cert: Option<PathBuf>,
    /// `ssl_verify_mode`: 0 none, 1 request (checked if sent), 2 require, 3 require once.
    pub verify_mode: u8,
    /// `ssl_min_version`: memcached's number, 2 (TLS 1.2, the default) or 3 (TLS 1.3).
    pub min_version: u8,
    /// `ssl_ciphers`: OpenSSL names of TLS 1.2 suites, as memcached hands them to OpenSSL.
    pub ciphers: Option<String>,
    /// `ssl_wbuf_size`, in bytes (given in kilobytes).
    pub wbuf_size: u32,
    /// `ssl_session_cache`: server-side session resumption.
    pub session_cache: bool,
    /// `ssl_kernel_tls`: refused with `-Z` (rustls has no kernel offload).
    pub kernel_tls: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            enabled: false,
            chain_cert: None,
            key: None,
            keyformat: 1,
            ca_cert: None,
            verify_mode: 0,
            min_version: 2,
            ciphers: None,
            wbuf_size: 16 * 1024,
            session_cache: false,
            kernel_tls: false,
        }
    }
}

/// OpenSSL's `SSL_VERIFY_*` bits for a mode, which memcached's `stats settings` prints.
pub fn verify_bits(mode: u8) -> i32 {
    match mode {
        0 => 0,
        1 => 1,
        2 => 1 | 2,
        _ => 1 | 2 | 4,
    }
}

/// memcached's name of a minimum version number.
pub fn version_name(v: u8) -> &'static str {
    match v {
        0 => "tlsv1.0",
        1 => "tlsv1.1",
        2 => "tlsv1.2",
        3 => "tlsv1.3",
        _ => "unknown",
    }
}

/// The `ssl_*` keys of memcached's `-o`.
pub(super) const KEYS: &[&str] = &[
    "ssl_chain_cert",
    "ssl_key",
    "ssl_verify_mode",
    "ssl_keyformat",
    "ssl_ciphers",
    "ssl_ca_cert",
    "ssl_wbuf_size",
    "ssl_session_cache",
    "ssl_kernel_tls",
    "ssl_min_version",
];

/// Reads one `ssl_*` key, with memcached's checks and messages.
pub(super) fn apply(c: &mut Config, key: &str, value: Option<&str>) -> Result<(), ConfigError> {
    let needed = |what: &str| value.ok_or_else(|| invalid(format!("Missing {what} argument"), 1));
    let number = |what: &str| -> Result<i32, ConfigError> {
        ferrocache_protocol::number::strtol32(needed(what)?.as_bytes())
            .ok_or_else(|| invalid(format!("could not parse argument to {what}"), EXIT_FAILURE))
    };
    let t = &mut c.tls;
    match key {
        "ssl_chain_cert" => t.chain_cert = Some(needed(key)?.into()),
        "ssl_key" => t.key = Some(needed(key)?.into()),
        "ssl_ca_cert" => t.ca_cert = Some(needed(key)?.into()),
        "ssl_ciphers" => t.ciphers = Some(needed(key)?.to_string()),
        "ssl_verify_mode" => {
            let n = number(key)?;
            t.verify_mode = u8::try_from(n).ok().filter(|m| *m <= 3).ok_or_else(|| {
                invalid(
                    "Invalid ssl_verify_mode. Use help to see valid options.",
                    EXIT_FAILURE,
                )
            })?;
        }
        "ssl_keyformat" => t.keyformat = number(key)?,
        "ssl_min_version" => {
            let n = number(key)?;
            t.min_version = u8::try_from(n).ok().filter(|m| *m <= 3).ok_or_else(|| {
                invalid(
                    "Invalid ssl_min_version. Use help to see valid options.",
                    EXIT_FAILURE,
                )
            })?;
        }
        "ssl_wbuf_size" => {
            let kb = ferrocache_protocol::number::strtoul32(needed(key)?.as_bytes())
                .ok_or_else(|| invalid("could not parse argument to ssl_wbuf_size", 1))?;
            t.wbuf_size = kb.wrapping_mul(1024);
        }
        "ssl_session_cache" => t.session_cache = true,
        "ssl_kernel_tls" => t.kernel_tls = true,
        _ => unreachable!("{key} is not an ssl_ key"),
    }
    Ok(())
}

/// What `-Z` needs, once every flag is read: memcached's own check first, then what rustls
/// cannot honour, each refused with its reason (exit 64, as memcached's TLS set-up errors).
/// Without `-Z` memcached reads the keys and uses none of them: so does ferrocache, with a
/// warning.
pub(super) fn check(c: &mut Config) -> Result<(), ConfigError> {
    let t = c.tls.clone();
    if !t.enabled {
        if c.extended.iter().any(|(k, _)| KEYS.contains(&k.as_str())) {
            c.warnings
                .push("-o ssl_* options have no effect without -Z, as in memcached".into());
        }
        return Ok(());
    }
    if c.port == 0 {
        return Err(invalid(
            "ERROR: You cannot enable SSL without a TCP port.",
            EX_USAGE,
        ));
    }
    let refuse = |message: String| Err(invalid(message, EX_USAGE));
    if t.min_version < 2 {
        return refuse(format!(
            "ssl_min_version={} ({}) is refused: ferrocache's TLS (rustls) speaks TLS 1.2 and \
             1.3 only, and would not serve the older version this asks for",
            t.min_version,
            version_name(t.min_version)
        ));
    }
    if t.kernel_tls {
        return refuse(
            "Kernel TLS offload is not available\n\
             (ferrocache's TLS is rustls, in user space: ssl_kernel_tls is refused)"
                .into(),
        );
    }
    if t.verify_mode > 0 && t.ca_cert.is_none() {
        return refuse(format!(
            "ssl_verify_mode={} needs ssl_ca_cert: ferrocache checks client certificates \
             against the CAs of that file only (memcached would start and then fail every \
             client certificate)",
            t.verify_mode
        ));
    }
    if let Some(list) = &t.ciphers {
        if let Err(name) = crate::tls::cipher_suites(list) {
            return refuse(format!(
                "Error setting the provided cipher(s): {list}\n\
                 ({name:?} is not a TLS 1.2 suite that ferrocache's TLS (rustls) has: give \
                 OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256, separated by ':'; \
                 OpenSSL's keywords and operators (HIGH, !aNULL, +, @STRENGTH) are not read)"
            ));
        }
    }
    if t.wbuf_size != 16 * 1024 {
        c.warnings.push(
            "-o ssl_wbuf_size is accepted and has no effect in ferrocache (rustls sizes its \
             records itself)"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        Config::parse_from(std::iter::once("ferrocache").chain(args.iter().copied()))
    }

    fn refused(args: &[&str]) -> (i32, String) {
        match parse(args) {
            Err(ConfigError::Invalid { message, exit_code }) => (exit_code, message),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn keys_are_read_as_memcached_reads_them() {
        let c = parse(&[
            "-Z",
            "-o",
            "ssl_chain_cert=/c.pem,ssl_key=/k.pem,ssl_ca_cert=/ca.pem,ssl_verify_mode=3",
            "-o",
            "ssl_keyformat=2,ssl_min_version=3,ssl_session_cache,ssl_wbuf_size=32",
        ])
        .unwrap();
        let t = &c.tls;
        assert!(t.enabled && t.session_cache);
        assert_eq!(
            t.chain_cert.as_deref(),
            Some(std::path::Path::new("/c.pem"))
        );
        assert_eq!((t.verify_mode, t.keyformat, t.min_version), (3, 2, 3));
        assert_eq!(t.wbuf_size, 32 * 1024);
        let settings = c.settings_stats();
        let get = |name| settings.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("ssl_enabled"), "yes");
        assert_eq!(get("ssl_verify_mode"), "7");
        assert_eq!(get("ssl_min_version"), "tlsv1.3");
        assert_eq!(get("ssl_ciphers"), "NULL");
        // Without -Z: read, shown, and warned about.
        let c = parse(&["-o", "ssl_chain_cert=/c.pem"]).unwrap();
        let settings = c.settings_stats();
        let get = |name| settings.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("ssl_enabled"), "no");
        assert_eq!(get("ssl_key"), "(null)");
        assert!(c.warnings.iter().any(|w| w.contains("without -Z")));
    }

    /// memcached 1.6.45's answers (run as the oracle).
    #[test]
    fn bad_values_get_memcacheds_messages() {
        for (args, code, message) in [
            (
                &["-Z", "-o", "ssl_keyformat=PEM"][..],
                1,
                "could not parse argument to ssl_keyformat",
            ),
            (
                &["-Z", "-o", "ssl_min_version=tlsv1"],
                1,
                "could not parse argument to ssl_min_version",
            ),
            (
                &["-Z", "-o", "ssl_verify_mode=4"],
                1,
                "Invalid ssl_verify_mode. Use help to see valid options.",
            ),
            (
                &["-Z", "-o", "ssl_wbuf_size=abc"],
                1,
                "could not parse argument to ssl_wbuf_size",
            ),
            (
                &["-Z", "-o", "ssl_chain_cert"],
                1,
                "Missing ssl_chain_cert argument",
            ),
            (
                &["-Z", "-p", "0"],
                64,
                "ERROR: You cannot enable SSL without a TCP port.",
            ),
        ] {
            assert_eq!(refused(args), (code, message.to_string()), "{args:?}");
        }
    }

    /// What rustls cannot do is refused with a reason, never served otherwise.
    #[test]
    fn what_rustls_cannot_honour_is_refused() {
        for (args, says) in [
            (&["-Z", "-o", "ssl_min_version=0"][..], "tlsv1.0"),
            (&["-Z", "-o", "ssl_min_version=1"], "tlsv1.1"),
            (
                &["-Z", "-o", "ssl_kernel_tls"],
                "Kernel TLS offload is not available",
            ),
            (&["-Z", "-o", "ssl_verify_mode=2"], "needs ssl_ca_cert"),
            (&["-Z", "-o", "ssl_verify_mode=1"], "needs ssl_ca_cert"),
            (&["-Z", "-o", "ssl_ciphers=HIGH:!aNULL"], "\"HIGH\""),
            (
                &[
                    "-Z",
                    "-o",
                    "ssl_ciphers=ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
                ],
                "\"AES128-SHA\"",
            ),
        ] {
            let (code, message) = refused(args);
            assert_eq!(code, EX_USAGE, "{args:?}");
            assert!(message.contains(says), "{args:?}: {message}");
        }
        // The same values are harmless without -Z, where memcached uses none of them.
        assert!(parse(&["-o", "ssl_min_version=0,ssl_kernel_tls"]).is_ok());
        let c = parse(&[
            "-Z",
            "-o",
            "ssl_ciphers=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305",
        ])
        .unwrap();
        let suites = crate::tls::cipher_suites(c.tls.ciphers.as_deref().unwrap()).unwrap();
        let tls12: Vec<_> = suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            tls12,
            [
                rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            ]
        );
        assert_eq!(suites.len(), 3 + 2, "TLS 1.3's three suites stay");
    }
}
