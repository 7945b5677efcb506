//! Readers for the official CIFAR-10 and CIFAR-100 binary files (`.bin` or `.bin.gz`):
//! label byte(s) then 3072 pixel bytes (R, G, B planes, each 32x32 row-major) per record.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::error::DataError;
use super::images::{IMAGE_BYTES, Images};

/// Which CIFAR dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// CIFAR-10: 10 classes, one label byte per record.
    Cifar10,
    /// CIFAR-100 with its 100 fine labels (coarse label byte, fine label byte per record).
    Cifar100,
}

impl DatasetKind {
    /// The dataset for a classifier with `num_classes` outputs, if there is one.
    pub fn for_classes(num_classes: usize) -> Option<Self> {
        match num_classes {
            10 => Some(Self::Cifar10),
            100 => Some(Self::Cifar100),
            _ => None,
        }
    }

    /// Folder name of the official archive.
    pub fn subdir(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar-10-batches-bin",
            Self::Cifar100 => "cifar-100-binary",
        }
    }

    /// Number of classes.
    pub fn num_classes(self) -> usize {
        match self {
            Self::Cifar10 => 10,
            Self::Cifar100 => 100,
        }
    }

    /// Label bytes before the pixels of each record.
    pub fn label_bytes(self) -> usize {
        match self {
            Self::Cifar10 => 1,
            Self::Cifar100 => 2,
        }
    }

    /// Bytes per record.
    pub fn record_bytes(self) -> usize {
        self.label_bytes() + IMAGE_BYTES
    }

    /// The official file layout of this dataset.
    pub fn layout(self) -> Layout {
        match self {
            Self::Cifar10 => Layout {
                kind: self,
                train: (1..=5)
                    .map(|i| (format!("data_batch_{i}"), 10_000))
                    .collect(),
                test: vec![("test_batch".into(), 10_000)],
            },
            Self::Cifar100 => Layout {
                kind: self,
                train: vec![("train".into(), 50_000)],
                test: vec![("test".into(), 10_000)],
            },
        }
    }
}

/// Files (stem without `.bin`) and their record counts for one dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The dataset.
    pub kind: DatasetKind,
    /// Training files in order, with the records each must hold.
    pub train: Vec<(String, usize)>,
    /// Test files in order, with the records each must hold.
    pub test: Vec<(String, usize)>,
}

impl Layout {
    /// The same files with `n` records each (for generated test data).
    pub fn with_records_per_file(mut self, n: usize) -> Self {
        for f in self.train.iter_mut().chain(self.test.iter_mut()) {
            f.1 = n;
        }
        self
    }

    /// Read the whole training set from `dir` (the dataset folder itself).
    pub fn read_train(&self, dir: &Path) -> Result<Images, DataError> {
        self.read_files(dir, &self.train)
    }

    /// Read the whole test set from `dir` (the dataset folder itself).
    pub fn read_test(&self, dir: &Path) -> Result<Images, DataError> {
        self.read_files(dir, &self.test)
    }

    fn read_files(&self, dir: &Path, files: &[(String, usize)]) -> Result<Images, DataError> {
        let mut all = Images::new(self.kind.num_classes());
        for (stem, records) in files {
            let path = find_file(dir, stem)?;
            let part = read_file(&path, self.kind, Some(*records))?;
            all.extend(&part);
        }
        Ok(all)
    }
}

/// The folder holding `kind`'s files: `base/<subdir>/` if that exists, else `base` itself.
pub fn locate(base: &Path, kind: DatasetKind) -> PathBuf {
    let nested = base.join(kind.subdir());
    if nested.is_dir() {
        nested
    } else {
        base.to_path_buf()
    }
}

/// `dir/stem.bin`, or `dir/stem.bin.gz` when only that exists.
pub fn find_file(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let bin = dir.join(format!("{stem}.bin"));
    if bin.is_file() {
        return Ok(bin);
    }
    let gz = dir.join(format!("{stem}.bin.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::Missing { path: bin })
}

/// Read one file's bytes, gunzipping when the name ends in `.gz`.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => DataError::Missing {
            path: path.to_path_buf(),
        },
        _ => io(e),
    })?;
    let mut bytes = Vec::new();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut dec = MultiGzDecoder::new(file);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match dec.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(DataError::Corrupt {
                        path: path.to_path_buf(),
                        bytes: bytes.len(),
                        source,
                    });
                }
            }
        }
    } else {
        file.read_to_end(&mut bytes).map_err(io)?;
    }
    Ok(bytes)
}

