//! The model and test images baked in by build.rs (`WHITTLE_BLOB`, `WHITTLE_IMAGES`), the
//! blob 16-byte aligned as `Model::from_bytes` requires, and the RAM buffer sized for it.

/// Forces 16-byte alignment on what it wraps (the blob's data section is read in place).
#[repr(C, align(16))]
pub struct Aligned<T: ?Sized>(pub T);

include!(concat!(env!("OUT_DIR"), "/model.rs"));

/// Baked-in test image `i` of [`N_IMAGES`]: (label, pixels).
pub fn image(i: usize) -> Option<(u8, &'static [i8])> {
    let rec = WHITTLE_IMAGES.chunks_exact(IMAGE_LEN + 1).nth(i)?;
    Some((rec[0], bytemuck::cast_slice(&rec[1..])))
}
