//! memcached's binary protocol (deprecated by memcached since 1.6, still served).
//!
//! Every packet starts with a 24-byte header; all numbers are big-endian:
//!
//! ```text
//! byte 0     magic       0x80 request, 0x81 response
//! byte 1     opcode
//! bytes 2-3  key length
//! byte 4     extras length
//! byte 5     data type   (0)
//! bytes 6-7  vbucket id (request) / status (response)
//! bytes 8-11 total body length: extras + key + value
//! bytes 12-15 opaque     echoed back
//! bytes 16-23 CAS
//! ```
//!
//! followed by the extras, the key and the value. The parser checks each opcode's shape as
//! memcached does and reports what memcached would answer when it is wrong.

pub mod opcode;
mod response;

pub use response::{response, Status};

use crate::{item_size, Limits, Parsed, Reject, Rejection, KEY_MAX_LENGTH};

/// The length of a packet header.
pub const HEADER_LEN: usize = 24;
/// A request's magic byte.
pub const REQUEST_MAGIC: u8 = 0x80;
/// A response's magic byte.
pub const RESPONSE_MAGIC: u8 = 0x81;

/// A request header, in host byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub opcode: u8,
    pub key_len: u16,
    pub extras_len: u8,
    pub body_len: u32,
    pub opaque: u32,
    pub cas: u64,
}

impl Header {
    fn decode(b: &[u8]) -> Header {
        Header {
            opcode: b[1],
            key_len: u16::from_be_bytes([b[2], b[3]]),
            extras_len: b[4],
            body_len: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            opaque: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            cas: u64::from_be_bytes([b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23]]),
        }
    }
}

/// What a binary request turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A well-formed request.
    Ok,
    /// The header is inconsistent (key or extras longer than the body): memcached answers
    /// "Unknown command" and closes the connection.
    BadLengths,
    /// The opcode's shape is wrong, or the key is over 250 bytes: memcached answers
    /// "Invalid arguments" and closes the connection.
    ProtocolError,
    /// The item would be over `-I`: "Too large.", and the value is swallowed.
    TooLarge,
    /// An opcode memcached does not serve: "Unknown command", and `swallow` bytes are
    /// dropped.
    Unknown,
}

/// A parsed binary request, borrowing from the read buffer.
///
/// Its `Debug` form leaves out the data of SASL auth and step requests (credentials), so a
/// request can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub header: Header,
    pub kind: Kind,
    pub extras: &'a [u8],
    pub key: &'a [u8],
    /// The value, for the opcodes that carry one.
    pub value: &'a [u8],
    /// Bytes after this request to read and drop.
    pub swallow: usize,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = matches!(self.header.opcode, opcode::SASL_AUTH | opcode::SASL_STEP);
        let mut d = f.debug_struct("Request");
        d.field("header", &self.header)
            .field("kind", &self.kind)
            .field("extras", &self.extras)
            .field("key", &self.key);
        if secret {
            d.field(
                "value",
                &format_args!("<{} bytes hidden>", self.value.len()),
            );
        } else {
            d.field("value", &self.value);
        }
        d.field("swallow", &self.swallow).finish()
    }
}

impl Request<'_> {
    /// The `n`th big-endian u32 of the extras.
    pub fn extra_u32(&self, n: usize) -> u32 {
        let b = &self.extras[n * 4..n * 4 + 4];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The big-endian u64 at byte `at` of the extras.
    pub fn extra_u64(&self, at: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.extras[at..at + 8]);
        u64::from_be_bytes(b)
    }
}

