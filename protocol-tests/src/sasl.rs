//! SASL for the two servers of a transcript.
//!
//! A transcript names its users the way memcached's password-database build and ferrocache
//! read them: `env: MEMCACHED_SASL_PWDB=<file of user:password lines>`. memcached 1.6.45
//! still checks a PLAIN login through libsasl2's sasldb, so the harness turns the file into
//! what it reads: a sasldb made with `saslpasswd2` (Debian's sasl2-bin) and a
//! `memcached.conf` that allows only PLAIN and points at it, found through
//! `SASL_CONF_PATH`. Both servers get all the variables; each reads only its own.
//! protocol-tests/README.md has the recipe.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The libsasl2 configuration memcached reads from `$SASL_CONF_PATH/memcached.conf`.
pub fn memcached_conf(sasldb: &Path) -> String {
    format!("mech_list: plain\nsasldb_path: {}\n", sasldb.display())
}

/// The `user:password` pairs of a password file, as ferrocache reads them.
pub fn pwdb_users(text: &str) -> Vec<(String, String)> {
    let mut users: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let Some((user, rest)) = line.split_once(':') else {
            continue;
        };
        let password = rest.split(':').next().unwrap_or("");
        if !users.iter().any(|(u, _)| u == user) {
            users.push((user.to_string(), password.to_string()));
        }
    }
    users
}

/// The environment for both servers: `env`, plus `SASL_CONF_PATH` for memcached when `env`
/// names a `MEMCACHED_SASL_PWDB` and no `SASL_CONF_PATH`.
pub fn server_env(env: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let mut out = env.to_vec();
    let pwdb = env.iter().find(|(k, _)| k == "MEMCACHED_SASL_PWDB");
    if let (Some((_, pwdb)), false) = (pwdb, env.iter().any(|(k, _)| k == "SASL_CONF_PATH")) {
        let dir = sasl_conf_dir(Path::new(pwdb))?;
        out.push(("SASL_CONF_PATH".into(), dir.display().to_string()));
    }
    Ok(out)
}

/// A directory holding `memcached.conf` and the sasldb for `pwdb`, made once per process.
fn sasl_conf_dir(pwdb: &Path) -> Result<PathBuf, String> {
    static MADE: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let mut made = MADE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = made.get(pwdb) {
        return Ok(dir.clone());
    }
    let text = std::fs::read_to_string(pwdb)
        .map_err(|e| format!("cannot read {}: {e}", pwdb.display()))?;
    let dir = std::env::temp_dir().join(format!(
        "protocol-tests-sasl-{}-{}",
        std::process::id(),
        made.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let sasldb = dir.join("sasldb2");
    let saslpasswd2 = saslpasswd2()?;
    for (user, password) in pwdb_users(&text) {
        let mut child = Command::new(&saslpasswd2)
            .args(["-p", "-c", "-a", "memcached", "-f"])
            .arg(&sasldb)
            .arg(&user)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", saslpasswd2.display()))?;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(password.as_bytes())
            .map_err(|e| format!("saslpasswd2: {e}"))?;
        let done = child
            .wait_with_output()
            .map_err(|e| format!("saslpasswd2: {e}"))?;
        if !done.status.success() {
            return Err(format!(
                "saslpasswd2 failed for {user}: {}",
                String::from_utf8_lossy(&done.stderr)
            ));
        }
    }
    std::fs::write(dir.join("memcached.conf"), memcached_conf(&sasldb))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    made.insert(pwdb.to_path_buf(), dir.clone());
    Ok(dir)
}

/// `saslpasswd2` from `PATH` or /usr/sbin.
fn saslpasswd2() -> Result<PathBuf, String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join("saslpasswd2"))
        .find(|p| p.is_file());
    found.ok_or_else(|| {
        "saslpasswd2 is not installed: SASL transcripts need it to give memcached its \
             users (Debian: apt-get install sasl2-bin)"
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_as_ferrocache_reads_them() {
        assert_eq!(
            pwdb_users("a:1\nb:2:extra\nnocolon\na:3\n"),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }

    #[test]
    fn env_without_a_pwdb_is_left_alone() {
        let env = vec![("X".to_string(), "1".to_string())];
        assert_eq!(server_env(&env).unwrap(), env);
        let with_conf = vec![
            (
                "MEMCACHED_SASL_PWDB".to_string(),
                "/nonexistent".to_string(),
            ),
            ("SASL_CONF_PATH".to_string(), "/etc/x".to_string()),
        ];
        assert_eq!(server_env(&with_conf).unwrap(), with_conf);
        assert!(memcached_conf(Path::new("/d/sasldb2")).contains("mech_list: plain\n"));
    }
}
