//! The model and test images baked in by build.rs (`WHITTLE_BLOB`, `WHITTLE_IMAGES`), the
//! blob 16-byte aligned as `Model::from_bytes` requires, and the RAM buffer sized for it.

/// Forces 16-byte alignment on what it wraps (the blob's data section is read in place).
#[repr(C, align(16))]
pub struct Aligned<T: ?Sized>(pub T);

include!(concat!(env!("OUT_DIR"), "/model.rs"));

/// One test image: its label and its int8 HWC pixels, quantized as the model input wants.
pub struct Image {
    pub label: u8,
    pub pixels: &'static [i8],
}

/// The [`N_IMAGES`] test images in order.
pub fn images() -> impl Iterator<Item = Image> {
    WHITTLE_IMAGES.chunks_exact(IMAGE_LEN + 1).map(|rec| Image {
        label: rec[0],
        pixels: bytemuck::cast_slice(&rec[1..]),
    })
}