/// Encodes a request as a client sends it.
pub fn encode_request(
    opcode: u8,
    opaque: u32,
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(HEADER_LEN + extras.len() + key.len() + value.len());
    p.push(REQUEST_MAGIC);
    p.push(opcode);
    p.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.push(extras.len() as u8);
    p.extend_from_slice(&[0, 0, 0]);
    p.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
    p.extend_from_slice(&opaque.to_be_bytes());
    p.extend_from_slice(&cas.to_be_bytes());
    p.extend_from_slice(extras);
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

/// Does `opcode` carry a value that must be read before it runs?
fn carries_value(op: u8) -> bool {
    use opcode::*;
    matches!(
        op,
        SET | ADD | REPLACE | SETQ | ADDQ | REPLACEQ | APPEND | PREPEND | APPENDQ | PREPENDQ
    )
}

/// memcached's shape check for each opcode: `None` for an opcode it does not serve.
fn shape_ok(op: u8, ext: usize, key: usize, body: usize) -> Option<bool> {
    use opcode::*;
    Some(match op {
        VERSION | NOOP | QUIT | QUITQ | SASL_LIST_MECHS => ext == 0 && key == 0 && body == 0,
        FLUSH | FLUSHQ => key == 0 && body == ext && (ext == 0 || ext == 4),
        SET | ADD | REPLACE | SETQ | ADDQ | REPLACEQ => ext == 8 && key != 0 && body >= key + 8,
        GET | GETQ | GETK | GETKQ => ext == 0 && body == key && key > 0,
        DELETE | DELETEQ => key > 0 && ext == 0 && body == key,
        INCREMENT | DECREMENT | INCREMENTQ | DECREMENTQ => {
            key > 0 && ext == 20 && body == key + ext
        }
        APPEND | PREPEND | APPENDQ | PREPENDQ => key > 0 && ext == 0,
        STAT => ext == 0,
        SASL_AUTH | SASL_STEP => ext == 0 && key != 0,
        TOUCH | GAT | GATQ | GATK | GATKQ => ext == 4 && key != 0,
        _ => return None,
    })
}

/// The most SASL data (value bytes of an auth or step request) memcached 1.6 accepts,
/// counted as an item: it keeps the data in an item of one slab chunk (512 KiB), whatever
/// `-I` says, and answers "Out of memory" beyond that.
pub const SASL_DATA_ITEM_MAX: usize = 512 * 1024;

/// The longest SASL mechanism name (an auth or step request's key) memcached accepts; it
/// answers a longer one "Invalid arguments" and drops the data, whatever its size.
pub const SASL_MECH_MAX: usize = 32;

/// Parses one binary request from the front of `buf`.
///
/// SASL auth and step requests are read as memcached reads them without `-S`: their data is
/// not waited for but dropped (`swallow`). With `-S` use [`parse_sasl`].
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Parsed<Request<'a>> {
    parse_with(buf, limits, false)
}

/// Like [`parse`], for a server with SASL on (`-S`): a SASL auth or step request is complete
/// only with its data, which is then its `value`. Data too large for memcached's SASL item
/// ([`SASL_DATA_ITEM_MAX`], or `-I` when smaller) is [`Kind::TooLarge`] and swallowed, and
/// so is the data after a mechanism name over [`SASL_MECH_MAX`] bytes (the caller refuses
/// the request).
pub fn parse_sasl<'a>(buf: &'a [u8], limits: &Limits) -> Parsed<Request<'a>> {
    parse_with(buf, limits, true)
}

