//! The test-image file the firmware bakes in (`WHITTLE_IMAGES`): a 16-byte header, then
//! N records of one label byte and the image's int8 HWC bytes. Spec in docs/FIRMWARE.md.

use std::path::Path;

/// First four bytes of an images file.
pub const MAGIC: [u8; 4] = *b"WIMG";
/// Format version written here and read by `firmware/build.rs`.
pub const VERSION: u16 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 16;

/// One labelled, already quantized image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledImage {
    pub label: u8,
    /// int8 HWC, quantized as the model input wants.
    pub pixels: Vec<i8>,
}

/// Why an images file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    /// Images of different sizes cannot share one file.
    #[error("image {index} has {found} bytes, the first has {expected}")]
    MixedSizes {
        index: usize,
        found: usize,
        expected: usize,
    },
    /// Writing the file failed.
    #[error("writing {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Encodes `images`: magic "WIMG", version u16 = 1, reserved u16 = 0, count u32, bytes
/// per image u32 (all little-endian), then per image its label byte and pixel bytes.
pub fn encode(images: &[LabeledImage]) -> Result<Vec<u8>, ImagesError> {
    let len = images.first().map_or(0, |i| i.pixels.len());
    let mut out = Vec::with_capacity(HEADER_LEN + images.len() * (len + 1));
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(images.len() as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    for (index, img) in images.iter().enumerate() {
        if img.pixels.len() != len {
            return Err(ImagesError::MixedSizes {
                index,
                found: img.pixels.len(),
                expected: len,
            });
        }
        out.push(img.label);
        out.extend(img.pixels.iter().map(|&p| p as u8));
    }
    Ok(out)
}

/// Writes [`encode`]d `images` to `path`.
pub fn write(path: &Path, images: &[LabeledImage]) -> Result<(), ImagesError> {
    std::fs::write(path, encode(images)?).map_err(|source| ImagesError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_records_are_pinned() {
        let imgs = [
            LabeledImage {
                label: 3,
                pixels: vec![-1, 2],
            },
            LabeledImage {
                label: 9,
                pixels: vec![127, -128],
            },
        ];
        let b = encode(&imgs).unwrap();
        assert_eq!(
            b,
            [
                b'W', b'I', b'M', b'G', 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, //
                3, 0xff, 2, 9, 0x7f, 0x80
            ]
        );
        let bad = [
            imgs[0].clone(),
            LabeledImage {
                label: 0,
                pixels: vec![1],
            },
        ];
        assert!(matches!(
            encode(&bad),
            Err(ImagesError::MixedSizes { index: 1, .. })
        ));
    }
}
