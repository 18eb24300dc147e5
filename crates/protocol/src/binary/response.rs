//! Binary response packets.

use super::RESPONSE_MAGIC;
use bytes::BufMut;

/// Response status codes, and the text memcached sends with each error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Status {
    Ok = 0x00,
    KeyNotFound = 0x01,
    KeyExists = 0x02,
    TooLarge = 0x03,
    InvalidArguments = 0x04,
    NotStored = 0x05,
    NonNumeric = 0x06,
    AuthError = 0x20,
    AuthContinue = 0x21,
    UnknownCommand = 0x81,
    OutOfMemory = 0x82,
}

impl Status {
    /// The body memcached sends with this error status.
    pub fn message(self) -> &'static str {
        match self {
            Status::Ok | Status::AuthContinue => "",
            Status::KeyNotFound => "Not found",
            Status::KeyExists => "Data exists for key.",
            Status::TooLarge => "Too large.",
            Status::InvalidArguments => "Invalid arguments",
            Status::NotStored => "Not stored.",
            Status::NonNumeric => "Non-numeric server-side value for incr or decr",
            Status::AuthError => "Auth failure.",
            Status::UnknownCommand => "Unknown command",
            Status::OutOfMemory => "Out of memory",
        }
    }
}

/// Appends a response header for a body of `extras`, `key` and `value_len` bytes of value
/// (the value itself is written by the caller, so it can be shared rather than copied).
#[allow(clippy::too_many_arguments)]
pub fn response(
    out: &mut impl BufMut,
    opcode: u8,
    status: Status,
    opaque: u32,
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value_len: usize,
) {
    out.put_u8(RESPONSE_MAGIC);
    out.put_u8(opcode);
    out.put_u16(key.len() as u16);
    out.put_u8(extras.len() as u8);
    out.put_u8(0);
    out.put_u16(status as u16);
    out.put_u32((extras.len() + key.len() + value_len) as u32);
    out.put_u32(opaque);
    out.put_u64(cas);
    out.put_slice(extras);
    out.put_slice(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_known_answer() {
        let mut out = Vec::new();
        let msg = Status::KeyNotFound.message();
        response(
            &mut out,
            0x00,
            Status::KeyNotFound,
            7,
            0,
            &[],
            &[],
            msg.len(),
        );
        out.extend_from_slice(msg.as_bytes());
        assert_eq!(
            out,
            [
                &[0x81, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 7][..],
                &[0; 8][..],
                b"Not found"
            ]
            .concat()
        );
    }

    #[test]
    fn hit_response_known_answer() {
        // A GETK hit: every field of the header set, in network byte order.
        let mut out = bytes::BytesMut::new();
        response(
            &mut out,
            0x0c,
            Status::Ok,
            0x0102_0304,
            0x1122_3344_5566_7788,
            &[0xde, 0xad, 0xbe, 0xef],
            b"key",
            5,
        );
        assert_eq!(
            &out[..],
            [
                &[0x81, 0x0c, 0, 3, 4, 0, 0, 0, 0, 0, 0, 12, 1, 2, 3, 4][..],
                &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88][..],
                &[0xde, 0xad, 0xbe, 0xef][..],
                b"key",
            ]
            .concat()
        );
    }
}
