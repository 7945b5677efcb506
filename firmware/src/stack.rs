//! Peak stack use: cortex-m-rt's `paint-stack` fills the stack with 0xCCCC_CCCC at reset;
//! the first changed word above `_stack_end` marks the deepest the stack has been.

unsafe extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

const PAINT: u32 = 0xCCCC_CCCC;

/// (peak bytes used, stack size in bytes) so far.
pub fn usage() -> (u32, u32) {
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let mut p = bottom;
    while p < top {
        // SAFETY: [bottom, top) is the stack region the linker script reserves; it is RAM,
        // word aligned, and reading it has no side effects.
        let w = unsafe { core::ptr::read_volatile(p as *const u32) };
        if w != PAINT {
            break;
        }
        p += 4;
    }
    ((top - p) as u32, (top - bottom) as u32)
}
