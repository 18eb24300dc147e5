//! TLS (`-Z`), served with rustls as memcached 1.6.45 serves it with OpenSSL:
//!
//! ```text
//! ferrocache -Z -o ssl_chain_cert=server.pem,ssl_key=server.key[,ssl_ca_cert=ca.pem,ssl_verify_mode=2]
//!            -l 127.0.0.1:11211 -l notls:127.0.0.1:11212 -l mtls:127.0.0.1:11213
//! refresh_certs\r\n   ->   OK\r\n   (or memcached's "Error loading ...\r\n")
//! ```
//!
//! Every TCP listener speaks TLS, except those whose `-l` entry starts `notls:`; `btls:`
//! listeners ask for no client certificate and `mtls:` ones require one, whatever
//! `ssl_verify_mode` says. The UNIX socket and UDP are never TLS, as in memcached.
//!
//! The certificates are read into a new set of rustls configurations at start-up (before
//! `-u` drops privileges, as memcached reads them), by `refresh_certs` and on SIGHUP; a
//! connection keeps the configuration it shook hands with, so reloading never touches one
//! that is open.

use crate::config::{Config, TlsSettings};
use crate::listen::Stream;
use crate::Shared;
use rustls::crypto::CryptoProvider;
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
    WebPkiClientVerifier,
};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a listener does about TLS, from its `-l` prefix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// No prefix: TLS with `-Z` (checking client certificates as `ssl_verify_mode` says),
    /// plain text without it.
    #[default]
    Default,
    /// `notls:`: plain text.
    Off,
    /// `btls:`: TLS, no client certificate asked for.
    NoPeer,
    /// `mtls:`: TLS, a client certificate signed by `ssl_ca_cert` required.
    Peer,
}

/// OpenSSL's names of the TLS 1.2 suites rustls has (memcached hands `ssl_ciphers` to
/// OpenSSL, which applies it to TLS 1.2 and below only; TLS 1.3 keeps all its suites).
const TLS12_NAMES: &[(&str, SupportedCipherSuite)] = {
    use rustls::crypto::aws_lc_rs::cipher_suite::*;
    &[
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-RSA-AES256-GCM-SHA384",
            TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-RSA-CHACHA20-POLY1305",
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ]
};

/// The suites an `ssl_ciphers` list names: the TLS 1.3 suites, then the named TLS 1.2 ones
/// in the list's order. The error is the first name that is not a suite rustls has
/// (OpenSSL's keywords and operators included).
pub fn cipher_suites(list: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut suites: Vec<SupportedCipherSuite> = rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
        .iter()
        .copied()
        .filter(|s| s.version() == &rustls::version::TLS13)
        .collect();
    for name in list.split([':', ',', ' ']).filter(|n| !n.is_empty()) {
        let Some((_, suite)) = TLS12_NAMES.iter().find(|(n, _)| *n == name) else {
            return Err(name.to_string());
        };
        if !suites.contains(suite) {
            suites.push(*suite);
        }
    }
    Ok(suites)
}

/// memcached's TLS counters.
#[derive(Default)]
pub(crate) struct TlsCounters {
    /// Handshakes that failed: refused certificates, plain text sent to a TLS port, a client
    /// that hung up before the handshake ended (`ssl_handshake_errors`).
    pub handshake_errors: AtomicU64,
    /// TLS errors after the handshake: a record that does not decrypt or parse
    /// (`ssl_proto_errors`).
    pub proto_errors: AtomicU64,
    /// Sessions stored for resumption, with `ssl_session_cache` (`ssl_new_sessions`).
    pub new_sessions: AtomicU64,
}

/// A session cache that counts what it stores, for `ssl_new_sessions` (OpenSSL's new
/// session callback, in memcached).
#[derive(Debug)]
struct CountingCache {
    inner: Arc<ServerSessionMemoryCache>,
    counters: Arc<TlsCountersHandle>,
}

