//! Executes binary-protocol requests and writes memcached's binary replies.

use crate::auth::{self, SaslOutcome};
use crate::conn::{ConnCtx, Next};
use crate::prefix::Op;
use crate::{stats, vlog, Counters, MEMCACHED_VERSION};
use ferrocache_protocol::binary::{opcode, response, Kind, Request, Status};
use ferrocache_storage::{ArithOutcome, DeleteOutcome, MetaStore, StoreMode, StoreOutcome};

/// The incr/decr expiration that means "do not create the key on a miss".
const NO_INITIAL: u32 = 0xffff_ffff;

impl ConnCtx<'_> {
    /// A reply's header, extras and key, for a value of `value_len` bytes that the caller
    /// writes next. The `-vv` trace shows the header, as memcached's does for every reply
    /// but the `stats` ones.
    fn bin_head(
        &mut self,
        req: &Request<'_>,
        status: Status,
        cas: u64,
        extras: &[u8],
        key: &[u8],
        value_len: usize,
    ) {
        let (opcode, opaque) = (req.header.opcode, req.header.opaque);
        self.out.put_with(|out| {
            response(out, opcode, status, opaque, cas, extras, key, value_len);
        });
        if vlog::on(self.shared) {
            // memcached fills in a get hit's CAS after it has dumped the header.
            let hit = status == Status::Ok
                && matches!(
                    opcode::loud(opcode).unwrap_or(opcode),
                    opcode::GET | opcode::GETK | opcode::GAT | opcode::GATK | opcode::TOUCH
                );
            let shown_cas = if hit { 0 } else { cas };
            let mut header = Vec::with_capacity(24 + extras.len() + key.len());
            response(
                &mut header,
                opcode,
                status,
                opaque,
                shown_cas,
                extras,
                key,
                value_len,
            );
            vlog::write(&vlog::header_dump(self.fd, false, &header[..24]));
        }
    }

    /// A `stats` reply packet, which memcached's trace does not show.
    fn bin_stat(&mut self, req: &Request<'_>, key: &[u8], value: &[u8]) {
        let opaque = req.header.opaque;
        self.out.put_with(|out| {
            response(
                out,
                opcode::STAT,
                Status::Ok,
                opaque,
                0,
                &[],
                key,
                value.len(),
            );
        });
        self.out.extend(value);
    }

    /// A reply with a body of extras, key and value.
    fn bin_reply(
        &mut self,
        req: &Request<'_>,
        status: Status,
        cas: u64,
        extras: &[u8],
        key: &[u8],
        value: &[u8],
    ) {
        self.bin_head(req, status, cas, extras, key, value.len());
        self.out.extend(value);
    }

    /// An error reply carrying memcached's message for the status.
    fn bin_error(&mut self, req: &Request<'_>, status: Status) {
        if vlog::on(self.shared) {
            let text = format!("Writing an error: {}", status.message());
            vlog::line('>', self.fd, text.as_bytes());
        }
        self.bin_reply(req, status, 0, &[], &[], status.message().as_bytes());
    }

    /// A success reply, which quiet opcodes leave out.
    fn bin_ok(&mut self, req: &Request<'_>, quiet: bool, cas: u64, value: &[u8]) {
        if !quiet {
            self.bin_reply(req, Status::Ok, cas, &[], &[], value);
        }
    }
}

