//! TLS (`-Z`) against memcached 1.6.45 built with TLS, the oracle, and ferrocache: the same
//! flags, the same clients, the same answers. Certificates are made at test time.
//!
//! Each test starts both servers with a TLS listener (the harness's `-l 127.0.0.1`) and a
//! plain one (`-l notls:...`) to read `stats` from without touching the TLS counters.

use protocol_tests::normalize::normalize;
use protocol_tests::server::{ferrocache_binary, free_port, memcached_binary, Server};
use protocol_tests::tls::{ask, client_config, connect, try_once, Certs};
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A server and the port of its plain-text listener.
struct Running {
    name: &'static str,
    server: Server,
    plain: u16,
}

impl Running {
    fn start(name: &'static str, bin: &PathBuf, flags: &[String]) -> Running {
        let plain = free_port();
        let mut all = vec!["-l".to_string(), format!("notls:127.0.0.1:{plain}")];
        all.extend_from_slice(flags);
        let server = Server::start(bin, &all).unwrap_or_else(|e| panic!("{name}: {e}"));
        Running {
            name,
            server,
            plain,
        }
    }

    fn tls(&self) -> u16 {
        self.server.port
    }

    fn plain_ask(&self, request: &[u8]) -> Vec<u8> {
        self.plain_ask_until(request, &[b"END\r\n", b"OK\r\n"])
    }

    fn plain_ask_until(&self, request: &[u8], ends: &[&[u8]]) -> Vec<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", self.plain)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        ask(&mut s, request, ends).unwrap()
    }

    fn stat(&self, name: &str) -> Option<u64> {
        let reply = self.plain_ask(b"stats\r\n");
        String::from_utf8_lossy(&reply).lines().find_map(|l| {
            let rest = l
                .strip_prefix("STAT ")?
                .strip_prefix(name)?
                .strip_prefix(' ')?;
            rest.trim().parse().ok()
        })
    }

    /// Failed handshakes: memcached counts one in `ssl_handshake_errors` when its accept
    /// call meets it and in `ssl_proto_errors` when its first read does, which is a race;
    /// ferrocache counts every one in `ssl_handshake_errors`. The sum is the same.
    fn tls_errors(&self) -> u64 {
        self.stat("ssl_handshake_errors").unwrap() + self.stat("ssl_proto_errors").unwrap()
    }

    /// Waits (2 s at most) for the error count to reach `want`; returns the count.
    fn errors_reach(&self, want: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let n = self.tls_errors();
            if n >= want || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn both(certs: &Certs, server_cert: &str, extra: &str, more: &[&str]) -> Vec<Running> {
    let mut flags = certs.flags(server_cert, extra);
    flags.extend(more.iter().map(|s| s.to_string()));
    let memcached = memcached_binary().expect("memcached 1.6.45");
    let ferrocache = ferrocache_binary().expect("ferrocache");
    vec![
        Running::start("memcached", &memcached, &flags),
        Running::start("ferrocache", &ferrocache, &flags),
    ]
}

/// TLS serves the protocol, the notls: listener serves plain text, and both servers show the
/// same `stats settings` and the same `stats` (TLS counters included) after the same traffic.
#[test]
fn tls_and_plain_listeners_serve_the_same_cache() {
    let certs = Certs::make("serve");
    let servers = both(&certs, "server", "", &[]);
    let client = client_config(&certs, "ca.pem", None);
    let mut outputs = Vec::new();
    for r in &servers {
        let mut s = connect(r.tls(), client.clone()).unwrap();
        let value = vec![b'v'; 100_000];
        let mut set = b"set big 5 0 100000\r\n".to_vec();
        set.extend_from_slice(&value);
        set.extend_from_slice(b"\r\n");
        assert_eq!(
            ask(&mut s, &set, &[b"\r\n"]).unwrap(),
            b"STORED\r\n",
            "{}",
            r.name
        );
        let got = ask(&mut s, b"get big\r\n", &[b"END\r\n"]).unwrap();
        assert_eq!(
            got.len(),
            "VALUE big 5 100000\r\n".len() + 100_000 + 7,
            "{}",
            r.name
        );
        let plain = r.plain_ask(b"get big\r\n");
        assert_eq!(
            plain, got,
            "{}: the plain listener sees the same item",
            r.name
        );
        let settings = r.plain_ask(b"stats settings\r\n");
        let stats = r.plain_ask(b"stats\r\n");
        drop(s);
        // The plain listener's port is each server's own.
        let settings = String::from_utf8_lossy(&settings)
            .replace(&format!(":{}\r\n", r.plain), ":<plain>\r\n")
            .into_bytes();
        outputs.push((normalize(&settings), normalize(&stats)));
    }
    let (m, f) = (&outputs[0], &outputs[1]);
    assert_eq!(
        String::from_utf8_lossy(&m.0),
        String::from_utf8_lossy(&f.0),
        "stats settings"
    );
    let names = |stats: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(stats)
            .lines()
            .filter_map(|l| l.split(' ').nth(1).map(String::from))
            .collect()
    };
    assert_eq!(names(&m.1), names(&f.1), "stats names and order");
    for name in ["ssl_handshake_errors", "ssl_proto_errors"] {
        assert!(names(&f.1).contains(&name.to_string()), "{name}");
    }
    for r in &servers {
        assert_eq!(r.tls_errors(), 0, "{}", r.name);
    }
}

