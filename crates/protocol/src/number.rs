//! Numbers as memcached reads them.
//!
//! memcached parses every numeric token with C's `strtol`/`strtoul`/`strtoull` and then applies
//! its own checks (`safe_strtol` and friends). Clients see the consequences: leading whitespace
//! and a `+` sign are accepted, `-1` is refused for unsigned fields, and a signed value that
//! fits in 64 bits but not in 32 is silently truncated. These functions reproduce that, so every
//! edge case answers as memcached answers.
//!
//! Accepted syntax, for each function:
//!
//! ```text
//! [isspace]* [+|-]? digit+ ( end-of-token | isspace anything* )
//! ```

use nom::bytes::complete::take_while;
use nom::character::complete::{digit1, one_of};
use nom::combinator::opt;
use nom::{IResult, Parser};

/// C's `isspace` in the "C" locale.
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The pieces `strto*` looks at: leading space, sign, digits, and what follows.
struct CNumber<'a> {
    negative: bool,
    digits: &'a [u8],
    rest: &'a [u8],
}

fn c_number(input: &[u8]) -> IResult<&[u8], (Option<char>, &[u8])> {
    let (input, _) = take_while(is_c_space)(input)?;
    (opt(one_of("+-")), digit1).parse(input)
}

/// Splits a token the way `strto*` would, and applies memcached's "what follows" rule: the
/// number must be followed by the end of the token or by whitespace.
fn split(token: &[u8]) -> Option<CNumber<'_>> {
    let (rest, (sign, digits)) = c_number(token).ok()?;
    if let Some(&next) = rest.first() {
        if !is_c_space(next) {
            return None;
        }
    }
    Some(CNumber {
        negative: sign == Some('-'),
        digits,
        rest,
    })
}

/// Magnitude of a digit run, or `None` when it overflows `u64` (C's `ERANGE`).
fn magnitude(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// `safe_strtoull`: a u64. A negative number is accepted only when its wrapped value still
/// looks positive as a signed 64-bit number (C semantics), e.g. `-0`.
pub fn strtoull(token: &[u8]) -> Option<u64> {
    let n = split(token)?;
    let m = magnitude(n.digits)?;
    let v = if n.negative { m.wrapping_neg() } else { m };
    if (v as i64) < 0 && token.contains(&b'-') {
        return None;
    }
    let _ = n.rest;
    Some(v)
}

/// `safe_strtoul` on a 64-bit machine: parsed as a 64-bit unsigned long, checked like
/// [`strtoull`], then stored into a `uint32_t` (so it wraps modulo 2^32).
pub fn strtoul32(token: &[u8]) -> Option<u32> {
    strtoull(token).map(|v| v as u32)
}

/// `safe_strtol` on a 64-bit machine: parsed as a 64-bit long (out of range is an error),
/// then stored into an `int32_t` (so it wraps modulo 2^32).
pub fn strtol32(token: &[u8]) -> Option<i32> {
    let n = split(token)?;
    let m = magnitude(n.digits)?;
    let v: i64 = if n.negative {
        if m > (i64::MAX as u64) + 1 {
            return None;
        }
        (m as i64).wrapping_neg()
    } else {
        i64::try_from(m).ok()?
    };
    Some(v as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_known_answers() {
        let table: &[(&[u8], Option<u64>)] = &[
            (b"0", Some(0)),
            (b"42", Some(42)),
            (b"+7", Some(7)),
            (b" 7", Some(7)),
            (b"\t7", Some(7)),
            (b"7\r", Some(7)),
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", None),
            (b"-1", None),
            (b"-0", Some(0)),
            (b"-18446744073709551615", Some(1)),
            (b"", None),
            (b"-", None),
            (b"abc", None),
            (b"12abc", None),
            (b"0x10", None),
        ];
        for (input, want) in table {
            assert_eq!(
                strtoull(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn strtoul32_wraps_like_a_uint32_store() {
        assert_eq!(strtoul32(b"4294967295"), Some(u32::MAX));
        assert_eq!(strtoul32(b"4294967296"), Some(0));
        assert_eq!(strtoul32(b"-1"), None);
    }

    #[test]
    fn strtol32_known_answers() {
        let table: &[(&[u8], Option<i32>)] = &[
            (b"0", Some(0)),
            (b"-1", Some(-1)),
            (b"2592000", Some(2_592_000)),
            (b"2147483647", Some(i32::MAX)),
            (b"2147483648", Some(i32::MIN)),
            (b"4294967297", Some(1)),
            (b"9223372036854775807", Some(-1)),
            (b"9223372036854775808", None),
            (b"-9223372036854775808", Some(0)),
            (b"-9223372036854775809", None),
            (b"1.5", None),
            (b"", None),
        ];
        for (input, want) in table {
            assert_eq!(
                strtol32(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