/// Runs one binary request. `swallow` is set to the bytes to drop after it.
pub(crate) fn execute(ctx: &mut ConnCtx<'_>, req: Request<'_>, swallow: &mut usize) -> Next {
    let shared = ctx.shared;
    let store = &shared.store;
    *swallow = req.swallow;
    if vlog::on(shared) && shared.sasl.is_some() && req.kind != Kind::BadLengths {
        let allowed = ctx.sasl.authenticated
            || matches!(
                req.header.opcode,
                opcode::SASL_LIST_MECHS | opcode::SASL_AUTH | opcode::SASL_STEP | opcode::VERSION
            );
        let text = format!(
            "authenticated() in cmd 0x{:02x} is {allowed}\n",
            req.header.opcode
        );
        vlog::write(text.as_bytes());
    }
    if shared.sasl.is_some()
        && !ctx.sasl.authenticated
        && req.kind != Kind::BadLengths
        && !matches!(
            req.header.opcode,
            opcode::SASL_LIST_MECHS | opcode::SASL_AUTH | opcode::SASL_STEP | opcode::VERSION
        )
    {
        // -S: memcached refuses anything else before authentication, and hangs up.
        *swallow = 0;
        ctx.bin_error(&req, Status::AuthError);
        return Next::Close;
    }
    match req.kind {
        Kind::Ok => {}
        Kind::BadLengths => {
            ctx.bin_error(&req, Status::UnknownCommand);
            return Next::Close;
        }
        Kind::ProtocolError => {
            ctx.bin_error(&req, Status::InvalidArguments);
            if vlog::verbose(shared) {
                let text = format!(
                    "Protocol error (opcode {:02x}), close connection {}\n",
                    req.header.opcode, ctx.fd
                );
                vlog::write(text.as_bytes());
            }
            return Next::Close;
        }
        Kind::TooLarge if matches!(req.header.opcode, opcode::SASL_AUTH | opcode::SASL_STEP) => {
            // SASL data over memcached's item for it (see `parse_sasl`).
            ctx.bin_error(&req, Status::OutOfMemory);
            return Next::Continue;
        }
        Kind::TooLarge => {
            trace_command(ctx, &req);
            // memcached's binary protocol does not count these in `store_too_large` (its
            // text and meta protocols do), but `stats detail` counts the set.
            shared.prefixes.record(req.key, Op::Set);
            // memcached logs it with no command (`cmd=null`).
            store.log_too_large(req.key, None);
            if matches!(req.header.opcode, opcode::SET | opcode::SETQ) {
                // As in the text protocol: a failed set must not leave the old value.
                store.unlink(req.key);
            }
            ctx.bin_error(&req, Status::TooLarge);
            return Next::Continue;
        }
        Kind::Unknown => {
            ctx.bin_error(&req, Status::UnknownCommand);
            return Next::Continue;
        }
    }
    let quiet = opcode::loud(req.header.opcode).is_some();
    let op = opcode::loud(req.header.opcode).unwrap_or(req.header.opcode);
    trace_command(ctx, &req);
    match op {
        opcode::GET | opcode::GETK | opcode::GAT | opcode::GATK | opcode::TOUCH => {
            let touches = matches!(op, opcode::GAT | opcode::GATK | opcode::TOUCH);
            let with_key = matches!(op, opcode::GETK | opcode::GATK);
            let hit = if touches {
                store.get_and_touch(req.key, i64::from(req.extra_u32(0)))
            } else {
                store.get(req.key)
            };
            shared
                .prefixes
                .record(req.key, Op::Get { hit: hit.is_some() });
            match hit {
                Some(item) => {
                    let flags = item.flags.to_be_bytes();
                    let key: &[u8] = if with_key { req.key } else { &[] };
                    if op == opcode::TOUCH {
                        ctx.bin_reply(&req, Status::Ok, item.cas, &flags, key, &[]);
                    } else {
                        // As in the text protocol, a large value is shared, not copied.
                        ctx.bin_head(&req, Status::Ok, item.cas, &flags, key, item.value.len());
                        ctx.out.value(&item.value);
                    }
                }
                None if quiet => {}
                None if with_key => {
                    ctx.bin_reply(&req, Status::KeyNotFound, 0, &[], req.key, &[]);
                }
                None => ctx.bin_error(&req, Status::KeyNotFound),
            }
        }
        opcode::SET | opcode::ADD | opcode::REPLACE | opcode::APPEND | opcode::PREPEND => {
            let cas = req.header.cas;
            let mode = match op {
                opcode::APPEND => StoreMode::Append,
                opcode::PREPEND => StoreMode::Prepend,
                // memcached turns any set/add/replace carrying a CAS into a cas.
                _ if cas != 0 => StoreMode::Cas(cas),
                opcode::ADD => StoreMode::Add,
                opcode::REPLACE => StoreMode::Replace,
                _ => StoreMode::Set,
            };
            let (flags, exptime) = if req.extras.len() == 8 {
                (req.extra_u32(0), i64::from(req.extra_u32(1)))
            } else {
                (0, 0)
            };
            shared.prefixes.record(req.key, Op::Set);
            let value = ctx.value_in(req.value);
            // An append or prepend with a CAS applies only if the item's CAS matches.
            let extra = MetaStore {
                compare_cas: (cas != 0).then_some(cas),
                ..MetaStore::default()
            };
            let (outcome, new_cas, _) =
                store.store_with(mode, req.key, flags, exptime, value, &extra);
            if let (StoreOutcome::Exists, StoreMode::Cas(got)) = (outcome, mode) {
                ctx.trace_cas_failure(req.key, got);
            }
            match outcome {
                StoreOutcome::Stored => ctx.bin_ok(&req, quiet, new_cas, &[]),
                StoreOutcome::Exists => ctx.bin_error(&req, Status::KeyExists),
                StoreOutcome::NotFound => ctx.bin_error(&req, Status::KeyNotFound),
                StoreOutcome::NotStored | StoreOutcome::TooLarge | StoreOutcome::OutOfMemory => {
                    let status = match mode {
                        StoreMode::Add => Status::KeyExists,
                        StoreMode::Replace => Status::KeyNotFound,
                        _ => Status::NotStored,
                    };
                    ctx.bin_error(&req, status);
                }
            }
        }
        opcode::DELETE => {
            shared.prefixes.record(req.key, Op::Delete);
            match store.delete_cas(req.key, req.header.cas) {
                DeleteOutcome::Deleted => ctx.bin_ok(&req, quiet, 0, &[]),
                DeleteOutcome::Exists => ctx.bin_error(&req, Status::KeyExists),
                DeleteOutcome::NotFound => ctx.bin_error(&req, Status::KeyNotFound),
            }
        }
        opcode::INCREMENT | opcode::DECREMENT => {
            let delta = req.extra_u64(0);
            let initial = req.extra_u64(8);
            let expiration = req.extra_u32(4);
            let create = (expiration != NO_INITIAL).then_some((initial, i64::from(expiration)));
            let incr = op == opcode::INCREMENT;
            match store.arith(req.key, delta, incr, req.header.cas, create) {
                (ArithOutcome::Value(v), cas) => ctx.bin_ok(&req, quiet, cas, &v.to_be_bytes()),
                (ArithOutcome::NonNumeric, _) => ctx.bin_error(&req, Status::NonNumeric),
                (ArithOutcome::NotFound, _) => ctx.bin_error(&req, Status::KeyNotFound),
                (ArithOutcome::Exists, _) => ctx.bin_error(&req, Status::KeyExists),
                (ArithOutcome::NotStored, _) => ctx.bin_error(&req, Status::NotStored),
            }
        }
        opcode::FLUSH => {
            if shared.config.disable_flush {
                // memcached answers a disabled flush with an auth error, uncounted.
                ctx.bin_error(&req, Status::AuthError);
            } else {
                let delay = if req.extras.len() == 4 {
                    i64::from(req.extra_u32(0))
                } else {
                    0
                };
                store.flush_all(delay);
                Counters::add(&shared.counters.cmd_flush, 1);
                ctx.bin_ok(&req, quiet, 0, &[]);
            }
        }
        opcode::NOOP => ctx.bin_ok(&req, false, 0, &[]),
        opcode::VERSION => ctx.bin_ok(&req, false, 0, MEMCACHED_VERSION.as_bytes()),
        opcode::QUIT => {
            ctx.close_reason = crate::watch::CloseReason::Normal;
            ctx.bin_ok(&req, quiet, 0, &[]);
            return Next::Close;
        }
        opcode::STAT => match stats::named_group(shared, req.key) {
            Some(pairs) => {
                for (name, value) in &pairs {
                    ctx.bin_stat(&req, name.as_bytes(), value.as_bytes());
                }
                ctx.bin_stat(&req, &[], &[]);
            }
            None => ctx.bin_error(&req, Status::KeyNotFound),
        },
        opcode::SASL_LIST_MECHS | opcode::SASL_AUTH | opcode::SASL_STEP
            if shared.sasl.is_some() =>
        {
            sasl(ctx, &req);
        }
        opcode::SASL_LIST_MECHS | opcode::SASL_AUTH | opcode::SASL_STEP => {
            // No SASL without -S: memcached answers "Unknown command" and drops the data.
            *swallow = (req.header.body_len as usize).saturating_sub(req.key.len());
            ctx.bin_error(&req, Status::UnknownCommand);
        }
        _ => ctx.bin_error(&req, Status::UnknownCommand),
    }
    Next::Continue
}

