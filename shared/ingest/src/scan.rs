//! Structural classification of 64-byte blocks, the first stage of simdjson's design: one pass
//! turns a block into bit masks (quotes, backslashes, newlines, openers, closers), and string
//! interiors come from a prefix XOR of the quote mask, so the splitter looks only at the few
//! structural bytes of a record instead of every byte.
//!
//! The compares run on 16-byte vectors of the `wide` crate, which picks the instructions at
//! compile time without `unsafe` here: SSE2 on x86-64 (the baseline of every x86-64 CPU, so no
//! runtime detection), NEON on aarch64 (Graviton, Apple silicon), plain lanes elsewhere. A
//! byte-at-a-time reference computes the same masks in tests.
//!
//! Written here rather than taken from a JSON crate: the splitter needs only the masks and its
//! own stop rules (raw newlines, depth limits, cut records), and simd-json / sonic-rs expose a
//! whole parser, not the block scan; they also need `-C target-cpu` or `unsafe` to reach it.

use wide::u8x16;

/// The bit masks of one 64-byte block: bit `i` is byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Masks {
    pub quote: u64,
    pub backslash: u64,
    pub newline: u64,
    /// `{` or `[`.
    pub open: u64,
    /// `}` or `]`.
    pub close: u64,
}

/// Classifies one block.
pub(crate) fn classify(block: &[u8; 64]) -> Masks {
    // `{` 0x7B / `[` 0x5B and `}` 0x7D / `]` 0x5D differ only in bit 0x20: OR it in and
    // compare once. No other byte maps onto 0x7B or 0x7D that way.
    let quote = u8x16::splat(b'"');
    let backslash = u8x16::splat(b'\\');
    let newline = u8x16::splat(b'\n');
    let open = u8x16::splat(b'{');
    let close = u8x16::splat(b'}');
    let case = u8x16::splat(0x20);
    let mut m = Masks::default();
    let bits = |v: u8x16, k: usize| u64::from(v.to_bitmask()) << (16 * k);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let Some(lane) = lane.first_chunk::<16>() else {
            continue;
        };
        let v = u8x16::new(*lane);
        let folded = v | case;
        m.quote |= bits(v.simd_eq(quote), k);
        m.backslash |= bits(v.simd_eq(backslash), k);
        m.newline |= bits(v.simd_eq(newline), k);
        m.open |= bits(folded.simd_eq(open), k);
        m.close |= bits(folded.simd_eq(close), k);
    }
    m
}

/// The same masks, one byte at a time (the reference the vector version is tested against).
#[cfg(test)]
pub(crate) fn classify_portable(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'\n' => m.newline |= bit,
            b'{' | b'[' => m.open |= bit,
            b'}' | b']' => m.close |= bit,
            _ => {}
        }
    }
    m
}

/// Bit `i` = XOR of bits `0..=i`: with the (unescaped) quote mask, the bytes after an odd
/// number of quotes, i.e. inside a string (opening quote included, closing quote excluded).
pub(crate) fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_masks_equal_the_portable_ones() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"{}[]\"\\\n:,a \xff\x7b\x5b\x7d\x5d\x3b\x1b\xfb\xdb";
        for _ in 0..20_000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                *b = if rng & 0x100 == 0 {
                    alphabet[(rng % alphabet.len() as u64) as usize]
                } else {
                    (rng >> 24) as u8
                };
            }
            assert_eq!(classify(&block), classify_portable(&block), "{block:?}");
        }
    }

    #[test]
    fn prefix_xor_marks_string_interiors() {
        //            "ab"  "c"
        let quotes = 0b0000_1001_0000_1001u64;
        let inside = prefix_xor(quotes);
        assert_eq!(inside & 0xFFFF, 0b0000_0111_0000_0111);
        assert_eq!(prefix_xor(1 << 63), 1 << 63);
        assert_eq!(prefix_xor(1), u64::MAX);
    }
}
