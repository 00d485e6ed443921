//! The poller's source of jitter: a tiny deterministic generator seeded by the caller.

use serde::{Deserialize, Serialize};

/// SplitMix64: small, fast, and good enough for jitter. Its whole state is one
/// number, so it serializes with the poller and replays exactly in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number uniformly drawn from `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

impl Rng {
    /// The generator's state, to save with a wait (drawing continues from here
    /// on resume: `Rng::new(rng.state())` draws what `rng` would have drawn).
    pub(crate) fn state(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn a_generator_rebuilt_from_its_state_draws_the_same_numbers() {
        let mut a = Rng::new(7);
        a.next_u64();
        let mut b = Rng::new(a.state());
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