/// The counters, shareable with rustls (which wants `Debug`).
struct TlsCountersHandle(Arc<TlsCounters>);

impl std::fmt::Debug for TlsCountersHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsCounters")
    }
}

impl StoresServerSessions for CountingCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let stored = self.inner.put(key, value);
        if stored {
            self.counters.0.new_sessions.fetch_add(1, Ordering::Relaxed);
        }
        stored
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(key)
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

/// OpenSSL's default session cache size (`SSL_SESSION_CACHE_MAX_SIZE_DEFAULT`).
const SESSION_CACHE_SIZE: usize = 20 * 1024;

/// One rustls configuration per kind of listener, made from one reading of the files.
struct Contexts {
    default: Arc<ServerConfig>,
    no_peer: Arc<ServerConfig>,
    /// `None` without `ssl_ca_cert` (an `mtls:` listener then refuses to start).
    peer: Option<Arc<ServerConfig>>,
}

/// The server's TLS state.
///
/// Why it is shaped this way: connections take an `Arc` of the current configuration for
/// their handshake and keep it, so `refresh_certs` (any connection) and SIGHUP (the main
/// thread) swap in a new one under a lock held only for the swap, and the handshakes in
/// flight never wait for file reads. The session caches outlive reloads (OpenSSL's live in
/// its context, which memcached keeps), one per kind of listener so that a session made
/// without a client certificate cannot be resumed on an `mtls:` listener.
pub struct Tls {
    settings: TlsSettings,
    current: RwLock<Arc<Contexts>>,
    caches: [Arc<CountingCache>; 3],
    /// Without `ssl_session_cache`: stateless TLS 1.3 tickets, as OpenSSL still issues them
    /// with memcached's cache off; one ticket key per kind of listener, kept across reloads.
    ticketers: [Arc<dyn ProducesTickets>; 3],
    pub(crate) counters: Arc<TlsCounters>,
    /// When the certificates were last read successfully (`time_since_server_cert_refresh`).
    loaded_at: Mutex<Instant>,
    /// Serialises reloads, so two at once cannot install the older reading last.
    reload: Mutex<()>,
}

impl Tls {
    /// Reads the certificates of a `-Z` configuration. The error is what memcached prints
    /// (its "Error loading ..." line), to print before exiting 64 as memcached does.
    pub fn load(config: &Config) -> Result<Arc<Tls>, String> {
        let counters = Arc::new(TlsCounters::default());
        let cache = || {
            Arc::new(CountingCache {
                inner: ServerSessionMemoryCache::new(SESSION_CACHE_SIZE),
                counters: Arc::new(TlsCountersHandle(counters.clone())),
            })
        };
        let caches = [cache(), cache(), cache()];
        let ticketer = || {
            rustls::crypto::aws_lc_rs::Ticketer::new()
                .map_err(|e| format!("Error setting up TLS session tickets: {e}"))
        };
        let ticketers = [ticketer()?, ticketer()?, ticketer()?];
        let contexts = build(&config.tls, &caches, &ticketers)?;
        Ok(Arc::new(Tls {
            settings: config.tls.clone(),
            current: RwLock::new(Arc::new(contexts)),
            caches,
            ticketers,
            counters,
            loaded_at: Mutex::new(Instant::now()),
            reload: Mutex::new(()),
        }))
    }

    /// `refresh_certs` and SIGHUP: reads the files again. On success new handshakes use the
    /// new certificates; on failure the old ones stay and the error is memcached's message.
    pub fn refresh(&self) -> Result<(), String> {
        let _one_at_a_time = self.reload.lock().unwrap_or_else(|e| e.into_inner());
        let contexts = build(&self.settings, &self.caches, &self.ticketers)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(contexts);
        *self.loaded_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        Ok(())
    }

    /// Seconds since the certificates were last read.
    pub fn since_refresh(&self) -> u64 {
        self.loaded_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            .as_secs()
    }