/// `ssl_verify_mode=2`, `btls:` and `mtls:`: a client certificate of the CA is required where
/// asked for; a missing one, or one of another CA, is refused and counted; `btls:` asks for
/// none.
#[test]
fn client_certificates_as_verify_mode_and_prefixes_say() {
    let certs = Certs::make("verify");
    let (btls, mtls) = (free_port(), free_port());
    let mut flags = certs.flags(
        "server",
        // With its session cache off, memcached 1.6.45 answers a rustls client that shows a
        // certificate with an internal_error alert (OpenSSL's session id context is set only
        // with the cache): the cache is on for both.
        &format!(
            "ssl_ca_cert={},ssl_verify_mode=2,ssl_session_cache",
            certs.path("ca.pem")
        ),
    );
    flags.extend([
        "-l".into(),
        format!("btls:127.0.0.1:{btls}"),
        "-l".into(),
        format!("mtls:127.0.0.1:{mtls}"),
    ]);
    let memcached = memcached_binary().unwrap();
    let ferrocache = ferrocache_binary().unwrap();
    for (name, bin) in [("memcached", &memcached), ("ferrocache", &ferrocache)] {
        // Each server gets its own btls:/mtls: ports.
        let (b, m) = (free_port(), free_port());
        let flags: Vec<String> = flags
            .iter()
            .map(|f| {
                f.replace(&format!(":{btls}"), &format!(":{b}"))
                    .replace(&format!(":{mtls}"), &format!(":{m}"))
            })
            .collect();
        let r = Running::start(name, bin, &flags);
        // A new client for each case: one that kept a session could resume it.
        let anonymous = || client_config(&certs, "ca.pem", None);
        let known = || client_config(&certs, "ca.pem", Some("client"));
        let stranger = || client_config(&certs, "ca.pem", Some("stranger"));
        let version = b"version\r\n";
        let ok = |port, c| try_once(port, c, version).map(|r| r.starts_with(b"VERSION "));
        let mut refusals = 0;
        for (port, client, accepted) in [
            (r.tls(), known(), true),
            (r.tls(), anonymous(), false),
            (r.tls(), stranger(), false),
            (b, anonymous(), true),
            (b, known(), true),
            (m, known(), true),
            (m, anonymous(), false),
            (m, stranger(), false),
        ] {
            let answer = ok(port, client);
            if accepted {
                assert!(matches!(answer, Ok(true)), "{name} port {port}: {answer:?}");
            } else {
                assert!(
                    answer.is_err(),
                    "{name} port {port} (tls {}, btls {b}, mtls {m}): {answer:?}",
                    r.tls()
                );
                refusals += 1;
                assert_eq!(r.errors_reach(refusals), refusals, "{name} port {port}");
            }
        }
        if name == "ferrocache" {
            assert_eq!(r.stat("ssl_handshake_errors"), Some(refusals));
            // A session made on the btls: listener, without a certificate, cannot be resumed
            // on the mtls: one. (memcached 1.6.45 keeps one session cache for all its
            // listeners and resumes it there: a client certificate is then never asked for.)
            let client = anonymous();
            assert!(matches!(ok(b, client.clone()), Ok(true)));
            assert!(ok(m, client).is_err(), "resumed past mtls:");
        }
    }
}

