//! QEMU transport: defmt frames over semihosting stdout, exit status via semihosting.

use defmt_semihosting as _;

/// Ends the run with `code` as QEMU's exit status (0 ok, non-zero failure).
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}