    pub fn session_cache(&self) -> bool {
        self.settings.session_cache
    }

    /// The configuration a listener of this kind shakes hands with now; `None` for plain
    /// text.
    fn config_for(&self, mode: TlsMode) -> Option<Arc<ServerConfig>> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match mode {
            TlsMode::Off => None,
            TlsMode::Default => Some(current.default.clone()),
            TlsMode::NoPeer => Some(current.no_peer.clone()),
            TlsMode::Peer => current.peer.clone(),
        }
    }
}

/// Reads the files and makes the configurations, failing as memcached's
/// `load_server_certificates` fails (its messages, with rustls's reasons).
fn build(
    t: &TlsSettings,
    caches: &[Arc<CountingCache>; 3],
    ticketers: &[Arc<dyn ProducesTickets>; 3],
) -> Result<Contexts, String> {
    let shown = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or_else(|| "(null)".to_string(), |p| p.display().to_string())
    };
    let chain_error = |why: String| {
        format!(
            "Error loading the certificate chain: {} : {why}",
            shown(&t.chain_cert)
        )
    };
    let key_error = |why: String| format!("Error loading the key: {} : {why}", shown(&t.key));
    let chain_path = t
        .chain_cert
        .as_deref()
        .ok_or_else(|| chain_error("no ssl_chain_cert given".into()))?;
    let chain = read_certs(chain_path).map_err(chain_error)?;
    let key_path = t
        .key
        .as_deref()
        .ok_or_else(|| key_error("no ssl_key given".into()))?;
    let key: PrivateKeyDer<'static> = match t.keyformat {
        1 => PrivateKeyDer::from_pem_file(key_path).map_err(|e| key_error(e.to_string()))?,
        2 => {
            let bytes = std::fs::read(key_path).map_err(|e| key_error(io_reason(&e)))?;
            PrivateKeyDer::try_from(bytes).map_err(|e| key_error(e.to_string()))?
        }
        n => {
            return Err(key_error(format!(
                "bad ssl filetype (ssl_keyformat={n}: 1 is PEM, 2 is DER; rustls loads no \
                 ENGINE keys)"
            )))
        }
    };
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(list) = &t.ciphers {
        provider.cipher_suites = cipher_suites(list)
            .map_err(|name| format!("Error setting the provided cipher(s): {list} ({name})"))?;
    }
    let provider = Arc::new(provider);
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| key_error(e.to_string()))?;
    let certified = Arc::new(CertifiedKey::new(chain, signing));
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => return Err(key_error("key values mismatch".into())),
    }
    let roots = match &t.ca_cert {
        None => None,
        Some(path) => {
            let ca_error = |why: String| {
                format!(
                    "Error loading the CA certificate: {} : {why}",
                    path.display()
                )
            };
            let mut roots = RootCertStore::empty();
            for cert in read_certs(path).map_err(ca_error)? {
                roots
                    .add(cert)
                    .map_err(|e| ca_error(format!("not a CA certificate: {e}")))?;
            }
            Some(Arc::new(roots))
        }
    };
    let versions: &[&'static SupportedProtocolVersion] = if t.min_version >= 3 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let make = |client_auth: ClientAuth, i: usize| {
        let resume = if t.session_cache {
            Resumption::Cache(caches[i].clone())
        } else {
            Resumption::Tickets(ticketers[i].clone())
        };
        make_config(&provider, versions, &roots, client_auth, &certified, resume)
    };
    let default_auth = match t.verify_mode {
        0 => ClientAuth::None,
        1 => ClientAuth::Optional,
        _ => ClientAuth::Required,
    };
    Ok(Contexts {
        default: make(default_auth, 0)?,
        no_peer: make(ClientAuth::None, 1)?,
        peer: match roots {
            Some(_) => Some(make(ClientAuth::Required, 2)?),
            None => None,
        },
    })
}

