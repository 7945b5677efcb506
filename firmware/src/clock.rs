//! Instruction counting with SysTick: reload 0xFF_FFFF, count wraps in the exception, and
//! under QEMU `-icount shift=0` every tick is a fixed number of instructions (not cycles).

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{SCB, SYST, syst::SystClkSource};
use cortex_m_rt::exception;

const RELOAD: u32 = 0x00FF_FFFF;

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Starts SysTick on the core clock and waits for its first reload (it reads 0 until then).
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    while SYST::get_current() == 0 {}
    WRAPS.store(0, Ordering::SeqCst);
}

/// Ticks since [`start`] (monotonic; wraps after 2^56 ticks).
pub fn now() -> u64 {
    loop {
        let w = WRAPS.load(Ordering::SeqCst);
        let v = SYST::get_current();
        // A reload whose exception is still pending has not been counted yet.
        let pending = SCB::is_pendst_pending() && v > RELOAD / 2;
        if WRAPS.load(Ordering::SeqCst) == w {
            let wraps = w as u64 + pending as u64;
            return wraps * (RELOAD as u64 + 1) + (RELOAD - v) as u64;
        }
    }
}

/// Iterations of the calibration loop; it executes `2 · CALIB_ITERS` instructions.
pub const CALIB_ITERS: u32 = 1_000_000;

/// Ticks taken by a loop of exactly `2 · CALIB_ITERS` instructions (SUBS + BNE each pass),
/// so the host can check its instructions-per-tick factor for this machine.
pub fn calibrate() -> u64 {
    let t0 = now();
    spin(CALIB_ITERS);
    now() - t0
}

#[inline(never)]
fn spin(n: u32) {
    // SAFETY: only a register is counted down; no memory or stack is touched.
    // `nomem, nostack` hold; flags change, so no `preserves_flags`.
    unsafe {
        core::arch::asm!(
            "1:",
            "subs {0}, {0}, #1",
            "bne 1b",
            inout(reg) n => _,
            options(nomem, nostack),
        );
    }
}
