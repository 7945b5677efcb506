//! Test images read at run time (`WHITTLE_STREAM=1`): the `WIMG` file `whittle-images.wimg` in
//! QEMU's working directory, one record at a time over semihosting into one static buffer.

use semihosting::fs::File;
use semihosting::io::Read;

use core::sync::atomic::{AtomicBool, Ordering};

use crate::model::{Aligned, INPUT_LEN};

/// The file the host writes beside the ELF and runs QEMU in the folder of.
const PATH: &core::ffi::CStr = c"whittle-images.wimg";

/// One record, read to offset 3 so that the label is byte 3 and the image starts 16-byte
/// aligned, as a deployed model's input buffer would (baked-in images sit at 1 + k·(1 + L)
/// and cost the input copy more when unaligned). `no_mangle` so the host can find (and
/// leave out of the RAM figure) its size: a deployed model gets its input from elsewhere.
#[unsafe(no_mangle)]
static mut WHITTLE_IMAGE_BUF: Aligned<[u8; INPUT_LEN + 4]> = Aligned([0; INPUT_LEN + 4]);

/// Set by the one [`open`] that may succeed: its [`Stream`] owns the buffer.
static OPENED: AtomicBool = AtomicBool::new(false);

/// Why the images could not be read.
#[derive(Debug, Clone, Copy, defmt::Format)]
pub enum StreamError {
    /// SYS_OPEN failed (no file in QEMU's working directory).
    Open,
    /// [`open`] was called a second time.
    AlreadyOpen,
    /// The header is not `WIMG` version 1.
    BadHeader,
    /// The images are not the size of the model input.
    WrongImageLen { found: u32, expected: u32 },
    /// The file ended before the count in its header.
    Truncated { image: u32 },
}

/// The opened file and the image count its header gives.
pub struct Stream {
    file: File,
    pub count: u32,
}

/// Opens the file and checks its header against the model input.
pub fn open() -> Result<Stream, StreamError> {
    if OPENED.swap(true, Ordering::SeqCst) {
        return Err(StreamError::AlreadyOpen);
    }
    let mut file = File::open(PATH).map_err(|_| StreamError::Open)?;
    let mut h = [0u8; 16];
    file.read_exact(&mut h)
        .map_err(|_| StreamError::BadHeader)?;
    let u32_at = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    if &h[..4] != b"WIMG" || h[4..6] != [1, 0] {
        return Err(StreamError::BadHeader);
    }
    let (count, len) = (u32_at(8), u32_at(12));
    if count > 0 && len as usize != INPUT_LEN {
        return Err(StreamError::WrongImageLen {
            found: len,
            expected: INPUT_LEN as u32,
        });
    }
    Ok(Stream { file, count })
}

impl Stream {
    /// Reads record `image` (the next one): (label, pixels), borrowed until the next call.
    pub fn next(&mut self, image: u32) -> Result<(u8, &[i8]), StreamError> {
        // SAFETY: only the one `Stream` (see OPENED) touches the buffer, and the slices it
        // hands out borrow `self`, so none is alive while this call overwrites it.
        let buf: &mut [u8; INPUT_LEN + 4] =
            unsafe { &mut (*core::ptr::addr_of_mut!(WHITTLE_IMAGE_BUF)).0 };
        self.file
            .read_exact(&mut buf[3..])
            .map_err(|_| StreamError::Truncated { image })?;
        Ok((buf[3], bytemuck::cast_slice(&buf[4..])))
    }
}
