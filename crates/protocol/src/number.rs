//! Numbers as memcached 1.6.45 reads them. It has two kinds of number reader, and clients
//! see which one a field uses:
//!
//! - C's `strtol`/`strtoul`/`strtoull` behind memcached's `safe_strto*` checks, for a storage
//!   command's flags and exptime and for meta flags' numbers read the old way. Leading
//!   whitespace and a `+` sign are accepted, `-1` is refused for unsigned fields, a signed
//!   value that fits in 64 bits but not in 32 is silently truncated, and the number may end
//!   at a NUL byte (C reads the line as a string there):
//!
//!   ```text
//!   [isspace]* [+|-]? digit+ ( end-of-token | (isspace | NUL) anything* )
//!   ```
//!
//! - the strict readers of its request parser (`mcmc_tokto*`), for data lengths, CAS
//!   uniques, deltas, `gat`/`touch`/`flush_all` times and every meta flag's number: digits
//!   only (a leading `-` for the signed ones; a lone `-` reads as 0), at most 11 characters
//!   for 32 bits and 22 for 64, and no wrap-around.
//!
//!   ```text
//!   -? digit*        (the signed readers)
//!   digit*           (the unsigned readers)
//!   ```

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
        if !is_c_space(next) && next != 0 {
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

/// `mcmc_toktou32`: digits only, at most 11 of them, no overflow. An empty token reads as 0
/// (memcached never passes one).
pub fn tok_u32(token: &[u8]) -> Option<u32> {
    if token.len() > 11 {
        return None;
    }
    token.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then_some(())?;
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// `mcmc_toktou64`: digits only, at most 22 of them, no overflow.
pub fn tok_u64(token: &[u8]) -> Option<u64> {
    if token.len() > 22 {
        return None;
    }
    token.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then_some(())?;
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// `mcmc_tokto32`: an optional leading `-`, then digits only; at most 11 characters, no
/// overflow. A lone `-` reads as 0, as in memcached.
pub fn tok_i32(token: &[u8]) -> Option<i32> {
    tok_i64_max(token, 11).and_then(|v| i32::try_from(v).ok())
}

/// `mcmc_tokto64`: as [`tok_i32`], with at most 22 characters.
pub fn tok_i64(token: &[u8]) -> Option<i64> {
    tok_i64_max(token, 22)
}

fn tok_i64_max(token: &[u8], max_len: usize) -> Option<i64> {
    if token.len() > max_len {
        return None;
    }
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    digits.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then_some(())?;
        let d = i64::from(b - b'0');
        let acc = acc.checked_mul(10)?;
        if negative {
            acc.checked_sub(d)
        } else {
            acc.checked_add(d)
        }
    })
}

/// `safe_strtod` on a token, as memcached reads `slabs automove ratio` and `lru tune`: C's
/// `strtod` (leading whitespace, a sign, decimal or hexadecimal digits with an optional
/// fraction and exponent, `inf`, `infinity`, `nan`), followed by the end of the token,
/// whitespace or a NUL. Out of range, including a result too small to be normal, is refused
/// (C's `ERANGE`).
pub fn strtod(token: &[u8]) -> Option<f64> {
    // memcached copies at most 31 bytes of the token before reading it.
    if token.len() > 31 {
        return None;
    }
    let start = token.iter().take_while(|&&b| is_c_space(b)).count();
    let t = &token[start..];
    let (negative, body) = match t.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, t),
    };
    let lower: Vec<u8> = body.iter().map(u8::to_ascii_lowercase).collect();
    let (value, used) = if lower.starts_with(b"infinity") {
        (f64::INFINITY, 8)
    } else if lower.starts_with(b"inf") {
        (f64::INFINITY, 3)
    } else if lower.starts_with(b"nan") {
        (f64::NAN, 3)
    } else if let Some((v, n)) = lower.strip_prefix(b"0x").and_then(hex_float) {
        (v, n + 2)
    } else {
        decimal_float(body)?
    };
    if let Some(&next) = body.get(used) {
        if !is_c_space(next) && next != 0 {
            return None;
        }
    }
    let finite_input = !lower.starts_with(b"inf") && !lower.starts_with(b"nan");
    if finite_input {
        // The digits before the exponent, skipping a hexadecimal number's `0x`.
        let hex = lower.starts_with(b"0x");
        let mantissa = &lower[if hex { 2 } else { 0 }..used];
        let mantissa = &mantissa[..mantissa
            .iter()
            .position(|b| if hex { *b == b'p' } else { *b == b'e' })
            .unwrap_or(mantissa.len())];
        let nonzero = mantissa
            .iter()
            .any(|b| b.is_ascii_hexdigit() && *b != b'0' && (hex || b.is_ascii_digit()));
        let underflow = value.abs() < f64::MIN_POSITIVE && nonzero;
        if value.is_infinite() || underflow {
            return None;
        }
    }
    Some(if negative { -value } else { value })
}

