//! TLS test material: certificates made at test time (never committed), and a small
//! rustls client that speaks memcached's text protocol.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A folder of PEM files: `ca.pem`; `server.pem`/`server.key` and `server2.pem`/`server2.key`
/// (two server certificates for localhost and 127.0.0.1, signed by the CA); `client.pem`/
/// `client.key` (signed by the CA); `other-ca.pem` and `stranger.pem`/`stranger.key` (a
/// client certificate signed by that other CA); `expired.pem`/`expired.key` (a server
/// certificate of the CA that expired in 2020).
pub struct Certs {
    pub dir: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    let pem = params.self_signed(&key).expect("CA").pem();
    (params, key, pem)
}

fn leaf(name: &str, issuer: &Issuer<'_, KeyPair>, expired: bool) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    if expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let cert = params.signed_by(&key, issuer).expect("leaf");
    (cert.pem(), key.serialize_pem())
}

impl Certs {
    /// Makes the certificates in a new folder under the system's temporary directory.
    pub fn make(tag: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!(
            "ferrocache-tls-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (ca_params, ca_key, ca_pem) = ca("ferrocache test CA");
        let issuer = Issuer::new(ca_params, ca_key);
        let (other_params, other_key, other_pem) = ca("some other CA");
        let other = Issuer::new(other_params, other_key);
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write("ca.pem", &ca_pem);
        write("other-ca.pem", &other_pem);
        for (name, issuer, expired) in [
            ("server", &issuer, false),
            ("server2", &issuer, false),
            ("client", &issuer, false),
            ("stranger", &other, false),
            ("expired", &issuer, true),
        ] {
            let (cert, key) = leaf(name, issuer, expired);
            write(&format!("{name}.pem"), &cert);
            write(&format!("{name}.key"), &key);
        }
        Certs { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// `-Z` and the `-o` keys for the server certificate `name` (`server`, `expired`...).
    pub fn flags(&self, name: &str, extra: &str) -> Vec<String> {
        let mut o = format!(
            "ssl_chain_cert={},ssl_key={}",
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key"))
        );
        if !extra.is_empty() {
            o.push(',');
            o.push_str(extra);
        }
        vec!["-Z".into(), "-o".into(), o]
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        // TLS_KEEP_CERTS=1 keeps them, to try a failing case by hand.
        if std::env::var_os("TLS_KEEP_CERTS").is_some() {
            eprintln!("certificates kept in {}", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn read_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_file_iter(path)
        .expect("PEM")
        .collect::<Result<_, _>>()
        .expect("certs")
}

/// A client: trusts the CAs of `ca` and shows the certificate `client` (`client`,
/// `stranger`), if any.
pub fn client_config(certs: &Certs, ca: &str, client: Option<&str>) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(&certs.dir.join(ca)) {
        roots.add(c).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some(name) => {
            use rustls::pki_types::pem::PemObject;
            let chain = read_certs(&certs.dir.join(format!("{name}.pem")));
            let key = PrivateKeyDer::from_pem_file(certs.dir.join(format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    Arc::new(config)
}

pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connects and completes the handshake (a TLS 1.3 server's verdict on the client's
/// certificate arrives with the first reply, so a caller checks one request too).
pub fn connect(port: u16, config: Arc<rustls::ClientConfig>) -> std::io::Result<TlsStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    let conn = rustls::ClientConnection::new(config, ServerName::try_from("localhost").unwrap())
        .map_err(std::io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Sends `request` and reads until the reply ends with one of `ends` (or the peer closes).
pub fn ask(s: &mut impl ReadWrite, request: &[u8], ends: &[&[u8]]) -> std::io::Result<Vec<u8>> {
    s.write_all(request)?;
    s.flush()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        reply.extend_from_slice(&buf[..n]);
        if ends.iter().any(|e| reply.ends_with(e)) {
            return Ok(reply);
        }
    }
}

pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// One request-reply over a new TLS connection: `Ok(reply)` or the error that refused it.
pub fn try_once(
    port: u16,
    config: Arc<rustls::ClientConfig>,
    request: &[u8],
) -> std::io::Result<Vec<u8>> {
    let mut s = connect(port, config)?;
    ask(&mut s, request, &[b"\r\n"])
}
