// The test signal the `no_std` program streams through its baked GRU, and the one
// tests/spec/baked.rs streams through the trained GRU on the desktop to compute the expected
// outputs (it `include!`s this file). Only `f32` additions, multiplications and comparisons,
// no `libm` and no `std`: IEEE arithmetic gives the same bits on every machine, so the device
// must reproduce the desktop's outputs to the bit.

/// How many samples the program streams: a sine, then a plucked string.
pub const SAMPLES: usize = 4096;

/// The longest string [`Source`] plucks, in samples.
pub const MAX_PERIOD: usize = 128;

/// A deterministic audio-like signal, one sample at a time and on the stack (a little over
/// 512 bytes): `sine_len` samples of a sine from a recursive oscillator
/// (`s ← c·s₁ − s₂`, frequency `acos(c / 2)` radians a sample), then a plucked string
/// (Karplus–Strong: a delay line of `period` samples of xorshift noise, averaged and damped on
/// every pass).
#[derive(Clone)]
pub struct Source {
    t: usize,
    sine_len: usize,
    c: f32,
    s1: f32,
    s2: f32,
    ring: [f32; MAX_PERIOD],
    period: usize,
    pos: usize,
}

impl Source {
    /// A signal whose sine has coefficient `c` (`2 cos ω`, below 2) and peak about
    /// `kick / sin ω`, lasting `sine_len` samples, followed by a string of `period` samples
    /// (at most [`MAX_PERIOD`], at least 2) plucked with noise of peak `velocity` from the
    /// xorshift seed `seed` (not zero).
    pub fn new(
        c: f32,
        kick: f32,
        sine_len: usize,
        period: usize,
        velocity: f32,
        seed: u32,
    ) -> Self {
        let period = period.clamp(2, MAX_PERIOD);
        let mut ring = [0.0f32; MAX_PERIOD];
        let mut x = if seed == 0 { 0x9e37_79b9 } else { seed };
        for v in ring.iter_mut().take(period) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // 24 random bits, exactly representable: a value in [-1, 1)
            let unit = (x >> 8) as f32 / 8_388_608.0 - 1.0;
            *v = velocity * unit;
        }
        Source {
            t: 0,
            sine_len,
            c,
            s1: kick,
            s2: 0.0,
            ring,
            period,
            pos: 0,
        }
    }

    /// The signal the device streams: a 0.9 sine of about 2.2 kHz at 48 kHz
    /// (`c = 1.92`, `ω ≈ 0.284`) for 2,048 samples, then a string of 73 samples
    /// (about 658 Hz) plucked at 0.8.
    pub fn device() -> Self {
        Source::new(1.92, 0.252, SAMPLES / 2, 73, 0.8, 0x2545_f491)
    }

    /// The next sample.
    pub fn next_sample(&mut self) -> f32 {
        let t = self.t;
        self.t += 1;
        if t < self.sine_len {
            let s = self.s1;
            let next = self.c * self.s1 - self.s2;
            self.s2 = self.s1;
            self.s1 = next;
            s
        } else {
            let j = self.pos;
            let k = if j + 1 == self.period { 0 } else { j + 1 };
            let out = self.ring[j];
            self.ring[j] = 0.498 * (self.ring[j] + self.ring[k]);
            self.pos = k;
            out
        }
    }
}

/// The starting value of [`fnv1a`]'s checksum.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a (64 bits) of `hash` followed by the four bytes of `bits`, little-endian: the
/// running checksum of the outputs' bits, [`FNV_OFFSET`] at the start.
pub fn fnv1a(mut hash: u64, bits: u32) -> u64 {
    for byte in bits.to_le_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
