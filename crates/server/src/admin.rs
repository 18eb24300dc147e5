//! memcached's slab mover and LRU settings (`slabs automove`, `slabs reassign`, `lru ...`),
//! as `stats settings` shows them.
//!
//! ```text
//! slabs automove 2\r\n            OK
//! slabs reassign 1 2\r\n          NOSPARE source class has no spare pages
//! lru tune 10 40 0.1 2\r\n        OK
//! lru mode flat\r\n               OK
//! lru temp_ttl 30\r\n             OK
//! ```
//!
//! ferrocache keeps items in moka, whose one LRU (or TinyLFU) is not memcached's
//! hot/warm/cold/temp segments, and has no slab pages. So these commands change the settings
//! that `stats settings` reports, exactly as memcached's change them, and nothing else: a
//! tool that tunes memcached sees the same answers and the same settings, and the README
//! says that they do not steer eviction here.
//!
//! `slabs reassign` answers what memcached answers when no page can move: `SAME` and
//! `BADCLASS` after the same checks against the same class table (`Store::classes()`), and
//! for two valid classes `NOSPARE source class has no spare pages`, which is true here: no
//! class has a page at all, let alone a second one to give away. memcached answers the same
//! for any class holding under two pages (a fresh server, or a class with under 1 MB of
//! items), which is what the transcripts compare.

use crate::conn::ConnCtx;
use ferrocache_protocol::text::{AutomoveSetting, LruSetting};

/// The settings memcached's slab mover and LRU maintainer read, with memcached's defaults,
/// changed by `-o` at start-up and by `slabs automove` and `lru` at run time.
#[derive(Clone, Debug, PartialEq)]
pub struct Tunables {
    /// `-o slab_reassign|no_slab_reassign`: whether `slabs reassign` is allowed.
    pub slab_reassign: bool,
    /// `-o slab_automove=N`, `slabs automove <0|1|2>`.
    pub slab_automove: u32,
    /// `-o slab_automove_ratio=F`, `slabs automove ratio F`.
    pub slab_automove_ratio: f64,
    /// `-o slab_automove_window=N`, `slabs automove window N`.
    pub slab_automove_window: u32,
    /// `-o slab_automove_freeratio=F`, `slabs automove freeratio F`.
    pub slab_automove_freeratio: f64,
    /// `-o lru_maintainer|no_lru_maintainer`: memcached's maintainer thread, without which
    /// `lru mode` and `lru temp_ttl` are `ERROR`.
    pub lru_maintainer: bool,
    /// `lru mode flat|segmented`.
    pub lru_segmented: bool,
    /// `-o hot_lru_pct`, `-o warm_lru_pct`, `-o hot_max_factor`, `-o warm_max_factor`,
    /// `lru tune`.
    pub hot_lru_pct: u32,
    pub warm_lru_pct: u32,
    pub hot_max_factor: f64,
    pub warm_max_factor: f64,
    /// `-o temporary_ttl=N`, `lru temp_ttl N` (negative: off).
    pub temp_lru: bool,
    /// memcached's `int`, shown with `%u`.
    pub temporary_ttl: i32,
}

impl Default for Tunables {
    /// memcached 1.6.45's `settings_init`, with its maintainer thread started (the default).
    fn default() -> Self {
        Tunables {
            slab_reassign: true,
            slab_automove: 1,
            slab_automove_ratio: 0.8,
            slab_automove_window: 10,
            slab_automove_freeratio: 0.01,
            lru_maintainer: true,
            lru_segmented: true,
            hot_lru_pct: 20,
            warm_lru_pct: 40,
            hot_max_factor: 0.2,
            warm_max_factor: 2.0,
            temp_lru: false,
            temporary_ttl: 61,
        }
    }
}

/// The most characters memcached's `append_stat` keeps of a value (it prints into 127
/// bytes, NUL included): `lru tune 1 1 1e300 1` shows the first 126 digits.
const STAT_VALUE_MAX: usize = 126;

/// C's `printf("%.<precision>f", v)` as glibc writes it, cut as `append_stat` cuts it:
/// Rust's fixed notation is exact, as glibc's is; NaN and the infinities are spelled as
/// glibc spells them.
pub(crate) fn c_fixed(v: f64, precision: usize) -> String {
    let mut text = if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{v:.precision$}")
    };
    text.truncate(STAT_VALUE_MAX);
    text
}

