//! Runs every transcript under `protocol-tests/transcripts/` against real memcached and
//! against ferrocache, each freshly started, and requires identical bytes after the
//! normalisation in `protocol_tests::normalize`.
//!
//! `TRANSCRIPT=<substring>[|<substring>...]` runs only matching transcripts; `DIFF_SELF=1` compares memcached
//! with a second memcached, to check that the transcripts themselves are deterministic.

use protocol_tests::normalize::{escape, normalize};
use protocol_tests::server::{ferrocache_binary, memcached_binary, Server};
use protocol_tests::transcript::{parse_file, run_guided, StepReply, Transcript};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn load_all() -> Vec<Transcript> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("transcripts directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "t"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        all.extend(parse_file(&name, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    let mut names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    for pair in names.windows(2) {
        assert_ne!(pair[0], pair[1], "two transcripts are named {}", pair[0]);
    }
    all
}

/// Runs one transcript on both servers; returns a failure report or None.
fn check(t: &Transcript, oracle: &Path, subject: &Path) -> Option<String> {
    let env = match protocol_tests::sasl::server_env(&t.env) {
        Ok(env) => env,
        Err(e) => return Some(format!("{}: {e}", t.name)),
    };
    let run_on = |bin: &Path, guide: Option<&[StepReply]>| {
        let server = Server::start_with_env(&bin.to_path_buf(), &t.flags, &env)?;
        run_guided(t, server.port, guide)
    };
    // memcached first; its replies tell the second run how long to wait at each send.
    let (expected, guide) = match run_on(oracle, None) {
        Ok(found) => found,
        Err(e) => return Some(format!("{}: {e}", t.name)),
    };
    let actual = match run_on(subject, Some(&guide)) {
        Ok((log, _)) => log,
        Err(e) => return Some(format!("{}: {e}", t.name)),
    };
    let mut expected = normalize(&expected);
    // Comparing memcached with itself checks the transcripts, not the known differences.
    let replacements = if std::env::var_os("DIFF_SELF").is_some() {
        &[][..]
    } else {
        &t.replacements[..]
    };
    for (from, to) in replacements {
        let Some(at) = find(&expected, from) else {
            return Some(format!(
                "{} ({}): memcached's answer no longer contains {:?}: the known difference {} \
                 does not apply",
                t.name,
                t.file,
                String::from_utf8_lossy(&escape(from)),
                t.known_difference.as_deref().unwrap_or("")
            ));
        };
        expected.splice(at..at + from.len(), to.iter().copied());
    }
    let actual = normalize(&actual);
    if expected == actual {
        return None;
    }
    Some(format!(
        "{} ({}) differs\n--- memcached (expected)\n{}\n--- ferrocache\n{}\n",
        t.name,
        t.file,
        String::from_utf8_lossy(&escape_log(&expected)),
        String::from_utf8_lossy(&escape_log(&actual)),
    ))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len().max(1)).position(|w| w == needle)
}

/// Shows received bytes escaped, one reply line per line.
fn escape_log(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in log.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"@") || line == b"<closed>\n" {
            out.extend_from_slice(line);
        } else {
            out.extend_from_slice(b"    ");
            out.extend_from_slice(&escape(line));
            out.push(b'\n');
        }
    }
    out
}

#[test]
fn transcripts_match_memcached() {
    let memcached = memcached_binary().unwrap_or_else(|e| panic!("{e}"));
    let subject = if std::env::var_os("DIFF_SELF").is_some() {
        memcached.clone()
    } else {
        ferrocache_binary().unwrap_or_else(|e| panic!("{e}"))
    };
    let filter = std::env::var("TRANSCRIPT").unwrap_or_default();
    let todo: Vec<Transcript> = load_all()
        .into_iter()
        .filter(|t| filter.split('|').any(|f| t.name.contains(f)))
        .collect();
    assert!(!todo.is_empty(), "no transcript matches {filter:?}");
    let total = todo.len();
    let queue = Arc::new(Mutex::new(todo));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let queue = queue.clone();
            let failures = failures.clone();
            let (memcached, subject) = (memcached.clone(), subject.clone());
            std::thread::spawn(move || loop {
                let Some(t) = queue.lock().unwrap().pop() else {
                    return;
                };
                if let Some(first) = check(&t, &memcached, &subject) {
                    // A difference must be reproducible: run the pair once more on fresh
                    // servers, and report only if it differs again. (Rarely, a freshly
                    // started server closes the harness's first connection; DIFF_SELF=1
                    // shows this happens to memcached too.)
                    match check(&t, &memcached, &subject) {
                        Some(second) => failures.lock().unwrap().push(second),
                        None => {
                            eprintln!("{}: passed on the second run; first run:\n{first}", t.name)
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    for f in failures.iter() {
        eprintln!("{f}");
    }
    eprintln!(
        "differential: {} transcripts, {} differences",
        total,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} transcripts differ",
        failures.len()
    );
}
