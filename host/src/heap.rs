//! glibc malloc tuning for tensor work: freed tensor buffers stay in the heap for reuse instead of going back to the kernel.
//!
//! burn's CPU backend allocates a fresh buffer for nearly every op result (activations of
//! the seed net are 2–3 MiB). glibc serves buffers above its mmap threshold with `mmap`
//! and returns them with `munmap`, and trims the heap top on `free`, so each step
//! page-faults and zeroes megabytes anew: ~10% of a training step's CPU time in the
//! kernel (measured with `whittle bench --threads 1`: 0.8–1.1 s of 8.5 s was `sys`). With
//! a 32 MiB mmap threshold (glibc's maximum on 64-bit) and a 1 GiB trim threshold the
//! buffers are reused and `sys` drops to ~0.1 s.

/// mmap threshold: glibc's maximum on 64-bit targets (`DEFAULT_MMAP_THRESHOLD_MAX`).
pub const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory kept at the top of the heap before glibc trims it.
pub const TRIM_THRESHOLD: i32 = 1 << 30;

/// Apply the tuning; true when the C library accepted both settings (false where the
/// C library is not glibc). Call it first thing in `main`, before any thread starts.
pub fn keep_freed_buffers() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc's tuning parameters (it takes malloc's own
        // lock); it touches no memory of ours. Both values are in glibc's accepted ranges.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_accepts_the_settings() {
        let ok = super::keep_freed_buffers();
        assert_eq!(ok, cfg!(all(target_os = "linux", target_env = "gnu")));
    }
}
