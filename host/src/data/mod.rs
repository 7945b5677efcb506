//! CIFAR data: where it is and how to fetch and check it, readers for the official binary
//! files, the validation split, augmentation and batching into burn tensors.

pub mod augment;
pub mod batch;
pub mod cifar;
pub mod error;
pub mod fetch;
pub mod images;
pub mod locate;
pub mod split;
pub mod verify;

use std::path::Path;

pub use batch::{Batch, make_batch, make_batch_in, normalize, to_inputs};
pub use cifar::{DatasetKind, Layout, locate};
pub use error::DataError;
pub use images::Images;
pub use split::{DEFAULT_SPLIT_SEED, DEFAULT_VAL, Splits, split};

/// How to cut the training files into training and validation images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SplitOptions {
    /// Validation images held out of the training files.
    pub val: usize,
    /// Seed of the hold-out shuffle.
    pub split_seed: u64,
    /// Keep only the first N training images (smoke runs).
    pub limit: Option<usize>,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self {
            val: DEFAULT_VAL,
            split_seed: DEFAULT_SPLIT_SEED,
            limit: None,
        }
    }
}

/// Read `kind`'s training files under `base` (the dataset folder or its parent) and split them.
pub fn load_splits(
    base: &Path,
    kind: DatasetKind,
    opts: &SplitOptions,
) -> Result<Splits, DataError> {
    let all = kind.layout().read_train(&locate(base, kind))?;
    split(&all, opts.val, opts.split_seed, opts.limit)
}

/// Read `kind`'s test files under `base` (the dataset folder or its parent).
pub fn load_test(base: &Path, kind: DatasetKind) -> Result<Images, DataError> {
    kind.layout().read_test(&locate(base, kind))
}
