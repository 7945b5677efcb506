//! The validation split: a seeded, fixed hold-out of the training set used for every
//! model-selection decision (the test set is only ever reported).

use super::error::DataError;
use super::images::Images;
use crate::rng::SplitMix64;

/// Default number of validation images.
pub const DEFAULT_VAL: usize = 5_000;
/// Default seed of the split (kept apart from the training seed so every run of every
/// method is selected on the same images).
pub const DEFAULT_SPLIT_SEED: u64 = 0x5EED_5A11;

/// Which training-file images go to training and which to validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    /// Training indices, ascending (file order).
    pub train: Vec<usize>,
    /// Validation indices, ascending (file order).
    pub val: Vec<usize>,
}

/// Hold out `val` of `total` indices, chosen by a shuffle seeded with `seed`.
pub fn split_indices(total: usize, val: usize, seed: u64) -> Result<SplitIndices, DataError> {
    if val >= total {
        return Err(DataError::SplitTooLarge { val, total });
    }
    let mut order: Vec<usize> = (0..total).collect();
    SplitMix64::derive(seed, &[0x5B117]).shuffle(&mut order);
    let mut held = order[..val].to_vec();
    let mut train = order[val..].to_vec();
    held.sort_unstable();
    train.sort_unstable();
    Ok(SplitIndices { train, val: held })
}

/// Training and validation images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splits {
    /// What the optimizer sees.
    pub train: Images,
    /// What model selection sees.
    pub val: Images,
}

/// Split `all` into training and validation images; then keep only the first `limit`
/// training images (in file order) when a limit is given.
pub fn split(
    all: &Images,
    val: usize,
    seed: u64,
    limit: Option<usize>,
) -> Result<Splits, DataError> {
    let idx = split_indices(all.len(), val, seed)?;
    let train_idx = match limit {
        Some(n) => &idx.train[..n.min(idx.train.len())],
        None => &idx.train[..],
    };
    if train_idx.is_empty() {
        return Err(DataError::Empty { what: "training" });
    }
    Ok(Splits {
        train: all.select(train_idx),
        val: all.select(&idx.val),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::images::IMAGE_BYTES;

    #[test]
    fn split_is_disjoint_complete_and_seeded() {
        let s = split_indices(1000, 100, 42).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.val.len(), 100);
        assert_eq!(s.train.len(), 900);
        let mut all: Vec<usize> = s.train.iter().chain(&s.val).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all, (0..1000).collect::<Vec<_>>(), "disjoint and complete");
        // Not simply the tail or head of the file.
        assert_ne!(s.val, (900..1000).collect::<Vec<_>>());
        assert_ne!(s.val, (0..100).collect::<Vec<_>>());
        assert_eq!(
            s,
            split_indices(1000, 100, 42).unwrap_or_else(|e| panic!("{e}"))
        );
        assert_ne!(
            s,
            split_indices(1000, 100, 43).unwrap_or_else(|e| panic!("{e}"))
        );
    }

    #[test]
    fn split_images_follow_indices_and_limit() {
        let mut all = Images::new(10);
        for i in 0..50u8 {
            all.push(&[i; IMAGE_BYTES], i % 10);
        }
        let s = split(&all, 10, 1, Some(5)).unwrap_or_else(|e| panic!("{e}"));
        let idx = split_indices(50, 10, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.train.len(), 5);
        assert_eq!(s.val.len(), 10);
        for (k, &i) in idx.train[..5].iter().enumerate() {
            assert_eq!(s.train.image(k)[0], i as u8);
        }
        let train_ids: Vec<u8> = (0..5).map(|k| s.train.image(k)[0]).collect();
        let val_ids: Vec<u8> = (0..10).map(|k| s.val.image(k)[0]).collect();
        assert!(train_ids.iter().all(|t| !val_ids.contains(t)));
    }

    #[test]
    fn split_rejects_too_large() {
        assert!(matches!(
            split_indices(10, 10, 0),
            Err(DataError::SplitTooLarge { val: 10, total: 10 })
        ));
    }
}
