//! whittle's own CPU kernels for training on burn's flex backend (conv2d, max pooling, a
//! fused ReLU + mask, and a conv with its ReLU + mask in one op; forward and backward),
//! with a switch back to burn's ops:
//! `WHITTLE_BURN_OPS=1` or [`set_burn_ops`].

pub mod conv2d;
pub mod conv_block;
pub mod conv_op;
pub mod flex;
pub mod max_pool;
pub mod relu_scale;

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};

#[cfg(test)]
mod tests;

pub use conv_block::{conv_relu_scale, conv_relu_scale_pool};
pub use conv_op::conv2d;
pub use max_pool::max_pool2d;
pub use relu_scale::relu_scale;

/// 0: not decided yet (read `WHITTLE_BURN_OPS` on first use), 1: own kernels, 2: burn's ops.
static MODE: AtomicU8 = AtomicU8::new(0);

/// Use burn's own ops instead of whittle's kernels (`true`), or whittle's (`false`), from
/// now on in this process; overrides `WHITTLE_BURN_OPS`.
pub fn set_burn_ops(burn: bool) {
    MODE.store(if burn { 2 } else { 1 }, Ordering::Relaxed);
}

thread_local! {
    /// [`with_burn_ops`]'s choice for the calling thread, over the process-wide one.
    static LOCAL: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Runs `f` with burn's ops (`true`) or whittle's kernels (`false`) on this thread only
/// (the choice is made where an op is called, so rayon's workers need not see it).
pub fn with_burn_ops<T>(burn: bool, f: impl FnOnce() -> T) -> T {
    let before = LOCAL.replace(Some(burn));
    let out = f();
    LOCAL.set(before);
    out
}

/// Whether burn's ops are in use: [`with_burn_ops`] inside its closure, else
/// [`set_burn_ops`] if called, else `WHITTLE_BURN_OPS` set to anything but `0` or empty.
pub fn burn_ops() -> bool {
    if let Some(burn) = LOCAL.get() {
        return burn;
    }
    match MODE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let burn = std::env::var("WHITTLE_BURN_OPS").is_ok_and(|v| !v.is_empty() && v != "0");
            set_burn_ops(burn);
            burn
        }
    }
}

/// `n` values, every one written by `fill`: the output buffer of a kernel that overwrites
/// all it returns, without the zeroing pass of `vec![0.0; n]` (memset was ≈13% of a
/// seed-net training step in `perf`, most of it on buffers overwritten right after).
///
/// # Safety
/// `fill` writes every element of the slice it is given (a panic inside it is fine: the
/// vector is then dropped empty).
pub(crate) unsafe fn written<T>(n: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: the caller's contract: `fill` initialized all `n` elements.
    unsafe { v.set_len(n) };
    v
}

/// `s` after every element was written.
///
/// # Safety
/// Every element of `s` is initialized.
pub(crate) unsafe fn assume_init(s: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: `MaybeUninit<f32>` has `f32`'s layout, and the caller vouches that every
    // element is initialized.
    unsafe { &mut *(s as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Planes of `plane` values per rayon task in the elementwise kernels: about 16 Ki values,
/// so a 16×16 plane is not a task of its own (rayon's per-task cost showed in `perf`).
pub(crate) fn min_planes(plane: usize) -> usize {
    (16 * 1024 / plane.max(1)).max(1)
}
