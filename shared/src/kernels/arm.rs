//! One-instruction wrappers around the Armv7E-M DSP extension (SMLAD, SXTB16, SXTAB16) for
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

/// `acc + (x0, x2)`: sign-extends bytes 0 and 2 of `x` and adds them lane-wise (wrapping)
/// to the 16-bit halves of `acc`.
#[inline(always)]
pub fn sxtab16(acc: u32, x: u32) -> u32 {
    let out: u32;
    // SAFETY: a register-only instruction. `preserves_flags`: SXTAB16 writes no flags (unlike
    // SADD16 it does not touch APSR.GE).
    unsafe {
        asm!(
            "sxtab16 {out}, {acc}, {x}",
            out = lateout(reg) out,
            acc = in(reg) acc,
            x = in(reg) x,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// `acc + (x1, x3)`: SXTAB16 with `ROR #8`.
#[inline(always)]
pub fn sxtab16_ror8(acc: u32, x: u32) -> u32 {
    let out: u32;
    // SAFETY: a register-only instruction. `preserves_flags`: SXTAB16 writes no flags.
    unsafe {
        asm!(
            "sxtab16 {out}, {acc}, {x}, ror #8",
            out = lateout(reg) out,
            acc = in(reg) acc,
            x = in(reg) x,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// Widens 4 int8 `(x0, x1, x2, x3)` packed in a word to the i16 pairs `(x0, x2)` and
/// `(x1, x3)`, each lane plus `offset2` (the offset in both halves): the "reordered" pairing
/// that matches weights widened with [`sxtb16`] / [`sxtb16_ror8`]. Two SXTAB16s (the add
/// is free), lane-wise wrapping like SADD16.
#[inline(always)]
pub fn widen_reordered(x: u32, offset2: u32) -> (u32, u32) {
    (sxtab16(offset2, x), sxtab16_ror8(offset2, x))
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

/// 2×2 max pooling of `n` words of channels: the window's top-left tap at `p`, its other
/// taps at `p + c`, `p + row`, `p + row + c`; 4 LDR, 3 SSUB8/SEL pairs and one STR per word
/// (12 instructions with SUBS/BNE, whatever the opt-level: LLVM's own loop kept a pointer
/// per tap). Returns `p` and `out` advanced by `4 · n` bytes.
///
/// # Safety
/// `p`, `p + c`, `p + row` and `p + row + c` readable for `4 · n` bytes and `out` writable
/// for `4 · n` bytes (any alignment: LDR/STR tolerate it on M4/M7); `n ≥ 1`.
#[inline(always)]
pub unsafe fn max_2x2_words(
    p: *const i8,
    c: usize,
    row: usize,
    out: *mut i8,
    n: usize,
) -> (*const i8, *mut i8) {
    let (p_end, out_end);
    // SAFETY: the caller guarantees the accesses. Options: `nostack`; not `nomem`/`readonly`
    // (it writes `out`); not `preserves_flags` (SUBS writes NZCV, SSUB8 APSR.GE).
    unsafe {
        asm!(
            "2:",
            "ldr   {b}, [{p}, {c}]",
            "ldr   {x}, [{p}, {row}]",
            "ldr   {y}, [{p}, {rc}]",
            "ldr   {a}, [{p}], #4",
            "ssub8 {t}, {a}, {b}",
            "sel   {a}, {a}, {b}",
            "ssub8 {t}, {x}, {y}",
            "sel   {x}, {x}, {y}",
            "ssub8 {t}, {a}, {x}",
            "sel   {a}, {a}, {x}",
            "str   {a}, [{out}], #4",
            "subs  {n}, {n}, #1",
            "bne   2b",
            p = inout(reg) p => p_end,
            out = inout(reg) out => out_end,
            n = inout(reg) n => _,
            c = in(reg) c,
            row = in(reg) row,
            rc = in(reg) row + c,
            a = out(reg) _,
            b = out(reg) _,
            x = out(reg) _,
            y = out(reg) _,
            t = out(reg) _,
            options(nostack),
        );
    }
    (p_end, out_end)
}

/// The conv hot loop: `acc[p] += Σ w · x_p` over `groups` 4-weight groups, one filter
/// against a block of 4 im2col columns. Per group: LDR of 4 int8 weights, SXTB16 and
/// SXTB16-ROR8 into `(w0,w2)`, `(w1,w3)`, then for each pixel an LDRD of its reordered i16
/// pairs `(x0,x2)`, `(x1,x3)` and two SMLADs: 15 instructions per 16 MACs, plus SUBS/BNE
/// per two groups. An odd count enters the two-group body at its second half (3 more
/// instructions), so no group of a filter is left to Rust. One asm block rather than the
/// wrappers above because LLVM, not seeing the loop's register budget (11 of the 12
/// allocatable), hoisted all loads and spilled.
///
/// # Safety
/// `w` must be readable for `4 · groups` bytes (any alignment), `x` readable for
/// `8 · groups` words and 4-byte aligned (LDRD), and `groups ≥ 1`.
#[inline(always)]
pub unsafe fn mac_1x4(w: *const i8, x: *const u32, groups: usize, acc: [i32; 4]) -> [i32; 4] {
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    // SAFETY: the caller guarantees the reads. Options: `readonly` (reads memory, writes
    // none), `nostack`; not `preserves_flags` (LSRS/ADDS/SUBS write NZCV, SMLAD may set Q).
    unsafe {
        asm!(
            "lsrs   {n}, {n}, #1",
            "bcc    2f",
            "adds   {n}, {n}, #1",
            "b      3f",
            "2:",
            "ldr    {w13}, [{w}], #4",
            "ldrd   {x0}, {x1}, [{x}, #8]",
            "sxtb16 {w02}, {w13}",
            "sxtb16 {w13}, {w13}, ror #8",
            "smlad  {a1}, {w02}, {x0}, {a1}",
            "smlad  {a1}, {w13}, {x1}, {a1}",
            "ldrd   {x0}, {x1}, [{x}, #16]",
            "smlad  {a2}, {w02}, {x0}, {a2}",
            "smlad  {a2}, {w13}, {x1}, {a2}",
            "ldrd   {x0}, {x1}, [{x}, #24]",
            "smlad  {a3}, {w02}, {x0}, {a3}",
            "smlad  {a3}, {w13}, {x1}, {a3}",
            "ldrd   {x0}, {x1}, [{x}], #32",
            "smlad  {a0}, {w02}, {x0}, {a0}",
            "smlad  {a0}, {w13}, {x1}, {a0}",
            "3:",
            "ldr    {w13}, [{w}], #4",
            "ldrd   {x0}, {x1}, [{x}, #8]",
            "sxtb16 {w02}, {w13}",
            "sxtb16 {w13}, {w13}, ror #8",
            "smlad  {a1}, {w02}, {x0}, {a1}",
            "smlad  {a1}, {w13}, {x1}, {a1}",
            "ldrd   {x0}, {x1}, [{x}, #16]",
            "smlad  {a2}, {w02}, {x0}, {a2}",
            "smlad  {a2}, {w13}, {x1}, {a2}",
            "ldrd   {x0}, {x1}, [{x}, #24]",
            "smlad  {a3}, {w02}, {x0}, {a3}",
            "smlad  {a3}, {w13}, {x1}, {a3}",
            "ldrd   {x0}, {x1}, [{x}], #32",
            "smlad  {a0}, {w02}, {x0}, {a0}",
            "smlad  {a0}, {w13}, {x1}, {a0}",
            "subs   {n}, {n}, #1",
            "bne    2b",
            w = inout(reg) w => _,
            x = inout(reg) x => _,
            n = inout(reg) groups => _,
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            w02 = out(reg) _,
            w13 = out(reg) _,
            x0 = out(reg) _,
            x1 = out(reg) _,
            options(readonly, nostack),
        );
    }
    [a0, a1, a2, a3]
}

/// One 4-weight group of the [`mac_1x4`] body against the block's 4 columns, as asm text
/// over the operands `w`, `xp` (advanced), `x0`, `x1` and the fixed registers r4, r5
/// (weight pairs `w02`, `w13`) and r0..r3 (accumulators of pixels 0..3).
macro_rules! mac_group_asm {
    () => {
        concat!(
            "ldr    r5, [{w}], #4\n",
            "ldrd   {x0}, {x1}, [{xp}, #8]\n",
            "sxtb16 r4, r5\n",
            "sxtb16 r5, r5, ror #8\n",
            "smlad  r1, r4, {x0}, r1\n",
            "smlad  r1, r5, {x1}, r1\n",
            "ldrd   {x0}, {x1}, [{xp}, #16]\n",
            "smlad  r2, r4, {x0}, r2\n",
            "smlad  r2, r5, {x1}, r2\n",
            "ldrd   {x0}, {x1}, [{xp}, #24]\n",
            "smlad  r3, r4, {x0}, r3\n",
            "smlad  r3, r5, {x1}, r3\n",
            "ldrd   {x0}, {x1}, [{xp}], #32\n",
            "smlad  r0, r4, {x0}, r0\n",
            "smlad  r0, r5, {x1}, r0\n",
        )
    };
}

/// Requantizes accumulator `$a` into r5 with the constants in `x0` (multiplier), `x1`
/// (`k_hi`) and `n` (`(e − 1) | act_min << 8`), `requant_s8::FoldedRequant`'s arithmetic:
/// AND/ORR/ADD build the sign-dependent rounding words in r4/r5, SMLAL, ASR (5 instructions).
macro_rules! folded_asm {
    ($a:literal) => {
        concat!(
            "and    r4, ",
            $a,
            ", #0x80000000\n",
            "orr    r4, r4, #0x40000000\n",
            "add    r5, {x1}, ",
            $a,
            ", asr #31\n",
            "smlal  r4, r5, ",
            $a,
            ", {x0}\n",
            "asr    r5, r5, {n}\n",
        )
    };
}

/// [`folded_asm`] for a fused-ReLU layer, `requant_s8::ReluRequant`'s arithmetic with `x1`
/// holding `ka` and `n`'s low byte `e`: ADD (2a), SMMLAR, ASR (3 instructions).
macro_rules! relu_asm {
    ($a:literal) => {
        concat!(
            "add    r5, ",
            $a,
            ", ",
            $a,
            "\n",
            "smmlar r5, r5, {x0}, {x1}\n",
            "asr    r5, r5, {n}\n",
        )
    };
}

/// One output: `$rq` (either of the above) for accumulator `$a`, SSAT #8 (the upper clamp,
/// 127, and a lower one of −128), `$lo` (empty, or [`clamp_lo_asm`] where the layer's
/// `act_min` is above −128), STRB to `$addr`.
macro_rules! out_asm {
    ($rq:ident, $a:literal, $addr:literal, $lo:expr) => {
        concat!(
            $rq!($a),
            "ssat   r5, #8, r5\n",
            $lo,
            "strb   r5, ",
            $addr,
            "\n",
        )
    };
}

/// The lower clamp of [`out_asm`] for a layer whose `act_min` is above −128.
macro_rules! clamp_lo_asm {
    () => {
        concat!(
            "cmp    r5, {n}, asr #8\n",
            "it     lt\n",
            "asrlt  r5, {n}, #8\n",
        )
    };
}

/// The whole filter loop of a conv block in one asm body (`$rq`, `$lo`: see [`out_asm`]).
macro_rules! filters_asm {
    ($rq:ident, $lo:expr, $w:expr, $t:expr, $args:expr) => {{
        let [x, ng, adj, y, oc, t_end] = $args;
        // SAFETY: the caller's contract (see `mac_requant_filters`). The six arguments are
        // pushed (r0..r5, so in that order from `sp`) and read back from the stack, which
        // frees their registers for the loop; the asm pops them before it ends. Options:
        // none — it reads and writes memory and the stack, and writes the flags.
        unsafe {
            asm!(
                "push   {{r0, r1, r2, r3, r4, r5}}",
                "1:",
                "ldr    r0, [{t}], #16",
                "mov    r1, r0",
                "mov    r2, r0",
                "mov    r3, r0",
                "ldrd   {xp}, {n}, [sp]",
                "lsrs   {n}, {n}, #1",
                "bcc    2f",
                "adds   {n}, {n}, #1",
                "b      3f",
                "2:",
                mac_group_asm!(),
                "3:",
                mac_group_asm!(),
                "subs   {n}, {n}, #1",
                "bne    2b",
                "ldr    {x0}, [sp, #8]",
                "sub    {w}, {w}, {x0}",
                "ldrd   {x0}, {x1}, [{t}, #-12]",
                "ldr    {n}, [{t}, #-4]",
                "ldr    {xp}, [sp, #12]",
                out_asm!($rq, "r0", "[{xp}]", $lo),
                "ldr    r0, [sp, #16]",
                out_asm!($rq, "r1", "[{xp}, r0]", $lo),
                "add    {xp}, {xp}, r0, lsl #1",
                out_asm!($rq, "r2", "[{xp}]", $lo),
                out_asm!($rq, "r3", "[{xp}, r0]", $lo),
                "ldr    {xp}, [sp, #12]",
                "adds   {xp}, {xp}, #1",
                "str    {xp}, [sp, #12]",
                "ldr    r0, [sp, #20]",
                "cmp    {t}, r0",
                "bne    1b",
                "add    sp, sp, #24",
                w = inout(reg) $w => _,
                t = inout(reg) $t => _,
                inout("r0") x => _,
                inout("r1") ng => _,
                inout("r2") adj => _,
                inout("r3") y => _,
                inout("r4") oc => _,
                inout("r5") t_end => _,
                x0 = out(reg) _,
                x1 = out(reg) _,
                xp = out(reg) _,
                n = out(reg) _,
            );
        }
    }};
}

/// A conv block's filter loop: for each table entry `t .. t_end` (16 bytes each:
/// `[bias, multiplier, k_hi or ka, shift | act_min << 8]`, see `requant_s8::FoldedRequant`
/// and `requant_s8::ReluRequant`) the [`mac_1x4`] loop of its filter against the block's
/// `ng` groups at `x`, then the four accumulators requantized into `y`, `y + oc`,
/// `y + 2·oc`, `y + 3·oc`; the next filter starts `k = 4·ng − adj` bytes further, its
/// output one byte further. One asm body, so the per-filter bookkeeping (bias into 4
/// accumulators, the table, output pointers) is ~20 instructions where Rust's loop around
/// separate asm blocks spent ~45 on spills. Per output: 5 instructions with `relu` and no
/// `clamp_lo` (a fused ReLU after a zero point of −128, the common case), 7 without `relu`;
/// `clamp_lo` adds 3.
///
/// # Safety
/// `t < t_end`, both 4-byte aligned, every entry from a layer that passed
/// `FoldedRequant::layer_ok` (and `ReluRequant::layer_ok` with `relu`); for each filter `f`
/// (`0 ≤ f < (t_end − t) / 16`) the bytes `w + f·k ..+ 4·ng` readable and `y + f + j·oc`
/// (j < 4) writable; `x` 4-byte aligned and readable for `8 · ng` words; `ng ≥ 1`,
/// `adj < 4`. Not inlined: its 4 asm variants are in the binary once.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub unsafe fn mac_requant_filters(
    w: *const i8,
    x: *const u32,
    ng: usize,
    adj: usize,
    t: *const u32,
    t_end: *const u32,
    y: *mut i8,
    oc: usize,
    relu: bool,
    clamp_lo: bool,
) {
    let args = [x as usize, ng, adj, y as usize, oc, t_end as usize];
    match (relu, clamp_lo) {
        (true, false) => filters_asm!(relu_asm, "", w, t, args),
        (true, true) => filters_asm!(relu_asm, clamp_lo_asm!(), w, t, args),
        (false, false) => filters_asm!(folded_asm, "", w, t, args),
        (false, true) => filters_asm!(folded_asm, clamp_lo_asm!(), w, t, args),
    }
}

/// One 4-weight group against a block of 4 output pixels read straight from a widened
/// input row (`conv2d_band`): pixel `j`'s pairs are `8·Q·S·j` bytes after pixel 0's (`S` the
/// stride), and the
/// next group (channel group or kernel tap) is 8 bytes on. Registers as [`mac_group_asm`].
macro_rules! band_group_asm {
    () => {
        concat!(
            "ldr    r5, [{w}], #4\n",
            "ldrd   {x0}, {x1}, [{xp}, #{o1}]\n",
            "sxtb16 r4, r5\n",
            "sxtb16 r5, r5, ror #8\n",
            "smlad  r1, r4, {x0}, r1\n",
            "smlad  r1, r5, {x1}, r1\n",
            "ldrd   {x0}, {x1}, [{xp}, #{o2}]\n",
            "smlad  r2, r4, {x0}, r2\n",
            "smlad  r2, r5, {x1}, r2\n",
            "ldrd   {x0}, {x1}, [{xp}, #{o3}]\n",
            "smlad  r3, r4, {x0}, r3\n",
            "smlad  r3, r5, {x1}, r3\n",
            "ldrd   {x0}, {x1}, [{xp}], #8\n",
            "smlad  r0, r4, {x0}, r0\n",
            "smlad  r0, r5, {x1}, r0\n",
        )
    };
}

/// One kernel row of [`mac_requant_band`]: its pointer and pair count from `[s + $off]`,
/// then the two-group loop (labels `$top`, `$mid`), entered at its second half for an odd
/// group count (`odd`); `three` groups (`Q = 1`: an RGB or 4-channel input) are unrolled.
macro_rules! band_row_asm {
    (three, $off:literal, $top:literal, $mid:literal) => {
        concat!(
            "ldr    {xp}, [{s}, #", $off, "]\n",
            band_group_asm!(),
            band_group_asm!(),
            band_group_asm!(),
        )
    };
    (even, $off:literal, $top:literal, $mid:literal) => {
        band_row_asm!(@loop "", $off, $top, $mid)
    };
    (odd, $off:literal, $top:literal, $mid:literal) => {
        band_row_asm!(@loop concat!("b      ", $mid, "f\n"), $off, $top, $mid)
    };
    (@loop $entry:expr, $off:literal, $top:literal, $mid:literal) => {
        concat!(
            "ldrd   {xp}, {n}, [{s}, #", $off, "]\n",
            $entry,
            $top, ":\n", band_group_asm!(),
            $mid, ":\n", band_group_asm!(),
            "subs   {n}, {n}, #1\n",
            "bne    ", $top, "b\n",
        )
    };
}

/// The filter loop of [`mac_requant_band`] for an even or odd group count per kernel row,
/// requantizing with `$rq` ([`relu_asm`] or [`folded_asm`]).
macro_rules! band_asm {
    ($parity:ident, $rq:ident, $w:expr, $t:expr, $s:expr) => {
        // SAFETY: the caller's contract (see `mac_requant_band`). Options: none — it reads
        // memory, writes the outputs and `args.y`, and writes the flags.
        unsafe {
            asm!(
                "1:",
                "ldr    r0, [{t}], #16",
                "mov    r1, r0",
                "mov    r2, r0",
                "mov    r3, r0",
                band_row_asm!($parity, "0", "2", "3"),
                band_row_asm!($parity, "8", "4", "5"),
                band_row_asm!($parity, "16", "6", "7"),
                "ldrd   {x0}, {x1}, [{t}, #-12]",
                "ldr    {n}, [{t}, #-4]",
                "ldr    {xp}, [{s}, #24]",
                out_asm!($rq, "r0", "[{xp}]", ""),
                "ldr    r0, [{s}, #28]",
                out_asm!($rq, "r1", "[{xp}, r0]", ""),
                "add    {xp}, {xp}, r0, lsl #1",
                out_asm!($rq, "r2", "[{xp}]", ""),
                out_asm!($rq, "r3", "[{xp}, r0]", ""),
                "ldr    {xp}, [{s}, #24]",
                "adds   {xp}, {xp}, #1",
                "str    {xp}, [{s}, #24]",
                "ldr    r0, [{s}, #32]",
                "cmp    {t}, r0",
                "bne    1b",
                w = inout(reg) $w => _,
                t = inout(reg) $t => _,
                s = in(reg) $s,
                x0 = out(reg) _,
                x1 = out(reg) _,
                xp = out(reg) _,
                n = out(reg) _,
                o1 = const 8 * Q * S,
                o2 = const 16 * Q * S,
                o3 = const 24 * Q * S,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                out("r4") _,
                out("r5") _,
            );
        }
    };
}

/// What [`mac_requant_band`] reads besides the weights and the table (`repr(C)`: the asm
/// reads it by offset).
#[repr(C)]
pub struct BandArgs {
    /// Per kernel row: the block's pixel 0 in its widened input row (4-byte aligned), and
    /// the two-group loop's count, `⌈groups / 2⌉` (`groups = 3·Q`).
    pub rows: [(*const u32, usize); 3],
    /// Output of the current filter for pixel 0 (advanced by one per filter).
    pub y: *mut i8,
    /// Output pixel stride (output channels).
    pub oc: usize,
    /// Table entry past the last filter.
    pub t_end: *const u32,
}

/// A 3×3 conv block of stride `S` (1 or 2) straight from widened input rows: for each table entry
/// `t .. args.t_end` (`[bias, multiplier, ka, e | act_min << 8]` of a fused-ReLU layer with
/// `act_min = −128`, see `requant_s8::ReluRequant`; with `RELU = false` the
/// `requant_s8::FoldedRequant` entries `[bias, multiplier, k_hi, (e − 1) | act_min << 8]` of
/// any layer with `act_min = −128`) the MAC loop of its filter over the 3
/// kernel rows — per row `3·Q` groups, each 16 MACs in 15 instructions, pixel `j` at
/// `8·Q·S·j` bytes — then the 4 accumulators requantized (ADD, SMMLAR, ASR, SSAT, STRB; the
/// folded form: AND, ORR, ADD, SMLAL, ASR, SSAT, STRB) into
/// `y + j·oc`. The filter's weights (`36·Q` bytes, OHWI with `4·Q` channels) follow each
/// other from `w`.
///
/// # Safety
/// `t < args.t_end`, 4-byte aligned, entries from a layer that passed
/// `ReluRequant::layer_ok` (`RELU`) or `FoldedRequant::layer_ok`, with `act_min = −128`; `w` readable for `36·Q` bytes per entry;
/// each row pointer 4-byte aligned and readable for `8·Q·(3·S + 3)` bytes — every pair up to
/// pixel `3·S + 2` (the window of the last pixel); `y + f + j·oc` writable for each filter
/// `f` and `j < 4`; `args` valid for reads and writes; `1 ≤ Q ≤ 16`; `S` 1 or 2.
/// Not inlined: one copy per `Q`, `RELU` and `S` (~550 B), called through a pointer chosen
/// once per layer.
#[inline(never)]
pub unsafe fn mac_requant_band<const Q: usize, const RELU: bool, const S: usize>(
    w: *const i8,
    t: *const u32,
    args: *mut BandArgs,
) {
    match (Q, RELU) {
        (1, true) => band_asm!(three, relu_asm, w, t, args),
        (1, false) => band_asm!(three, folded_asm, w, t, args),
        (_, true) if Q % 2 == 1 => band_asm!(odd, relu_asm, w, t, args),
        (_, false) if Q % 2 == 1 => band_asm!(odd, folded_asm, w, t, args),
        (_, true) => band_asm!(even, relu_asm, w, t, args),
        (_, false) => band_asm!(even, folded_asm, w, t, args),
    }
}

/// Widens `n` groups of 4 int8 at `src` into reordered i16 pairs plus `offset2` (as
/// [`widen_reordered`]), storing group `i`'s pairs `(x0,x2)`, `(x1,x3)` at `dst + i·STRIDE`
/// bytes: LDR, 2 SXTAB16, STRD per group (LLVM's own loop added 3 more instructions).
///
/// # Safety
/// `src` readable for `4 · n` bytes (any alignment: LDR tolerates it on M4/M7); `dst`
/// 4-byte aligned (STRD) and writable for 8 bytes at each of the `n` strides; `n ≥ 1`.
#[inline(always)]
pub unsafe fn widen_groups<const STRIDE: usize>(
    src: *const i8,
    dst: *mut u32,
    n: usize,
    offset2: u32,
) {
    // SAFETY: the caller guarantees the accesses. Options: `nostack`; not `nomem`/`readonly`
    // (it writes `dst`); not `preserves_flags` (SUBS writes NZCV).
    unsafe {
        asm!(
            "2:",
            "ldr     {w}, [{src}], #4",
            "sxtab16 {lo}, {off}, {w}",
            "sxtab16 {hi}, {off}, {w}, ror #8",
            "strd    {lo}, {hi}, [{dst}], #{stride}",
            "subs    {n}, {n}, #1",
            "bne     2b",
            src = inout(reg) src => _,
            dst = inout(reg) dst => _,
            n = inout(reg) n => _,
            off = in(reg) offset2,
            w = out(reg) _,
            lo = out(reg) _,
            hi = out(reg) _,
            stride = const STRIDE,
            options(nostack),
        );
    }
}

/// [`widen_groups`] for the 4 columns of a conv block at once: `n` groups of 4 int8 from
/// each of `src`, `src + ps`, `src + 2·ps`, `src + 3·ps` (4 pixels' windows, `ps` bytes
/// apart), widened to reordered i16 pairs plus `offset2` and stored as consecutive 8-word
/// groups `[(x0,x2), (x1,x3)]` pixel by pixel at `dst`: per group 4 LDR, 8 SXTAB16 and two
/// STM, 16 instructions for 4 pixels where 4 [`widen_groups`] take 24. The STM registers
/// are pinned to r2–r5 because an STM list must ascend.
///
/// # Safety
/// `src + j·ps` readable for `4 · n` bytes for `j` in `0..4` (any alignment: LDR tolerates
/// it on M4/M7); `dst` 4-byte aligned and writable for `8 · n` words; `n ≥ 1`.
#[inline(always)]
pub unsafe fn widen_4cols(src: *const i8, ps: usize, dst: *mut u32, n: usize, offset2: u32) {
    // SAFETY: the caller guarantees the accesses. Options: `nostack`; not `nomem`/`readonly`
    // (it writes `dst`); not `preserves_flags` (SUBS writes NZCV).
    unsafe {
        asm!(
            "2:",
            "ldr     r5, [{p0}, {ps}]",
            "ldr     r3, [{p0}], #4",
            "sxtab16 r2, {off}, r3",
            "sxtab16 r3, {off}, r3, ror #8",
            "sxtab16 r4, {off}, r5",
            "sxtab16 r5, {off}, r5, ror #8",
            "stm     {dst}!, {{r2, r3, r4, r5}}",
            "ldr     r5, [{p1}, {ps}]",
            "ldr     r3, [{p1}], #4",
            "sxtab16 r2, {off}, r3",
            "sxtab16 r3, {off}, r3, ror #8",
            "sxtab16 r4, {off}, r5",
            "sxtab16 r5, {off}, r5, ror #8",
            "stm     {dst}!, {{r2, r3, r4, r5}}",
            "subs    {n}, {n}, #1",
            "bne     2b",
            p0 = inout(reg) src => _,
            p1 = inout(reg) src.wrapping_add(2 * ps) => _,
            ps = in(reg) ps,
            dst = inout(reg) dst => _,
            n = inout(reg) n => _,
            off = in(reg) offset2,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            options(nostack),
        );
    }
}

/// Copies `n` bytes from `src` to `dst` a word at a time, then byte by byte: the short rows
/// of a small-channel conv window, which LLVM otherwise turns into `memcpy` calls.
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes (any alignment: LDR/STR tolerate it on
/// M4/M7 for normal memory); the ranges do not overlap.
#[inline(always)]
pub unsafe fn copy_bytes(dst: *mut i8, src: *const i8, n: usize) {
    // SAFETY: the caller guarantees the accesses. Options: `nostack`; not `preserves_flags`
    // (SUBS/ADDS write NZCV).
    unsafe {
        asm!(
            "subs  {n}, {n}, #4",
            "blo   3f",
            "2:",
            "ldr   {t}, [{src}], #4",
            "str   {t}, [{dst}], #4",
            "subs  {n}, {n}, #4",
            "bhs   2b",
            "3:",
            "adds  {n}, {n}, #4",
            "beq   5f",
            "4:",
            "ldrb  {t}, [{src}], #1",
            "strb  {t}, [{dst}], #1",
            "subs  {n}, {n}, #1",
            "bne   4b",
            "5:",
            src = inout(reg) src => _,
            dst = inout(reg) dst => _,
            n = inout(reg) n => _,
            t = out(reg) _,
            options(nostack),
        );
    }
}

/// The dense hot loop: `[a, b] += Σ w_r · x` for the two weight rows at `w` and `w + stride`
/// over `pairs` pairs of 4-value groups of the reordered i16 input `x`. Per pair: one LDM of
/// the 4 input words `(x0,x2), (x1,x3)` of both groups, then per row and group an LDR of 4
/// int8 weights, SXTB16 / SXTB16-ROR8 and two SMLADs: 23 instructions per 16 MACs with
/// SUBS/BNE. The LDM's registers are pinned to r2–r5 because an LDM list must ascend.
///
/// # Safety
/// Both rows readable for `8 · pairs` bytes from `w` and `w + stride` (any alignment: LDR
/// tolerates it on M4/M7), `x` readable for `4 · pairs` words and 4-byte aligned (LDM
/// faults otherwise), and `pairs ≥ 1`.
#[inline(always)]
pub unsafe fn mac_2x1_pairs(
    w: *const i8,
    stride: usize,
    x: *const u32,
    pairs: usize,
    acc: [i32; 2],
) -> [i32; 2] {
    let [mut a, mut b] = acc;
    // SAFETY: the caller guarantees the reads. Options: `readonly`, `nostack`; not
    // `preserves_flags` (SUBS writes NZCV, SMLAD may set Q).
    unsafe {
        asm!(
            "2:",
            "ldm    {x}!, {{r2, r3, r4, r5}}",
            "ldr    {wr}, [{w}, {s}]",
            "sxtb16 {t}, {wr}",
            "smlad  {b}, {t}, r2, {b}",
            "sxtb16 {t}, {wr}, ror #8",
            "smlad  {b}, {t}, r3, {b}",
            "ldr    {wr}, [{w}], #4",
            "sxtb16 {t}, {wr}",
            "smlad  {a}, {t}, r2, {a}",
            "sxtb16 {t}, {wr}, ror #8",
            "smlad  {a}, {t}, r3, {a}",
            "ldr    {wr}, [{w}, {s}]",
            "sxtb16 {t}, {wr}",
            "smlad  {b}, {t}, r4, {b}",
            "sxtb16 {t}, {wr}, ror #8",
            "smlad  {b}, {t}, r5, {b}",
            "ldr    {wr}, [{w}], #4",
            "sxtb16 {t}, {wr}",
            "smlad  {a}, {t}, r4, {a}",
            "sxtb16 {t}, {wr}, ror #8",
            "smlad  {a}, {t}, r5, {a}",
            "subs   {n}, {n}, #1",
            "bne    2b",
            w = inout(reg) w => _,
            s = in(reg) stride,
            x = inout(reg) x => _,
            n = inout(reg) pairs => _,
            a = inout(reg) a,
            b = inout(reg) b,
            wr = out(reg) _,
            t = out(reg) _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            options(readonly, nostack),
        );
    }
    [a, b]
}

/// The output requantization of a fused add's element loop, as asm text over `s` (the
/// saturated sum), temporaries `c`, `h` and the constants `mult`, `khi` and `n`
/// (`(e − 1) | act_min << 8`): `requant_s8::FoldedRequant` (AND, ORR, ADD, SMLAL, ASR), SSAT,
/// `$lo` (empty where `act_min = −128`: SSAT gives it; else [`add_clamp_asm`]), STRB over the
/// skip byte (7 instructions, 10 with the lower clamp).
macro_rules! add_out_asm {
    ($mult:literal, $khi:literal, $n:literal, $lo:expr) => {
        concat!(
            "and    {c}, {s}, #0x80000000\n",
            "orr    {c}, {c}, #0x40000000\n",
            "add    {h}, ",
            $khi,
            ", {s}, asr #31\n",
            "smlal  {c}, {h}, {s}, ",
            $mult,
            "\n",
            "asr    {h}, {h}, ",
            $n,
            "\n",
            "ssat   {h}, #8, {h}\n",
            $lo,
            "strb   {h}, [{skip}], #1\n",
        )
    };
}

/// The lower clamp of [`add_out_asm`] for an add whose `act_min` is above −128 (its low byte
/// operand `$n` holds `act_min << 8`).
macro_rules! add_clamp_asm {
    ($n:literal) => {
        concat!(
            "cmp    {h}, ",
            $n,
            ", asr #8\n",
            "it     lt\n",
            "asrlt  {h}, ",
            $n,
            ", #8\n",
        )
    };
}

/// The element loop of [`add_skip_tables`] with the lower clamp `$lo`.
macro_rules! add_tables_asm {
    ($lo:expr, $skip:expr, $conv:expr, $n:expr, $ls:expr, $lc:expr, $k:expr) => {
        // SAFETY: the caller guarantees the accesses; table indices are bytes (< 256).
        // Options: `nostack`; not `preserves_flags` (QADD may set Q, CMP writes NZCV).
        unsafe {
            asm!(
                "2:",
                "ldrb   {c}, [{conv}], #1",
                "ldrb   {s}, [{skip}]",
                "ldr    {c}, [{lc}, {c}, lsl #2]",
                "ldr    {s}, [{ls}, {s}, lsl #2]",
                "qadd   {s}, {s}, {c}",
                add_out_asm!("{mult}", "{khi}", "{n}", $lo),
                "cmp    {skip}, {end}",
                "bne    2b",
                skip = inout(reg) $skip => _,
                conv = inout(reg) $conv => _,
                end = in(reg) $skip.wrapping_add($n),
                ls = in(reg) $ls,
                lc = in(reg) $lc,
                mult = in(reg) $k[0],
                khi = in(reg) $k[1],
                n = in(reg) $k[2],
                s = out(reg) _,
                c = out(reg) _,
                h = out(reg) _,
                options(nostack),
            );
        }
    };
}

/// A fused add's element loop with both inputs tabulated: for each of the `n` bytes,
/// `skip ← requant(qadd(ls[skip], lc[conv]))` (2 LDRB, 2 LDR, QADD, then [`add_out_asm`]),
/// 14 instructions per element, 17 with the lower clamp (`CLAMP`: an `act_min` above −128).
/// `k` is `[mult, k_hi, (e − 1) | act_min << 8]` of the sum's `requant_s8::FoldedRequant`
/// (a layer that passed its `layer_ok` with `act_max = 127`).
///
/// # Safety
/// `skip` readable and writable and `conv` readable for `n ≥ 1` bytes; `ls` and `lc` hold
/// 256 words each; without `CLAMP`, `act_min = −128`.
pub unsafe fn add_skip_tables<const CLAMP: bool>(
    skip: *mut i8,
    conv: *const i8,
    n: usize,
    ls: *const i32,
    lc: *const i32,
    k: [u32; 3],
) {
    if CLAMP {
        add_tables_asm!(add_clamp_asm!("{n}"), skip, conv, n, ls, lc, k);
    } else {
        add_tables_asm!("", skip, conv, n, ls, lc, k);
    }
}

/// The element loop of [`add_skip_scale`] with the lower clamp `$lo`.
macro_rules! add_scale_asm {
    ($lo:expr, $skip:expr, $conv:expr, $n:expr, $ls:expr, $k:expr) => {
        // SAFETY: as `add_tables_asm`. Options: `readonly` would be wrong (it writes the
        // skip); `nostack`; not `preserves_flags`.
        unsafe {
            asm!(
                "2:",
                "ldrsb  {c}, [{conv}], #1",
                "ldrd   {t1}, {t2}, [{k}]",
                "sub    {c}, {c}, {t1}",
                "lsl    {t2}, {c}, {t2}",
                "ldrd   {t1}, {h}, [{k}, #8]",
                "and    {h}, {h}, {c}, asr #31",
                "sub    {h}, {t1}, {h}",
                "mov    {c}, #0x80000000",
                "ldrd   {t1}, {s}, [{k}, #16]",
                "smlal  {c}, {h}, {t2}, {t1}",
                "asr    {t2}, {h}, {s}",
                "ldrb   {s}, [{skip}]",
                "ldr    {s}, [{ls}, {s}, lsl #2]",
                "qadd   {s}, {s}, {t2}",
                "ldrd   {t1}, {t2}, [{k}, #24]",
                "and    {c}, {s}, #0x80000000",
                "orr    {c}, {c}, #0x40000000",
                "add    {h}, {t2}, {s}, asr #31",
                "smlal  {c}, {h}, {s}, {t1}",
                "ldr    {t2}, [{k}, #32]",
                "asr    {h}, {h}, {t2}",
                "ssat   {h}, #8, {h}",
                $lo,
                "strb   {h}, [{skip}], #1",
                "cmp    {skip}, {end}",
                "bne    2b",
                skip = inout(reg) $skip => _,
                conv = inout(reg) $conv => _,
                end = in(reg) $skip.wrapping_add($n),
                ls = in(reg) $ls,
                k = in(reg) $k,
                s = out(reg) _,
                c = out(reg) _,
                h = out(reg) _,
                t1 = out(reg) _,
                t2 = out(reg) _,
                options(nostack),
            );
        }
    };
}

/// The lower clamp of [`add_skip_scale`]'s loop (`{t2}` holds `(e − 1) | act_min << 8`).
macro_rules! add_scale_clamp_asm {
    () => {
        concat!(
            "cmp    {h}, {t2}, asr #8\n",
            "it     lt\n",
            "asrlt  {h}, {t2}, #8\n",
        )
    };
}

/// [`add_skip_tables`] where only the skip's rescaling is tabulated: the conv's is computed
/// per element from `k[0..6]` = `[zp, ls + 1, 2^(e−1) or 0, sign (1 or 0), multiplier, e]`
/// (`add_s8`'s input scale: SUB, LSL, AND, SUB, MOV, SMLAL, ASR), `k[6..9]` the sum's
/// requantization as there; constants are loaded from `k` each element for want of
/// registers. 25 instructions per element, 28 with the lower clamp (`CLAMP`).
///
/// # Safety
/// As [`add_skip_tables`]; `k` readable for 9 words, 8-byte aligned (LDRD).
pub unsafe fn add_skip_scale<const CLAMP: bool>(
    skip: *mut i8,
    conv: *const i8,
    n: usize,
    ls: *const i32,
    k: *const u32,
) {
    if CLAMP {
        add_scale_asm!(add_scale_clamp_asm!(), skip, conv, n, ls, k);
    } else {
        add_scale_asm!("", skip, conv, n, ls, k);
    }
}