/// Parse the records of one file; `expected_records` (if given) must match exactly.
pub fn read_file(
    path: &Path,
    kind: DatasetKind,
    expected_records: Option<usize>,
) -> Result<Images, DataError> {
    let bytes = read_bytes(path)?;
    parse_records(path, &bytes, kind, expected_records)
}

/// Parse records already in memory; `path` only names them in errors.
pub fn parse_records(
    path: &Path,
    bytes: &[u8],
    kind: DatasetKind,
    expected_records: Option<usize>,
) -> Result<Images, DataError> {
    let record = kind.record_bytes();
    let (whole, extra) = (bytes.len() / record, bytes.len() % record);
    if extra != 0 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            bytes: bytes.len(),
            record,
            whole,
            extra,
        });
    }
    if let Some(records) = expected_records
        && records != whole
    {
        return Err(DataError::WrongSize {
            path: path.to_path_buf(),
            bytes: bytes.len(),
            found: whole,
            expected: records * record,
            records,
            record,
        });
    }
    let classes = kind.num_classes();
    let mut images = Images::new(classes);
    images.pixels.reserve(whole * IMAGE_BYTES);
    images.labels.reserve(whole);
    for (index, rec) in bytes.chunks_exact(record).enumerate() {
        // CIFAR-100 records are <coarse><fine><pixels>; we classify fine labels.
        let label_at = kind.label_bytes() - 1;
        let label = rec[label_at];
        if usize::from(label) >= classes {
            return Err(DataError::BadLabel {
                path: path.to_path_buf(),
                index,
                offset: index * record + label_at,
                label,
                classes,
            });
        }
        images.push(&rec[kind.label_bytes()..], label);
    }
    Ok(images)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::images::SIDE;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    /// The test pattern: a value that differs by record, plane, row and column.
    pub(crate) fn pattern(r: usize, c: usize, y: usize, x: usize) -> u8 {
        ((r * 37 + c * 101 + y * 7 + x * 3) % 256) as u8
    }

    /// A file's bytes with `n` records in `kind`'s format (labels from `label_of`).
    pub(crate) fn records(kind: DatasetKind, n: usize, label_of: impl Fn(usize) -> u8) -> Vec<u8> {
        let mut out = Vec::new();
        for r in 0..n {
            if kind == DatasetKind::Cifar100 {
                out.push(19 - (r % 20) as u8); // coarse label: must be ignored
            }
            out.push(label_of(r));
            for c in 0..3 {
                for y in 0..SIDE {
                    for x in 0..SIDE {
                        out.push(pattern(r, c, y, x));
                    }
                }
            }
        }
        out
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
        e.finish().unwrap_or_else(|e| panic!("{e}"))
    }

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{e}"));
    }

    fn check_pattern(images: &Images, n: usize) {
        assert_eq!(images.len(), n);
        for r in 0..n {
            for c in 0..3 {
                for y in 0..SIDE {
                    for x in 0..SIDE {
                        assert_eq!(
                            images.pixel(r, c, y, x),
                            pattern(r, c, y, x),
                            "{r} {c} {y} {x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn cifar10_bin_and_gz_read_labels_planes_rows() {
        let dir = tmp();
        let bytes = records(DatasetKind::Cifar10, 4, |r| (r * 3 % 10) as u8);
        write(&dir.path().join("a.bin"), &bytes);
        write(&dir.path().join("b.bin.gz"), &gz(&bytes));
        for name in ["a.bin", "b.bin.gz"] {
            let im = read_file(&dir.path().join(name), DatasetKind::Cifar10, Some(4))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(im.labels, vec![0, 3, 6, 9]);
            check_pattern(&im, 4);
            // A known pixel by hand: record 2, green plane, row 1, column 5 sits at byte
            // 2*3073 + 1 + 1024 + 32 + 5 of the file.
            assert_eq!(im.pixel(2, 1, 1, 5), bytes[2 * 3073 + 1 + 1024 + 32 + 5]);
            assert_eq!(im.image(2)[1024 + 32 + 5], im.pixel(2, 1, 1, 5));
        }
    }

    #[test]
    fn cifar100_uses_fine_label_and_skips_both_label_bytes() {
        let dir = tmp();
        let bytes = records(DatasetKind::Cifar100, 3, |r| 90 + r as u8);
        let path = dir.path().join("train.bin");
        write(&path, &bytes);
        let im = read_file(&path, DatasetKind::Cifar100, Some(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(im.labels, vec![90, 91, 92]);
        assert_eq!(im.num_classes, 100);
        check_pattern(&im, 3);
        // Blue plane, last row, last column of record 1.
        assert_eq!(im.pixel(1, 2, 31, 31), bytes[3074 + 2 + 3071]);
    }

    #[test]
    fn layout_finds_bin_or_gz_and_locate_accepts_parent_or_folder() {
        let root = tmp();
        let dir = root.path().join("cifar-10-batches-bin");
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let layout = DatasetKind::Cifar10.layout().with_records_per_file(2);
        for (i, (stem, _)) in layout.train.iter().chain(&layout.test).enumerate() {
            let bytes = records(DatasetKind::Cifar10, 2, |r| ((i + r) % 10) as u8);
            if i % 2 == 0 {
                write(&dir.join(format!("{stem}.bin.gz")), &gz(&bytes));
            } else {
                write(&dir.join(format!("{stem}.bin")), &bytes);
            }
        }
        assert_eq!(locate(root.path(), DatasetKind::Cifar10), dir);
        assert_eq!(locate(&dir, DatasetKind::Cifar10), dir);
        let train = layout
            .read_train(&locate(root.path(), DatasetKind::Cifar10))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(train.len(), 10);
        assert_eq!(train.labels, vec![0, 1, 1, 2, 2, 3, 3, 4, 4, 5]);
        let test = layout.read_test(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(test.labels, vec![5, 6]);
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tmp();
        let err = DatasetKind::Cifar10.layout().read_train(dir.path());
        match err {
            Err(e @ DataError::Missing { .. }) => {
                assert!(e.to_string().contains("data_batch_1.bin"), "{e}")
            }
            other => panic!("expected Missing, got {other:?}"),
        }
    }

    #[test]
    fn truncated_file_names_file_and_bytes() {
        let dir = tmp();
        let mut bytes = records(DatasetKind::Cifar10, 2, |_| 1);
        bytes.truncate(3073 + 100);
        let path = dir.path().join("data_batch_1.bin");
        write(&path, &bytes);
        let e = read_file(&path, DatasetKind::Cifar10, Some(2)).err();
        match e {
            Some(
                e @ DataError::Truncated {
                    bytes: 3173,
                    whole: 1,
                    extra: 100,
                    ..
                },
            ) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("data_batch_1.bin") && msg.contains("3173"),
                    "{msg}"
                );
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
    }

    #[test]
    fn wrong_record_count_is_wrong_size() {
        let dir = tmp();
        let path = dir.path().join("test_batch.bin.gz");
        write(&path, &gz(&records(DatasetKind::Cifar10, 2, |_| 1)));
        match read_file(&path, DatasetKind::Cifar10, Some(3)) {
            Err(
                e @ DataError::WrongSize {
                    bytes: 6146,
                    found: 2,
                    expected: 9219,
                    ..
                },
            ) => {
                assert!(e.to_string().contains("test_batch.bin.gz"), "{e}");
            }
            other => panic!("expected WrongSize, got {other:?}"),
        }
        // CIFAR-10 records read as CIFAR-100 do not divide: 2*3073 % 3074 != 0.
        assert!(matches!(
            read_file(&path, DatasetKind::Cifar100, None),
            Err(DataError::Truncated { .. })
        ));
    }

    #[test]
    fn corrupt_gzip_and_bad_label_are_reported() {
        let dir = tmp();
        let bytes = records(DatasetKind::Cifar10, 3, |_| 2);
        let mut z = gz(&bytes);
        z.truncate(z.len() / 2);
        let path = dir.path().join("cut.bin.gz");
        write(&path, &z);
        match read_file(&path, DatasetKind::Cifar10, None) {
            Err(e @ DataError::Corrupt { .. }) => assert!(e.to_string().contains("cut.bin.gz")),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let bad = records(DatasetKind::Cifar10, 2, |r| if r == 1 { 10 } else { 0 });
        let path = dir.path().join("bad.bin");
        write(&path, &bad);
        assert!(matches!(
            read_file(&path, DatasetKind::Cifar10, None),
            Err(DataError::BadLabel {
                index: 1,
                offset: 3073,
                label: 10,
                ..
            })
        ));
    }
}