/// The longest decimal float at the start of `body`: digits, an optional fraction, an
/// optional exponent. Returns its value and length.
fn decimal_float(body: &[u8]) -> Option<(f64, usize)> {
    let digits = |from: usize| {
        body[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut end = digits(0);
    let mut mantissa = end;
    if body.get(end) == Some(&b'.') {
        let frac = digits(end + 1);
        mantissa += frac;
        end += 1 + frac;
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(body.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(body.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exp = digits(e);
        if exp > 0 {
            end = e + exp;
        }
    }
    let text = std::str::from_utf8(&body[..end]).ok()?;
    Some((text.parse().ok()?, end))
}

/// A hexadecimal float after its `0x`: hex digits, an optional fraction, an optional binary
/// exponent (`p`). Returns its value and length.
fn hex_float(body: &[u8]) -> Option<(f64, usize)> {
    let mut value = 0f64;
    let mut end = 0;
    let mut any = false;
    while let Some(d) = body.get(end).and_then(|b| (*b as char).to_digit(16)) {
        value = value * 16.0 + f64::from(d);
        end += 1;
        any = true;
    }
    if body.get(end) == Some(&b'.') {
        let mut scale = 1.0 / 16.0;
        let mut e = end + 1;
        while let Some(d) = body.get(e).and_then(|b| (*b as char).to_digit(16)) {
            value += f64::from(d) * scale;
            scale /= 16.0;
            e += 1;
            any = true;
        }
        end = e;
    }
    if !any {
        return None;
    }
    if body.get(end) == Some(&b'p') {
        let mut e = end + 1;
        let negative = match body.get(e) {
            Some(b'-') => {
                e += 1;
                true
            }
            Some(b'+') => {
                e += 1;
                false
            }
            _ => false,
        };
        let digits = body[e..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 {
            let exp: i32 = std::str::from_utf8(&body[e..e + digits])
                .ok()?
                .parse()
                .unwrap_or(i32::MAX);
            value *= 2f64.powi(if negative { -exp } else { exp });
            end = e + digits;
        }
    }
    Some((value, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_readers_known_answers() {
        assert_eq!(tok_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(tok_u32(b"4294967296"), None);
        assert_eq!(tok_u32(b"000000000001"), None, "12 characters");
        assert_eq!(tok_u32(b"+1"), None);
        assert_eq!(tok_u32(b" 1"), None);
        assert_eq!(tok_u32(b"-1"), None);
        assert_eq!(tok_i32(b"-2147483648"), Some(i32::MIN));
        assert_eq!(tok_i32(b"2147483648"), None);
        assert_eq!(tok_i32(b"-"), Some(0));
        assert_eq!(tok_i32(b"-0"), Some(0));
        assert_eq!(tok_i32(b"1x"), None);
        assert_eq!(tok_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(tok_u64(b"18446744073709551616"), None);
        assert_eq!(tok_i64(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn strtod_known_answers() {
        let table: &[(&[u8], Option<f64>)] = &[
            (b"0.5", Some(0.5)),
            (b"1", Some(1.0)),
            (b" 2.5e1", Some(25.0)),
            (b"-.5", Some(-0.5)),
            (b"5.", Some(5.0)),
            (b"0x10", Some(16.0)),
            (b"0x1p3", Some(8.0)),
            (b"inf", Some(f64::INFINITY)),
            (b"1e999", None),
            (b"1e-999", None),
            (b"0e-999", Some(0.0)),
            (b"x", None),
            (b".", None),
            (b"1.5x", None),
            (b"2\0junk", Some(2.0)),
        ];
        for (input, want) in table {
            assert_eq!(strtod(input), *want, "{:?}", String::from_utf8_lossy(input));
        }
        assert_eq!(strtod(&[b'2', 0, b'x']), Some(2.0));
        assert!(strtod(b"nan").is_some_and(f64::is_nan));
    }

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
