//! Key choice: uniform, sequential (shared by all connections), gaussian and zipfian over
//! `[min, max]`, and a small fast PRNG (the loader must not cost the server its cores).

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// xoshiro256** seeded through splitmix64.
#[derive(Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, n)` (n > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyPattern {
    Uniform,
    /// min, min+1, ..., max, shared by every connection (each key once per pass).
    Sequential,
    /// Normal around the middle of the range, standard deviation range/6.
    Gaussian,
    /// Zipfian with this exponent (0 < theta < 1; `zipf` alone is 0.99), most popular key =
    /// min (YCSB's generator).
    Zipf(f64),
}

impl FromStr for KeyPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "uniform" | "r" | "random" => Ok(KeyPattern::Uniform),
            "sequential" | "s" => Ok(KeyPattern::Sequential),
            "gaussian" | "g" => Ok(KeyPattern::Gaussian),
            "zipf" | "z" => Ok(KeyPattern::Zipf(0.99)),
            other => {
                let exp = other
                    .strip_prefix("zipf:")
                    .or_else(|| other.strip_prefix("z:"))
                    .ok_or_else(|| {
                        format!(
                            "unknown key pattern {s:?} (uniform, sequential, gaussian, zipf, \
                             zipf:EXPONENT)"
                        )
                    })?;
                match exp.parse::<f64>() {
                    Ok(theta) if theta > 0.0 && theta < 1.0 => Ok(KeyPattern::Zipf(theta)),
                    _ => Err(format!(
                        "zipf exponent {exp:?} must be a number above 0 and below 1"
                    )),
                }
            }
        }
    }
}

/// What every connection shares to draw keys.
pub struct KeySpace {
    pub pattern: KeyPattern,
    pub min: u64,
    pub max: u64,
    /// Sequential: stop after one pass instead of wrapping (preload, fill).
    pub once: bool,
    next: AtomicU64,
    zipf: Option<Zipf>,
}

impl KeySpace {
    pub fn new(pattern: KeyPattern, min: u64, max: u64, once: bool) -> Arc<KeySpace> {
        assert!(min <= max, "key minimum above key maximum");
        let zipf = match pattern {
            KeyPattern::Zipf(theta) => Some(Zipf::new(max - min + 1, theta)),
            _ => None,
        };
        Arc::new(KeySpace {
            pattern,
            min,
            max,
            once,
            next: AtomicU64::new(0),
            zipf,
        })
    }

    pub fn len(&self) -> u64 {
        self.max - self.min + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The next key number, or `None` when a one-pass sequential space is used up.
    pub fn next(&self, rng: &mut Rng) -> Option<u64> {
        let n = self.len();
        let offset = match self.pattern {
            KeyPattern::Sequential => {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                if self.once && i >= n {
                    return None;
                }
                i % n
            }
            KeyPattern::Uniform => rng.below(n),
            KeyPattern::Gaussian => {
                // Box-Muller; out-of-range draws are clamped.
                let (u1, u2) = (rng.unit().max(f64::MIN_POSITIVE), rng.unit());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let x = (n as f64 - 1.0) / 2.0 + z * n as f64 / 6.0;
                x.round().clamp(0.0, n as f64 - 1.0) as u64
            }
            KeyPattern::Zipf(_) => self.zipf.as_ref().expect("zipf table").sample(rng),
        };
        Some(self.min + offset)
    }
}

/// Gray et al.'s zipfian generator ("Quickly generating billion-record synthetic
/// databases"), as YCSB uses it: O(n) set-up, O(1) per draw.
struct Zipf {
    n: f64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipf {
    fn new(n: u64, theta: f64) -> Zipf {
        let zeta = |k: u64| (1..=k).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zetan = zeta(n);
        let zeta2 = zeta(2.min(n));
        let nf = n as f64;
        Zipf {
            n: nf,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: (1.0 - (2.0 / nf).powf(1.0 - theta)) / (1.0 - zeta2 / zetan),
        }
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.n as u64 - 1);
        }
        let v = self.n * (self.eta * u - self.eta + 1.0).powf(self.alpha);
        (v as u64).min(self.n as u64 - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_once_covers_each_key_once() {
        let ks = KeySpace::new(KeyPattern::Sequential, 5, 9, true);
        let mut rng = Rng::new(1);
        let got: Vec<u64> = std::iter::from_fn(|| ks.next(&mut rng)).collect();
        assert_eq!(got, vec![5, 6, 7, 8, 9]);
    }

    #[test]
    fn sequential_wraps() {
        let ks = KeySpace::new(KeyPattern::Sequential, 1, 3, false);
        let mut rng = Rng::new(1);
        let got: Vec<u64> = (0..7).map(|_| ks.next(&mut rng).unwrap()).collect();
        assert_eq!(got, vec![1, 2, 3, 1, 2, 3, 1]);
    }

    #[test]
    fn random_patterns_stay_in_range_and_differ_in_shape() {
        for pattern in [
            KeyPattern::Uniform,
            KeyPattern::Gaussian,
            KeyPattern::Zipf(0.99),
        ] {
            let ks = KeySpace::new(pattern, 100, 1099, false);
            let mut rng = Rng::new(7);
            let mut counts = vec![0u32; 1000];
            for _ in 0..100_000 {
                let k = ks.next(&mut rng).unwrap();
                assert!((100..=1099).contains(&k), "{pattern:?} gave {k}");
                counts[(k - 100) as usize] += 1;
            }
            let first_tenth: u32 = counts[..100].iter().sum();
            let middle_tenth: u32 = counts[450..550].iter().sum();
            match pattern {
                // ~10% each.
                KeyPattern::Uniform => {
                    assert!((8_000..12_000).contains(&first_tenth));
                    assert!((8_000..12_000).contains(&middle_tenth));
                }
                // ±0.3 sd around the mean holds ~24%; the first tenth is beyond 2.4 sd.
                KeyPattern::Gaussian => {
                    assert!(middle_tenth > 20_000 && first_tenth < 2_000);
                }
                // Most draws land on the most popular keys.
                KeyPattern::Zipf(_) => assert!(first_tenth > 50_000 && counts[0] > counts[10]),
                KeyPattern::Sequential => unreachable!(),
            }
        }
    }

    #[test]
    fn zipf_exponent_is_parsed_and_shapes_the_skew() {
        assert_eq!("zipf".parse(), Ok(KeyPattern::Zipf(0.99)));
        assert_eq!("zipf:0.5".parse(), Ok(KeyPattern::Zipf(0.5)));
        assert!("zipf:1.2".parse::<KeyPattern>().is_err());
        assert!("zipf:x".parse::<KeyPattern>().is_err());
        let top = |theta| {
            let ks = KeySpace::new(KeyPattern::Zipf(theta), 1, 10_000, false);
            let mut rng = Rng::new(3);
            (0..50_000)
                .filter(|_| ks.next(&mut rng).unwrap() <= 100)
                .count()
        };
        assert!(top(0.99) > 2 * top(0.5));
    }
}
