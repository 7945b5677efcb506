//! Real-board transport (probe-rs): defmt frames over RTT; a breakpoint ends the run
//! (`probe-rs run` exits 0), an undefined instruction marks failure (it exits non-zero).

use defmt_rtt as _;

/// Stops the core so `probe-rs run` returns: 0 → breakpoint, else a HardFault.
pub fn exit(code: i32) -> ! {
    if code == 0 {
        loop {
            cortex_m::asm::bkpt();
        }
    }
    cortex_m::asm::udf()
}