/// Bad input at a TLS port: plain text, a client that trusts another CA, an expired server
/// certificate, a handshake cut off halfway, and one left hanging. Each is refused and
/// counted once, and the server goes on serving the others, hanging one included.
#[test]
fn bad_input_is_refused_counted_and_harmless() {
    let certs = Certs::make("bad");
    let good = client_config(&certs, "ca.pem", None);
    let wrong_ca = client_config(&certs, "other-ca.pem", None);
    // A ClientHello's first 29 bytes: a record header announcing 512 bytes, then the start
    // of the handshake message.
    let mut half_hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    half_hello.extend_from_slice(&[0x61; 18]);
    for expired in [false, true] {
        let servers = both(&certs, if expired { "expired" } else { "server" }, "", &[]);
        for r in &servers {
            let name = r.name;
            if expired {
                // The client refuses the server's certificate; the server counts it.
                let answer = try_once(r.tls(), good.clone(), b"version\r\n");
                let e = answer.expect_err("an expired certificate is refused");
                assert!(
                    e.to_string().contains("expired") || e.to_string().contains("Expired"),
                    "{name}: {e}"
                );
                assert_eq!(r.errors_reach(1), 1, "{name}: expired");
                continue;
            }
            let mut errors = 0;
            // A hanging half handshake, held open through the rest.
            let mut hanging = TcpStream::connect(("127.0.0.1", r.tls())).unwrap();
            hanging.write_all(&half_hello).unwrap();
            // Plain text: no memcached reply, an alert or a reset, and the connection ends.
            let mut plain = TcpStream::connect(("127.0.0.1", r.tls())).unwrap();
            plain
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let reply = ask(&mut plain, b"version\r\n", &[b"\r\n"]);
            assert!(
                !reply.as_ref().is_ok_and(|r| r.starts_with(b"VERSION")),
                "{name}: {reply:?}"
            );
            errors += 1;
            assert_eq!(r.errors_reach(errors), errors, "{name}: plain text");
            // The client trusts another CA: it refuses the server, which counts it.
            assert!(try_once(r.tls(), wrong_ca.clone(), b"version\r\n").is_err());
            errors += 1;
            assert_eq!(r.errors_reach(errors), errors, "{name}: wrong CA");
            // Half a handshake, then the client hangs up.
            let mut cut = TcpStream::connect(("127.0.0.1", r.tls())).unwrap();
            cut.write_all(&half_hello).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            drop(cut);
            errors += 1;
            assert_eq!(r.errors_reach(errors), errors, "{name}: cut off");
            // Meanwhile everyone else is served, over TLS and plain text.
            let reply = try_once(r.tls(), good.clone(), b"version\r\n").unwrap();
            assert!(reply.starts_with(b"VERSION "), "{name}");
            assert!(r.plain_ask(b"stats\r\n").ends_with(b"END\r\n"));
            // The hanging one is a connection like any other until it goes.
            drop(hanging);
            errors += 1;
            assert_eq!(r.errors_reach(errors), errors, "{name}: hung up");
            if name == "ferrocache" {
                assert_eq!(r.stat("ssl_handshake_errors"), Some(errors));
                assert_eq!(r.stat("ssl_proto_errors"), Some(0));
            }
        }
    }
}

