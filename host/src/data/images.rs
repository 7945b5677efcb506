//! `Images`: CIFAR images in memory, as the official bytes (CHW planes, row-major) plus labels.

/// Side of a CIFAR image in pixels.
pub const SIDE: usize = 32;
/// Colour channels (R, G, B planes).
pub const CHANNELS: usize = 3;
/// Bytes per image: three 32x32 planes.
pub const IMAGE_BYTES: usize = CHANNELS * SIDE * SIDE;

/// A set of images with one label each; pixels are stored exactly as in the files:
/// image `i` is `pixels[i*3072..(i+1)*3072]`, laid out `[c][y][x]` (R plane, G, B).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Images {
    /// `len() * IMAGE_BYTES` bytes, CHW per image.
    pub pixels: Vec<u8>,
    /// One class index per image.
    pub labels: Vec<u8>,
    /// Number of classes (10 or 100).
    pub num_classes: usize,
}

impl Images {
    /// An empty set for a dataset with `num_classes` classes.
    pub fn new(num_classes: usize) -> Self {
        Self {
            pixels: Vec::new(),
            labels: Vec::new(),
            num_classes,
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 3072 bytes of image `i` (CHW).
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]
    }

    /// Pixel value of image `i`, channel `c` (0 = R), row `y`, column `x`.
    pub fn pixel(&self, i: usize, c: usize, y: usize, x: usize) -> u8 {
        self.image(i)[(c * SIDE + y) * SIDE + x]
    }

    /// Append one image (3072 CHW bytes) with its label.
    pub fn push(&mut self, image: &[u8], label: u8) {
        debug_assert_eq!(image.len(), IMAGE_BYTES);
        self.pixels.extend_from_slice(image);
        self.labels.push(label);
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Images {
        let mut out = Images::new(self.num_classes);
        out.pixels.reserve(indices.len() * IMAGE_BYTES);
        out.labels.reserve(indices.len());
        for &i in indices {
            out.push(self.image(i), self.labels[i]);
        }
        out
    }

    /// The first `n` images (all of them if there are fewer).
    pub fn take_first(mut self, n: usize) -> Images {
        let n = n.min(self.len());
        self.pixels.truncate(n * IMAGE_BYTES);
        self.labels.truncate(n);
        self
    }

    /// Append all images of `other`.
    pub fn extend(&mut self, other: &Images) {
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
    }
}