/// The line memcached's `-vv` trace shows for a binary command once its header has passed
/// the checks (`<28 GET foo`, `<28 SET foo Value len is 3`, `Deleting foo`, `incr n 1, 0,
/// 0`, `<28 STATS items`); most commands have none.
fn trace_command(ctx: &ConnCtx<'_>, req: &Request<'_>) {
    if !vlog::on(ctx.shared) {
        return;
    }
    let fd = ctx.fd;
    let op = opcode::loud(req.header.opcode).unwrap_or(req.header.opcode);
    let value_len = (req.header.body_len as usize)
        .saturating_sub(req.key.len() + usize::from(req.header.extras_len));
    // What comes before the key and after it.
    let (head, tail) = match op {
        opcode::GET | opcode::GETK => (format!("<{fd} GET "), String::new()),
        opcode::GAT | opcode::GATK | opcode::TOUCH => (format!("<{fd} TOUCH "), String::new()),
        opcode::SET | opcode::ADD | opcode::REPLACE => {
            let name = match op {
                opcode::SET => "SET",
                opcode::ADD => "ADD",
                _ => "REPLACE",
            };
            (
                format!("<{fd} {name} "),
                format!(" Value len is {value_len}"),
            )
        }
        opcode::APPEND | opcode::PREPEND => {
            // No key shown.
            vlog::write(format!("Value len is {value_len}\n").as_bytes());
            return;
        }
        opcode::DELETE => ("Deleting ".to_string(), String::new()),
        // memcached prints "incr" for both, the delta as signed, the expiration as a signed
        // 32-bit number.
        opcode::INCREMENT | opcode::DECREMENT if req.extras.len() == 20 => (
            "incr ".to_string(),
            format!(
                " {}, {}, {}",
                req.extra_u64(0) as i64,
                req.extra_u64(8),
                req.extra_u32(4) as i32
            ),
        ),
        opcode::STAT => (format!("<{fd} STATS "), String::new()),
        _ => return,
    };
    let mut text = head.into_bytes();
    text.extend_from_slice(req.key);
    text.extend_from_slice(tail.as_bytes());
    text.push(b'\n');
    vlog::write(&text);
}