fn parse_with<'a>(buf: &'a [u8], limits: &Limits, sasl: bool) -> Parsed<Request<'a>> {
    if buf.len() < HEADER_LEN {
        return Parsed::Incomplete(Some(HEADER_LEN));
    }
    if buf[0] != REQUEST_MAGIC {
        // memcached closes the connection on a bad magic byte.
        return Parsed::Rejected(Rejection::new(Reject::Close), buf.len());
    }
    let header = Header::decode(buf);
    let ext = usize::from(header.extras_len);
    let key = usize::from(header.key_len);
    let body = header.body_len as usize;
    let fixed = HEADER_LEN + ext + key;
    if buf.len() < fixed {
        return Parsed::Incomplete(Some(fixed));
    }
    let mut request = Request {
        header,
        kind: Kind::Ok,
        extras: &buf[HEADER_LEN..HEADER_LEN + ext],
        key: &buf[HEADER_LEN + ext..fixed],
        value: &[],
        swallow: 0,
    };
    let done = |mut r: Request<'a>, kind| {
        r.kind = kind;
        Parsed::Complete(r, fixed)
    };
    if key > body || key + ext > body {
        return done(request, Kind::BadLengths);
    }
    if key > KEY_MAX_LENGTH {
        return done(request, Kind::ProtocolError);
    }
    match shape_ok(header.opcode, ext, key, body) {
        None => {
            // memcached drops the whole body length after the key, not the rest of it.
            request.swallow = body;
            return done(request, Kind::Unknown);
        }
        Some(false) => return done(request, Kind::ProtocolError),
        Some(true) => {}
    }
    let sasl_data = sasl && matches!(header.opcode, opcode::SASL_AUTH | opcode::SASL_STEP);
    if !carries_value(header.opcode) && !sasl_data {
        return done(request, Kind::Ok);
    }
    let value_len = body - key - ext;
    if sasl_data && key > SASL_MECH_MAX {
        request.swallow = value_len;
        return done(request, Kind::Ok);
    }
    let flags = if ext == 8 { request.extra_u32(0) } else { 0 };
    let max = if sasl_data {
        limits.item_size_max.min(SASL_DATA_ITEM_MAX)
    } else {
        limits.item_size_max
    };
    if item_size(key, flags, value_len, limits.cas_enabled) > max {
        request.swallow = value_len;
        return done(request, Kind::TooLarge);
    }
    let total = HEADER_LEN + body;
    if buf.len() < total {
        return Parsed::Incomplete(Some(total));
    }
    request.value = &buf[fixed..total];
    Parsed::Complete(request, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    pub(crate) fn packet(op: u8, extras: &[u8], key: &[u8], value: &[u8], cas: u64) -> Vec<u8> {
        encode_request(op, 0xdead_beef, cas, extras, key, value)
    }

    /// Well-formed requests of every opcode memcached serves, with random contents.
    fn request() -> impl Strategy<Value = (u8, u32, u64, Vec<u8>, Vec<u8>, Vec<u8>)> {
        let key = proptest::collection::vec(any::<u8>(), 1..=250);
        let value = proptest::collection::vec(any::<u8>(), 0..300);
        (
            prop_oneof![
                Just(opcode::GET),
                Just(opcode::GETQ),
                Just(opcode::GETK),
                Just(opcode::GETKQ),
                Just(opcode::SET),
                Just(opcode::ADDQ),
                Just(opcode::REPLACE),
                Just(opcode::APPEND),
                Just(opcode::PREPENDQ),
                Just(opcode::DELETE),
                Just(opcode::INCREMENT),
                Just(opcode::DECREMENTQ),
                Just(opcode::TOUCH),
                Just(opcode::GAT),
                Just(opcode::GATKQ),
                Just(opcode::NOOP),
                Just(opcode::VERSION),
                Just(opcode::FLUSH),
                Just(opcode::QUIT),
            ],
            any::<u32>(),
            any::<u64>(),
            key,
            value,
            proptest::collection::vec(any::<u8>(), 20),
        )
            .prop_map(|(op, opaque, cas, key, value, extras20)| {
                use opcode::*;
                let (extras, key, value) = match op {
                    GET | GETQ | GETK | GETKQ | DELETE => (vec![], key, vec![]),
                    SET | ADDQ | REPLACE => (extras20[..8].to_vec(), key, value),
                    APPEND | PREPENDQ => (vec![], key, value),
                    INCREMENT | DECREMENTQ => (extras20, key, vec![]),
                    TOUCH | GAT | GATKQ => (extras20[..4].to_vec(), key, vec![]),
                    FLUSH => (extras20[..4].to_vec(), vec![], vec![]),
                    _ => (vec![], vec![], vec![]),
                };
                (op, opaque, cas, extras, key, value)
            })
    }

    proptest! {
        #[test]
        fn parse_of_encode_round_trips_and_prefixes_are_incomplete(
            (op, opaque, cas, extras, key, value) in request()
        ) {
            let wire = encode_request(op, opaque, cas, &extras, &key, &value);
            let limits = Limits::default();
            match parse(&wire, &limits) {
                Parsed::Complete(r, used) => {
                    prop_assert_eq!(used, wire.len());
                    prop_assert_eq!(r.kind, Kind::Ok);
                    prop_assert_eq!(
                        encode_request(r.header.opcode, r.header.opaque, r.header.cas, r.extras, r.key, r.value),
                        wire.clone()
                    );
                }
                other => prop_assert!(false, "{:?}", other),
            }
            for cut in 0..wire.len() {
                prop_assert!(matches!(parse(&wire[..cut], &limits), Parsed::Incomplete(_)));
            }
        }
    }

    fn complete(buf: &[u8]) -> (Request<'_>, usize) {
        match parse(buf, &Limits::default()) {
            Parsed::Complete(r, n) => (r, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn set_with_extras_key_and_value() {
        let mut extras = 7u32.to_be_bytes().to_vec();
        extras.extend_from_slice(&100u32.to_be_bytes());
        let p = packet(opcode::SET, &extras, b"key", b"value", 5);
        let (r, n) = complete(&p);
        assert_eq!(n, p.len());
        assert_eq!(
            (r.kind, r.key, r.value),
            (Kind::Ok, &b"key"[..], &b"value"[..])
        );
        assert_eq!((r.extra_u32(0), r.extra_u32(1), r.header.cas), (7, 100, 5));
        assert_eq!(r.header.opaque, 0xdead_beef);
        for cut in 0..p.len() {
            assert!(matches!(
                parse(&p[..cut], &Limits::default()),
                Parsed::Incomplete(_)
            ));
        }
    }

    #[test]
    fn shapes_known_answers() {
        let get = packet(opcode::GET, &[], b"k", &[], 0);
        assert_eq!(complete(&get).0.kind, Kind::Ok);
        let get_with_extras = packet(opcode::GET, &[1, 2, 3, 4], b"k", &[], 0);
        assert_eq!(complete(&get_with_extras).0.kind, Kind::ProtocolError);
        let no_key = packet(opcode::DELETE, &[], b"", &[], 0);
        assert_eq!(complete(&no_key).0.kind, Kind::ProtocolError);
        let long_key = packet(opcode::GET, &[], &[b'k'; 251], &[], 0);
        assert_eq!(complete(&long_key).0.kind, Kind::ProtocolError);
        let unknown = packet(0x55, &[], b"k", b"vv", 0);
        let (r, n) = complete(&unknown);
        assert_eq!((r.kind, r.swallow, n), (Kind::Unknown, 3, 25));
        let mut bad = packet(opcode::GET, &[], b"kk", &[], 0);
        bad[11] = 1; // body shorter than the key
        assert_eq!(complete(&bad).0.kind, Kind::BadLengths);
    }

    #[test]
    fn too_large_is_refused_before_the_value() {
        let mut extras = 0u32.to_be_bytes().to_vec();
        extras.extend_from_slice(&0u32.to_be_bytes());
        let limits = Limits {
            item_size_max: 100,
            cas_enabled: true,
        };
        let mut p = packet(opcode::SET, &extras, b"k", &[], 0);
        p[8..12].copy_from_slice(&(8 + 1 + 500u32).to_be_bytes());
        match parse(&p, &limits) {
            Parsed::Complete(r, n) => assert_eq!((r.kind, r.swallow, n), (Kind::TooLarge, 500, 33)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sasl_data_is_the_value_only_with_sasl_on() {
        let p = packet(opcode::SASL_AUTH, &[], b"PLAIN", b"\0u\0p", 0);
        let limits = Limits::default();
        let (r, n) = complete(&p);
        assert_eq!((r.value, r.swallow, n), (&b""[..], 0, 29));
        match parse_sasl(&p, &limits) {
            Parsed::Complete(r, n) => {
                assert_eq!(
                    (r.kind, r.key, r.value, n),
                    (Kind::Ok, &b"PLAIN"[..], &b"\0u\0p"[..], 33)
                )
            }
            other => panic!("{other:?}"),
        }
        for cut in 0..p.len() {
            assert!(matches!(
                parse_sasl(&p[..cut], &limits),
                Parsed::Incomplete(_)
            ));
        }
        let Parsed::Complete(r, _) = parse_sasl(&p, &limits) else {
            unreachable!()
        };
        let long_mech = packet(opcode::SASL_AUTH, &[], &[b'M'; 33], &[7; 600_000], 0);
        match parse_sasl(&long_mech[..100], &limits) {
            Parsed::Complete(r, n) => assert_eq!((r.kind, r.swallow, n), (Kind::Ok, 600_000, 57)),
            other => panic!("{other:?}"),
        }
        let shown = format!("{r:?}");
        assert!(
            shown.contains("<4 bytes hidden>") && !shown.contains("117"),
            "{shown}"
        );
        // 48 + 8 (CAS) + 5 + 1 + value + 2 bytes may not pass 512 KiB.
        let fits = SASL_DATA_ITEM_MAX - 64;
        let mut big = packet(opcode::SASL_AUTH, &[], b"PLAIN", &[], 0);
        big[8..12].copy_from_slice(&((5 + fits) as u32).to_be_bytes());
        assert!(matches!(parse_sasl(&big, &limits), Parsed::Incomplete(_)));
        big[8..12].copy_from_slice(&((5 + fits + 1) as u32).to_be_bytes());
        match parse_sasl(&big, &limits) {
            Parsed::Complete(r, n) => {
                assert_eq!((r.kind, r.swallow, n), (Kind::TooLarge, fits + 1, 29))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_magic_closes() {
        let mut p = packet(opcode::NOOP, &[], b"", &[], 0);
        p[0] = 0x81;
        assert!(matches!(
            parse(&p, &Limits::default()),
            Parsed::Rejected(
                Rejection {
                    reason: Reject::Close,
                    ..
                },
                _
            )
        ));
    }
}
