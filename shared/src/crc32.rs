//! CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), the checksum that guards a blob's
//! payload: a 16-entry (half-byte) table built at compile time, 64 B of flash and no RAM.

const POLY: u32 = 0xEDB8_8320;

/// The CRC of each half-byte value: two lookups per byte. A byte-wide table would halve
/// the work at 1 KiB of flash, a large share of a firmware built for one small blob.
const TABLE: [u32; 16] = {
    let mut t = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 of `bytes` (same value as zlib's `crc32` and Python's `binascii.crc32`).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= b as u32;
        c = TABLE[(c & 0xf) as usize] ^ (c >> 4);
        c = TABLE[(c & 0xf) as usize] ^ (c >> 4);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::crc32;

    #[test]
    fn check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // Every byte value, against the bit-at-a-time definition.
        let all: [u8; 256] = core::array::from_fn(|i| i as u8);
        let mut c = !0u32;
        for &b in &all {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    super::POLY ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        assert_eq!(crc32(&all), !c);
    }
}