/// `-S`: a SASL mechanism list, auth or step request.
fn sasl(ctx: &mut ConnCtx<'_>, req: &Request<'_>) {
    let shared = ctx.shared;
    let users = shared.sasl.as_ref().expect("only with -S");
    let outcome = match req.header.opcode {
        opcode::SASL_LIST_MECHS => {
            ctx.sasl.list();
            ctx.bin_ok(req, false, 0, auth::SASL_MECHANISMS);
            return;
        }
        _ if req.key.len() > ferrocache_protocol::binary::SASL_MECH_MAX => {
            ctx.bin_error(req, Status::InvalidArguments);
            return;
        }
        opcode::SASL_AUTH => ctx.sasl.auth(req.key, req.value, users),
        _ => ctx.sasl.step(req.value, users),
    };
    match outcome {
        SaslOutcome::Authenticated => {
            Counters::add(&shared.counters.auth_cmds, 1);
            ctx.bin_ok(req, false, 0, b"Authenticated");
        }
        SaslOutcome::Continue => ctx.bin_reply(req, Status::AuthContinue, 0, &[], &[], &[]),
        SaslOutcome::Failed => {
            // Neither the user nor the password is logged.
            tracing::info!(fd = ctx.fd, "SASL authentication failed");
            Counters::add(&shared.counters.auth_cmds, 1);
            Counters::add(&shared.counters.auth_errors, 1);
            ctx.bin_error(req, Status::AuthError);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::out::Output;
    use crate::{Config, Shared};
    use ferrocache_protocol::binary::{encode_request, parse};
    use ferrocache_protocol::{Limits, Parsed};
    use std::sync::Arc;

    /// Runs one encoded request on a fresh connection context and returns its output.
    fn run(shared: &Shared, request: &[u8]) -> Output {
        let limits = Limits {
            item_size_max: shared.config.item_size_max,
            cas_enabled: true,
        };
        let Parsed::Complete(req, used) = parse(request, &limits) else {
            panic!("not a whole request");
        };
        assert_eq!(used, request.len());
        let mut ctx = ConnCtx::new(shared, -1);
        let mut swallow = 0;
        assert!(matches!(
            execute(&mut ctx, req, &mut swallow),
            Next::Continue
        ));
        ctx.out
    }

    /// A get hit of a large value queues the store's own allocation, as the text protocol
    /// does; a small one is copied. Either way the reply is whole: header fields, flags, key
    /// (for the K opcodes) and value. (Before, the binary protocol copied every value, 1 MB
    /// chunks included.)
    #[tokio::test]
    async fn get_shares_a_large_value_and_copies_a_small_one() {
        let shared = Shared::new(Arc::new(Config::default()), None, None, 0);
        for (key, len, shared_want) in [(&b"big"[..], 100_000, true), (b"small", 100, false)] {
            let value: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let flags = [0xde, 0xad, 0xbe, 0xef];
            let set_extras = [flags, [0; 4]].concat();
            run(
                &shared,
                &encode_request(opcode::SET, 0, 0, &set_extras, key, &value),
            );
            let stored = shared.store.get(key).expect("stored");
            for op in [
                opcode::GET,
                opcode::GETQ,
                opcode::GETK,
                opcode::GETKQ,
                opcode::GAT,
                opcode::GATK,
            ] {
                let touch = matches!(op, opcode::GAT | opcode::GATK);
                let with_key = matches!(op, opcode::GETK | opcode::GETKQ | opcode::GATK);
                let extras: &[u8] = if touch { &[0; 4] } else { &[] };
                let mut out = run(&shared, &encode_request(op, 7, 0, extras, key, &[]));
                assert_eq!(
                    out.shares(&stored.value),
                    shared_want,
                    "opcode {op}, {len} B"
                );
                let mut reply = Vec::new();
                out.flush(&mut reply).await.unwrap();
                let key_len = if with_key { key.len() } else { 0 };
                let body = u32::from_be_bytes(reply[8..12].try_into().unwrap()) as usize;
                assert_eq!(
                    (reply[0], reply[1], reply[4], body, reply.len()),
                    (0x81, op, 4, 4 + key_len + len, 24 + 4 + key_len + len),
                    "opcode {op}"
                );
                assert_eq!(u16::from_be_bytes([reply[2], reply[3]]) as usize, key_len);
                assert_eq!(&reply[12..16], &7u32.to_be_bytes(), "opaque");
                assert_eq!(&reply[16..24], &stored.cas.to_be_bytes(), "cas");
                assert_eq!(&reply[24..28], &flags, "flags");
                assert_eq!(&reply[28..28 + key_len], &key[..key_len]);
                assert_eq!(&reply[28 + key_len..], &value[..], "opcode {op}");
            }
        }
    }
}
