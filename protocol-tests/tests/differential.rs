//! Runs every transcript under `protocol-tests/transcripts/` against real memcached and
//! against ferrocache, each freshly started, and requires identical bytes after the
//! normalisation in `protocol_tests::normalize`.
//!
//! `TRANSCRIPT=<substring>[|<substring>...]` runs only matching transcripts; `DIFF_SELF=1` compares memcached
//! with a second memcached, to check that the transcripts themselves are deterministic.

use protocol_tests::normalize::{escape, normalize};
use protocol_tests::server::{ferrocache_binary, memcached_binary, Server};
use protocol_tests::transcript::{
    load_dir, plan, regroup, render, run_plan, Action, Mode, Reply, Transcript, MODES,
};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn load_all() -> Vec<Transcript> {
    load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts"))
}

/// Runs one transcript on memcached as written, and on the subject in every [`MODES`] mode;
/// returns a failure report or None. Every mode must give what memcached gave as written:
/// a server answers every request, in order, however the requests are cut into writes.
fn check(t: &Transcript, oracle: &Path, subject: &Path) -> Option<String> {
    let env = match protocol_tests::sasl::server_env(&t.env) {
        Ok(env) => env,
        Err(e) => return Some(format!("{}: {e}", t.name)),
    };
    let run_on = |bin: &Path, plan: &[Action], guide: Option<&[Reply]>| {
        let server = Server::start_with_env(&bin.to_path_buf(), &t.flags, &env)?;
        run_plan(plan, server.port, guide)
    };
    // memcached first; its replies tell the other runs how long to wait at each send.
    let written = plan(t, Mode::AsWritten);
    let oracle_replies = match run_on(oracle, &written, None) {
        Ok(found) => found,
        Err(e) => return Some(format!("{}: {e}", t.name)),
    };
    // Comparing memcached with itself checks the transcripts, not the known differences.
    let replacements = if std::env::var_os("DIFF_SELF").is_some() {
        &[][..]
    } else {
        &t.replacements[..]
    };
    let mut failures = String::new();
    for mode in MODES {
        let plan = plan(t, mode);
        let guide = regroup(&plan, &oracle_replies);
        let mut expected = normalize(&render(&plan, &guide));
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
        let actual = match run_on(subject, &plan, Some(&guide)) {
            Ok(replies) => normalize(&render(&plan, &replies)),
            Err(e) => return Some(format!("{} ({mode:?}): {e}", t.name)),
        };
        if expected != actual {
            failures.push_str(&format!(
                "{} ({}) differs ({mode:?})\n--- memcached (expected)\n{}\n--- {}\n{}\n",
                t.name,
                t.file,
                String::from_utf8_lossy(&escape_log(&expected)),
                if std::env::var_os("DIFF_SELF").is_some() {
                    "memcached"
                } else {
                    "ferrocache"
                },
                String::from_utf8_lossy(&escape_log(&actual)),
            ));
        }
    }
    (!failures.is_empty()).then_some(failures)
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
    let workers: Vec<_> = (0..12)
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
