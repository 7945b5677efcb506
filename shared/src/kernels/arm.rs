//! One-instruction wrappers around the Armv7E-M DSP extension (SMLAD, SXTB16, SADD16) for
//! the `cfg(dsp)` kernel paths; LLVM never emits these by itself and the intrinsics are nightly.
//!
//! Common options: every block is `pure` (the result depends only on the operands, so LLVM
//! may CSE or drop unused ones), `nomem` (no memory is read or written) and `nostack` (no
//! stack use). Flags are the exception, noted per wrapper: Rust's `preserves_flags` covers
//! the whole APSR, including the DSP's sticky Q flag and the SIMD GE bits.

use core::arch::asm;

/// `acc + x.lo·y.lo + x.hi·y.hi` on signed 16-bit halves (wrapping 32-bit add).
#[inline(always)]
pub fn smlad(x: u32, y: u32, acc: i32) -> i32 {
    let out: i32;
    // SAFETY: a register-only arithmetic instruction of Armv7E-M.
    // Not `preserves_flags`: SMLAD sets the sticky Q flag when the accumulation overflows
    // (the result itself wraps, as the reference's i32 adds do).
    unsafe {
        asm!(
            "smlad {out}, {x}, {y}, {acc}",
            out = lateout(reg) out,
            x = in(reg) x,
            y = in(reg) y,
            acc = in(reg) acc,
            options(pure, nomem, nostack),
        );
    }
    out
}

/// Sign-extends bytes 0 and 2 of `x` to the low and high 16-bit halves: `(x0, x2)`.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    let out: u32;
    // SAFETY: a register-only instruction. `preserves_flags`: SXTB16 writes no flags.
    unsafe {
        asm!(
            "sxtb16 {out}, {x}",
            out = lateout(reg) out,
            x = in(reg) x,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// Sign-extends bytes 1 and 3 of `x` (SXTB16 with `ROR #8`): `(x1, x3)`.
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    let out: u32;
    // SAFETY: a register-only instruction. `preserves_flags`: SXTB16 writes no flags.
    unsafe {
        asm!(
            "sxtb16 {out}, {x}, ror #8",
            out = lateout(reg) out,
            x = in(reg) x,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// Lane-wise wrapping add of two pairs of signed 16-bit halves.
#[inline(always)]
pub fn sadd16(x: u32, y: u32) -> u32 {
    let out: u32;
    // SAFETY: a register-only arithmetic instruction of Armv7E-M.
    // Not `preserves_flags`: SADD16 sets the APSR.GE bits (one per lane).
    unsafe {
        asm!(
            "sadd16 {out}, {x}, {y}",
            out = lateout(reg) out,
            x = in(reg) x,
            y = in(reg) y,
            options(pure, nomem, nostack),
        );
    }
    out
}

/// Widens 4 int8 `(x0, x1, x2, x3)` packed in a word to the i16 pairs `(x0, x2)` and
/// `(x1, x3)`, each lane plus `offset2` (the offset in both halves): the "reordered" pairing
/// that matches weights widened with [`sxtb16`] / [`sxtb16_ror8`].
#[inline(always)]
pub fn widen_reordered(x: u32, offset2: u32) -> (u32, u32) {
    (sadd16(sxtb16(x), offset2), sadd16(sxtb16_ror8(x), offset2))
}

/// A 16-bit value in both halves of a word (the SADD16 operand for a constant offset).
#[inline(always)]
pub const fn splat16(v: i32) -> u32 {
    let h = v as u32 & 0xFFFF;
    h | h << 16
}

/// Byte-wise signed maximum of 4 packed int8 lanes (SSUB8 then SEL).
#[inline(always)]
pub fn max_s8x4(a: u32, b: u32) -> u32 {
    let out: u32;
    // SAFETY: register-only instructions of Armv7E-M. One block, because SEL consumes the
    // GE bits SSUB8 sets and nothing guarantees flags survive between two asm blocks.
    // Not `preserves_flags`: SSUB8 overwrites APSR.GE.
    unsafe {
        asm!(
            "ssub8 {out}, {a}, {b}",
            "sel {out}, {a}, {b}",
            out = out(reg) out,
            a = in(reg) a,
            b = in(reg) b,
            options(pure, nomem, nostack),
        );
    }
    out
}