/// Waits (`limit` at most) for the server to close `s`; returns how long that took and
/// what the last read gave: `Ok(0)` for a TLS close_notify or a plain EOF, an error for a
/// TLS connection that ended without close_notify (rustls's `UnexpectedEof`).
fn closed_within(
    s: &mut impl std::io::Read,
    limit: Duration,
) -> (Duration, std::io::Result<usize>) {
    let start = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        let read = s.read(&mut buf);
        match read {
            Ok(n) if n > 0 && start.elapsed() < limit => continue,
            _ => return (start.elapsed(), read),
        }
    }
}

/// `-o idle_timeout`: an idle TLS connection is closed with a TLS close_notify (memcached's
/// `SSL_shutdown`), not a bare EOF, which OpenSSL clients answer with an alert and Perl's
/// IO::Socket::SSL dies of (SIGPIPE: t/idle-timeout.t hung with SSL_TEST=1); and it is counted
/// in `idle_kicks`.
#[test]
fn idle_timeout_closes_a_tls_connection_with_close_notify() {
    let certs = Certs::make("idle");
    let client = client_config(&certs, "ca.pem", None);
    let servers = both(&certs, "server", "", &["-o", "idle_timeout=1"]);
    for r in &servers {
        let name = r.name;
        let mut s = connect(r.tls(), client.clone()).unwrap();
        let reply = ask(&mut s, b"version\r\n", &[b"\r\n"]).unwrap();
        assert!(reply.starts_with(b"VERSION "), "{name}");
        s.sock
            .set_read_timeout(Some(Duration::from_secs(8)))
            .unwrap();
        // memcached checks idle connections about once a second, a second late at most.
        let (took, read) = closed_within(&mut s, Duration::from_secs(8));
        assert!(
            matches!(read, Ok(0)),
            "{name}: closed with close_notify, got {read:?} after {took:?}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{name}: closed after {took:?}"
        );
        assert_eq!(r.stat("idle_kicks"), Some(1), "{name}");
        assert_eq!(r.stat("ssl_handshake_errors"), Some(0), "{name}");
    }
}

/// `-o idle_timeout` before the handshake ends: a client that connects and sends nothing,
/// or half a ClientHello, is closed as an idle connection, counted in `idle_kicks` and not
/// as a failed handshake, as memcached counts it.
#[test]
fn idle_timeout_closes_an_unfinished_handshake_as_an_idle_kick() {
    let certs = Certs::make("idle-hs");
    let servers = both(&certs, "server", "", &["-o", "idle_timeout=1"]);
    let half_hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    for r in &servers {
        let name = r.name;
        let silent = TcpStream::connect(("127.0.0.1", r.tls())).unwrap();
        let mut half = TcpStream::connect(("127.0.0.1", r.tls())).unwrap();
        half.write_all(&half_hello).unwrap();
        for (what, mut s) in [("silent", silent), ("half a hello", half)] {
            s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
            let (took, read) = closed_within(&mut s, Duration::from_secs(8));
            assert!(matches!(read, Ok(0)), "{name}: {what}: {read:?}");
            assert!(took < Duration::from_secs(5), "{name}: {what}: {took:?}");
        }
        assert_eq!(r.stat("idle_kicks"), Some(2), "{name}");
        assert_eq!(r.stat("ssl_handshake_errors"), Some(0), "{name}");
        assert_eq!(r.stat("ssl_proto_errors"), Some(0), "{name}");
    }
}