impl Tunables {
    /// The value `stats settings` shows for `name`, if it is one of these, formatted as
    /// memcached formats it.
    pub(crate) fn stat(&self, name: &str) -> Option<String> {
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        Some(match name {
            "slab_reassign" => yes_no(self.slab_reassign),
            "slab_automove" => self.slab_automove.to_string(),
            "slab_automove_ratio" => c_fixed(self.slab_automove_ratio, 2),
            "slab_automove_window" => self.slab_automove_window.to_string(),
            "slab_automove_freeratio" => c_fixed(self.slab_automove_freeratio, 3),
            "lru_maintainer_thread" => yes_no(self.lru_maintainer),
            "lru_segmented" => yes_no(self.lru_segmented),
            // memcached's `uint32_t`s, printed with `%d`.
            "hot_lru_pct" => (self.hot_lru_pct as i32).to_string(),
            "warm_lru_pct" => (self.warm_lru_pct as i32).to_string(),
            "hot_max_factor" => c_fixed(self.hot_max_factor, 2),
            "warm_max_factor" => c_fixed(self.warm_max_factor, 2),
            "temp_lru" => yes_no(self.temp_lru),
            "temporary_ttl" => (self.temporary_ttl as u32).to_string(),
            _ => return None,
        })
    }

    /// `slabs automove ...`, already checked by the parser: always `OK`.
    pub(crate) fn automove(&mut self, setting: AutomoveSetting) {
        match setting {
            AutomoveSetting::Level(level) => self.slab_automove = level,
            AutomoveSetting::Ratio(r) => self.slab_automove_ratio = r.get(),
            AutomoveSetting::FreeRatio(r) => self.slab_automove_freeratio = r.get(),
            AutomoveSetting::Window(w) => self.slab_automove_window = w,
        }
    }

    /// `lru ...`, already checked by the parser: `false` (memcached's `ERROR`) for `mode`
    /// and `temp_ttl` without the maintainer thread.
    pub(crate) fn lru(&mut self, setting: LruSetting) -> bool {
        match setting {
            LruSetting::Tune {
                hot_pct,
                warm_pct,
                hot_factor,
                warm_factor,
            } => {
                self.hot_lru_pct = hot_pct;
                self.warm_lru_pct = warm_pct;
                self.hot_max_factor = hot_factor.get();
                self.warm_max_factor = warm_factor.get();
            }
            LruSetting::Bare => return false,
            _ if !self.lru_maintainer => return false,
            LruSetting::Mode { segmented } => self.lru_segmented = segmented,
            LruSetting::TempTtl(ttl) if ttl < 0 => self.temp_lru = false,
            LruSetting::TempTtl(ttl) => {
                self.temp_lru = true;
                self.temporary_ttl = ttl;
            }
        }
        true
    }
}

/// memcached's answer to `slabs reassign <src> <dst>` (`do_slabs_reassign`), for a server
/// where no class holds a page: the same checks in the same order against `largest` (the
/// largest class id; 0 is memcached's global page pool, a valid id), then `NOSPARE`.
/// `src` -1 asks memcached to pick a class with a spare page; with none, it picks -1,
/// which is no class.
pub(crate) fn reassign_answer(
    slab_reassign: bool,
    classes: Option<(i32, i32)>,
    largest: i32,
) -> &'static [u8] {
    if !slab_reassign {
        return b"CLIENT_ERROR slab reassignment disabled\r\n";
    }
    let Some((src, dst)) = classes else {
        return b"CLIENT_ERROR bad command line format\r\n";
    };
    let valid = |id: i32| (0..=largest).contains(&id);
    if src == dst {
        b"SAME src and dst class are identical\r\n"
    } else if !valid(src) || !valid(dst) {
        b"BADCLASS invalid src or dst class id\r\n"
    } else {
        b"NOSPARE source class has no spare pages\r\n"
    }
}

/// Runs `slabs automove`, `slabs reassign` and `lru`.
pub(crate) fn slabs_automove(ctx: &mut ConnCtx<'_>, setting: AutomoveSetting, noreply: bool) {
    ctx.shared.tunables().automove(setting);
    ctx.say(noreply, b"OK\r\n");
}

pub(crate) fn slabs_reassign(ctx: &mut ConnCtx<'_>, classes: Option<(i32, i32)>, noreply: bool) {
    let allowed = ctx.shared.tunables().slab_reassign;
    let largest = i32::from(ctx.shared.store.classes().table.largest());
    ctx.say(noreply, reassign_answer(allowed, classes, largest));
}