/// How sessions are resumed: memcached's `ssl_session_cache` (a server-side cache, counted),
/// or without it OpenSSL's default, stateless TLS 1.3 tickets.
enum Resumption {
    Cache(Arc<CountingCache>),
    Tickets(Arc<dyn ProducesTickets>),
}

#[derive(Clone, Copy)]
enum ClientAuth {
    None,
    /// Asked for, checked if sent (`ssl_verify_mode=1`).
    Optional,
    /// Required (`ssl_verify_mode=2` or `3`, `mtls:`).
    Required,
}

fn make_config(
    provider: &Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    roots: &Option<Arc<RootCertStore>>,
    client_auth: ClientAuth,
    certified: &Arc<CertifiedKey>,
    resume: Resumption,
) -> Result<Arc<ServerConfig>, String> {
    let invalid = |e: rustls::Error| format!("Error validating the certificate: {e}");
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(invalid)?;
    let builder = match (client_auth, roots) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some(roots)) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
            let verifier = match auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("Error loading the CA certificate: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config =
        builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified.clone())));
    match resume {
        Resumption::Cache(cache) => config.session_storage = cache,
        Resumption::Tickets(ticketer) => {
            config.session_storage = Arc::new(NoServerSessionStorage {});
            config.ticketer = ticketer;
        }
    }
    Ok(Arc::new(config))
}

/// The certificates of a PEM file; at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certs)
}

fn io_reason(e: &io::Error) -> String {
    crate::listen::strerror(e)
}

/// Starts TLS on an accepted connection as its listener says (a plain connection is
/// returned as it is). A failed handshake is counted and ends the connection; so does a
/// stop asked for during it (not counted). A client that goes quiet for `-o idle_timeout`
/// before the handshake ends is closed as memcached closes it: an idle connection, counted
/// in `idle_kicks` (memcached's idle check sees a connection in its handshake as one
/// waiting to read), not a failed handshake.
pub(crate) async fn start(
    stream: Stream,
    mode: TlsMode,
    shared: &Shared,
    fd: i32,
) -> io::Result<Stream> {
    let Some(tls) = &shared.tls else {
        return Ok(stream);
    };
    let Stream::Tcp(tcp) = stream else {
        return Ok(stream);
    };
    let Some(config) = tls.config_for(mode) else {
        return Ok(Stream::Tcp(tcp));
    };
    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(tcp);
    let handshake = async {
        match shared.config.idle_timeout {
            0 => Some(handshake.await),
            secs => tokio::time::timeout(std::time::Duration::from_secs(secs), handshake)
                .await
                .ok(),
        }
    };
    let done = tokio::select! {
        biased;
        _ = shared.stop.cancelled() => {
            return Err(io::Error::other("stopping during a TLS handshake"));
        }
        done = handshake => done,
    };
    match done {
        Some(Ok(stream)) => Ok(Stream::Tls(Box::new(TlsConn {
            stream,
            counters: tls.counters.clone(),
        }))),
        Some(Err(e)) => {
            tls.counters
                .handshake_errors
                .fetch_add(1, Ordering::Relaxed);
            Err(io::Error::new(
                e.kind(),
                format!("TLS handshake failed: {e}"),
            ))
        }
        None => {
            crate::conn::idle_kick(shared, fd);
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "idle_timeout during the TLS handshake",
            ))
        }
    }
}

/// A TLS connection after its handshake, counting the protocol errors it meets.
pub struct TlsConn {
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    counters: Arc<TlsCounters>,
}

impl TlsConn {
    pub fn tcp(&self) -> &tokio::net::TcpStream {
        self.stream.get_ref().0
    }

    /// rustls reports a record it cannot decrypt or parse as `InvalidData`.
    fn count<T>(&self, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &r {
            if e.kind() == io::ErrorKind::InvalidData {
                self.counters.proto_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.count(r)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.count(r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.count(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_flush(cx);
        this.count(r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