/// ferrocache only: a stop (SIGTERM) closes an idle TLS connection with close_notify too, as
/// every close of a TLS connection does. memcached exits without one (README, differences).
#[test]
fn a_stop_closes_a_tls_connection_with_close_notify() {
    let certs = Certs::make("stop");
    let client = client_config(&certs, "ca.pem", None);
    let ferrocache = ferrocache_binary().expect("ferrocache");
    let r = Running::start("ferrocache", &ferrocache, &certs.flags("server", ""));
    let mut s = connect(r.tls(), client).unwrap();
    let reply = ask(&mut s, b"version\r\n", &[b"\r\n"]).unwrap();
    assert!(reply.starts_with(b"VERSION "));
    // SAFETY: kill(2) on the pid of the child this test started.
    unsafe { libc::kill(r.server.pid() as i32, libc::SIGTERM) };
    let (took, read) = closed_within(&mut s, Duration::from_secs(5));
    assert!(matches!(read, Ok(0)), "{read:?} after {took:?}");
}

fn peer_cert(s: &protocol_tests::tls::TlsStream) -> Vec<u8> {
    s.conn.peer_certificates().unwrap()[0].to_vec()
}

fn pem_der(path: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .to_vec()
}

/// `refresh_certs` and SIGHUP read the files again: new connections get the new certificate,
/// open ones go on with theirs; a file that does not load leaves the old certificate in
/// place and `refresh_certs` answers memcached's error.
#[test]
fn refresh_certs_and_sighup_reload_without_touching_open_connections() {
    let certs = Certs::make("refresh");
    // The files the servers read, which the test overwrites.
    let (live_pem, live_key) = (certs.path("live.pem"), certs.path("live.key"));
    let copy = |name: &str| {
        std::fs::copy(certs.path(&format!("{name}.pem")), &live_pem).unwrap();
        std::fs::copy(certs.path(&format!("{name}.key")), &live_key).unwrap();
    };
    let (first, second) = (
        pem_der(&certs.path("server.pem")),
        pem_der(&certs.path("server2.pem")),
    );
    // A new client for each connection: a client that kept a session would resume it, and
    // a resumed session shows the certificate it was made with.
    let client = || client_config(&certs, "ca.pem", None);
    for (name, bin) in [
        ("memcached", memcached_binary().unwrap()),
        ("ferrocache", ferrocache_binary().unwrap()),
    ] {
        copy("server");
        let flags = vec![
            "-Z".to_string(),
            "-o".into(),
            format!("ssl_chain_cert={live_pem},ssl_key={live_key}"),
        ];
        let r = Running::start(name, &bin, &flags);
        let mut open = connect(r.tls(), client()).unwrap();
        assert_eq!(peer_cert(&open), first, "{name}");
        copy("server2");
        assert_eq!(
            ask(&mut open, b"refresh_certs\r\n", &[b"\r\n"]).unwrap(),
            b"OK\r\n",
            "{name}"
        );
        let fresh = connect(r.tls(), client()).unwrap();
        assert_eq!(
            peer_cert(&fresh),
            second,
            "{name}: new connections get the new one"
        );
        assert_eq!(
            ask(&mut open, b"version\r\n", &[b"\r\n"]).unwrap(),
            b"VERSION 1.6.45\r\n",
            "{name}: the open connection goes on"
        );
        // A chain file that does not load: memcached's error, and the certificate stays.
        std::fs::write(&live_pem, "not a certificate\n").unwrap();
        let reply = r.plain_ask_until(b"refresh_certs\r\n", &[b"\r\n"]);
        let reply = match reply.strip_suffix(b"OK\r\n") {
            Some(_) => panic!("{name}: a bad file was accepted"),
            None => reply,
        };
        assert!(
            reply.starts_with(
                format!("Error loading the certificate chain: {live_pem} : ").as_bytes()
            ) && reply.ends_with(b"\r\n"),
            "{name}: {}",
            String::from_utf8_lossy(&reply)
        );
        let fresh = connect(r.tls(), client()).unwrap();
        assert_eq!(
            peer_cert(&fresh),
            second,
            "{name}: the old certificate stays"
        );
        // SIGHUP reads them too.
        copy("server");
        // SAFETY: kill signals our own child.
        unsafe { libc::kill(r.server.pid() as i32, libc::SIGHUP) };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = connect(r.tls(), client()).unwrap();
            if peer_cert(&s) == first {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: SIGHUP did not reload");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(r.stat("time_since_server_cert_refresh").is_some());
        assert_eq!(
            ask(&mut open, b"version\r\n", &[b"\r\n"]).unwrap(),
            b"VERSION 1.6.45\r\n",
            "{name}"
        );
    }
}

/// Start-up errors: where memcached refuses, ferrocache refuses with the same first words
/// and exit code; where memcached starts and rustls cannot do what is asked, ferrocache
/// refuses (exit 64) and says why.
#[test]
fn start_up_refusals() {
    let certs = Certs::make("refusals");
    let memcached = memcached_binary().unwrap();
    let ferrocache = ferrocache_binary().unwrap();
    let run = |bin: &PathBuf, flags: &[String]| {
        let port = free_port().to_string();
        let mut cmd = Command::new(bin);
        cmd.args(["-U", "0", "-l", "127.0.0.1", "-p", &port, "-u", "root"]);
        let out = cmd
            .args(flags)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // memcached prints OpenSSL's error queue first: its own line is the last.
        let last = stderr.lines().last().unwrap_or_default().to_string();
        (out.status.code(), last)
    };
    let z = |o: String| vec!["-Z".to_string(), "-o".into(), o];
    let server = format!(
        "ssl_chain_cert={},ssl_key={}",
        certs.path("server.pem"),
        certs.path("server.key")
    );
    for (flags, first_words) in [
        (
            vec!["-Z".to_string()],
            "Error loading the certificate chain: (null) : ".to_string(),
        ),
        (
            z(format!("ssl_chain_cert={}", certs.path("server.pem"))),
            "Error loading the key: (null) : ".into(),
        ),
        (
            z(format!(
                "ssl_chain_cert={},ssl_key={}",
                certs.path("server.pem"),
                certs.path("client.key")
            )),
            format!("Error loading the key: {} : ", certs.path("client.key")),
        ),
        (
            z(format!("{server},ssl_ca_cert=/nonexistent/ca.pem")),
            "Error loading the CA certificate: /nonexistent/ca.pem : ".into(),
        ),
        (
            z(format!("{server},ssl_keyformat=3")),
            format!("Error loading the key: {} : ", certs.path("server.key")),
        ),
        (
            z(format!("{server},ssl_ciphers=FOO")),
            "Error setting the provided cipher(s): FOO".into(),
        ),
    ] {
        let (m_code, m_line) = run(&memcached, &flags);
        assert_eq!(m_code, Some(64), "memcached {flags:?}: {m_line}");
        assert!(
            m_line.starts_with(&first_words),
            "memcached {flags:?}: {m_line}"
        );
        let out = Command::new(&ferrocache)
            .args([
                "-U",
                "0",
                "-l",
                "127.0.0.1",
                "-p",
                &free_port().to_string(),
                "-u",
                "root",
            ])
            .args(&flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(64),
            "ferrocache {flags:?}: {stderr}"
        );
        assert!(
            stderr.starts_with(&first_words),
            "ferrocache {flags:?}: {stderr}"
        );
    }
    // memcached starts with these; rustls cannot serve them, so ferrocache refuses.
    for o in [
        format!("{server},ssl_min_version=0"),
        format!("{server},ssl_min_version=1"),
        format!("{server},ssl_kernel_tls"),
        format!("{server},ssl_verify_mode=2"),
        format!("{server},ssl_ciphers=HIGH:!aNULL"),
    ] {
        let (code, line) = run(&ferrocache, &z(o.clone()));
        assert_eq!(code, Some(64), "{o}: {line}");
    }
}