pub(crate) fn lru(ctx: &mut ConnCtx<'_>, setting: LruSetting, noreply: bool) {
    if setting == LruSetting::Bare && crate::vlog::on(ctx.shared) {
        // memcached's first ERROR, which its second replaces (see `LruSetting::Bare`).
        crate::vlog::reply(ctx.fd, noreply, b"ERROR\r\n");
    }
    let done = ctx.shared.tunables().lru(setting);
    ctx.say(noreply, if done { b"OK\r\n" } else { b"ERROR\r\n" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocache_protocol::text::Real;

    #[test]
    fn reassign_answers_as_memcached_with_no_spare_page() {
        let answer = |c| String::from_utf8(reassign_answer(true, c, 39).to_vec()).unwrap();
        assert_eq!(
            answer(Some((1, 2))),
            "NOSPARE source class has no spare pages\r\n"
        );
        assert_eq!(
            answer(Some((0, 39))),
            "NOSPARE source class has no spare pages\r\n"
        );
        assert_eq!(
            answer(Some((1, 1))),
            "SAME src and dst class are identical\r\n"
        );
        assert_eq!(
            answer(Some((99, 99))),
            "SAME src and dst class are identical\r\n"
        );
        assert_eq!(
            answer(Some((-1, -1))),
            "SAME src and dst class are identical\r\n"
        );
        assert_eq!(
            answer(Some((-1, 2))),
            "BADCLASS invalid src or dst class id\r\n"
        );
        assert_eq!(
            answer(Some((1, 40))),
            "BADCLASS invalid src or dst class id\r\n"
        );
        assert_eq!(
            answer(Some((1, -2))),
            "BADCLASS invalid src or dst class id\r\n"
        );
        assert_eq!(answer(None), "CLIENT_ERROR bad command line format\r\n");
        assert_eq!(
            reassign_answer(false, Some((1, 1)), 39),
            b"CLIENT_ERROR slab reassignment disabled\r\n"
        );
    }

    #[test]
    fn settings_change_and_show_as_memcached_prints_them() {
        let mut t = Tunables::default();
        assert_eq!(t.stat("slab_automove_ratio").unwrap(), "0.80");
        assert_eq!(t.stat("slab_automove_freeratio").unwrap(), "0.010");
        assert_eq!(t.stat("temporary_ttl").unwrap(), "61");
        assert_eq!(t.stat("maxbytes"), None);
        t.automove(AutomoveSetting::Ratio(Real::new(-f64::NAN)));
        assert_eq!(t.stat("slab_automove_ratio").unwrap(), "-nan");
        t.automove(AutomoveSetting::FreeRatio(Real::new(0.0125)));
        assert_eq!(t.stat("slab_automove_freeratio").unwrap(), "0.013");
        assert!(t.lru(LruSetting::Tune {
            hot_pct: 10,
            warm_pct: 30,
            hot_factor: Real::new(f64::INFINITY),
            warm_factor: Real::new(1.005),
        }));
        assert_eq!(t.stat("hot_max_factor").unwrap(), "inf");
        assert_eq!(t.stat("warm_max_factor").unwrap(), "1.00");
        assert!(t.lru(LruSetting::TempTtl(30)));
        assert_eq!((t.temp_lru, t.temporary_ttl), (true, 30));
        assert!(t.lru(LruSetting::TempTtl(-5)));
        assert_eq!((t.temp_lru, t.temporary_ttl), (false, 30));
        assert!(t.lru(LruSetting::Tune {
            hot_pct: u32::MAX,
            warm_pct: 40,
            hot_factor: Real::new(1e300),
            warm_factor: Real::new(1.0),
        }));
        assert_eq!(t.stat("hot_lru_pct").unwrap(), "-1");
        let shown = t.stat("hot_max_factor").unwrap();
        assert_eq!(shown.len(), 126);
        assert!(shown.starts_with("10000000000000000525047602552044202487"));
        t.lru_maintainer = false;
        assert!(!t.lru(LruSetting::Mode { segmented: false }));
        assert!(t.lru_segmented);
        assert!(!t.lru(LruSetting::TempTtl(1)));
        t.temporary_ttl = -1;
        assert_eq!(t.stat("temporary_ttl").unwrap(), "4294967295");
    }
}
