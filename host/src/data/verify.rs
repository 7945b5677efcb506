//! Checks of CIFAR data files: size, record structure (label ranges) and, where known, the
//! MD5 of the extracted file — one streaming checker for unpacking and `whittle data verify`.

use std::fmt;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use md5::{Digest, Md5};

use super::cifar::{DatasetKind, find_file, locate};

/// MD5 of the dataset authors' CIFAR-10 `.bin` files (the members of `cifar-10-binary.tar.gz`).
/// For CIFAR-100 no copy was at hand to compute them from, so its files are checked for size
/// and record structure only.
pub const CIFAR10_MD5: [(&str, &str); 6] = [
    ("data_batch_1", "5dd7e06a14cb22eb9f671a540d1b7c25"),
    ("data_batch_2", "5ea93a67294ea407fff1d09f752e9692"),
    ("data_batch_3", "942cd6a4bcdd0dd3c604fbe906cb4421"),
    ("data_batch_4", "ae636b3ba5c66a11e91e8cb52e771fcb"),
    ("data_batch_5", "53f37980c15c3d472c316c40844f3f0d"),
    ("test_batch", "803d5f7f4d78ea53de84dbe85f74fb6d"),
];

/// One data file a dataset folder must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// File name without `.bin`.
    pub stem: String,
    /// Records it holds.
    pub records: usize,
    /// MD5 (lowercase hex) of the `.bin`, where known.
    pub md5: Option<String>,
}

/// The official data files of `kind`, with the known checksums.
pub fn expected_files(kind: DatasetKind) -> Vec<Expected> {
    let layout = kind.layout();
    layout
        .train
        .iter()
        .chain(&layout.test)
        .map(|(stem, records)| Expected {
            stem: stem.clone(),
            records: *records,
            md5: CIFAR10_MD5
                .iter()
                .find(|(s, _)| kind == DatasetKind::Cifar10 && s == stem)
                .map(|(_, m)| (*m).to_string()),
        })
        .collect()
}

/// The label-name files each dataset ships and the names each lists (training reads none).
pub fn label_files(kind: DatasetKind) -> &'static [(&'static str, usize)] {
    match kind {
        DatasetKind::Cifar10 => &[("batches.meta.txt", 10)],
        DatasetKind::Cifar100 => &[
            ("coarse_label_names.txt", 20),
            ("fine_label_names.txt", 100),
        ],
    }
}

/// The label bytes of one record: what each is called and how many classes it has.
fn label_limits(kind: DatasetKind) -> &'static [(&'static str, u8)] {
    match kind {
        DatasetKind::Cifar10 => &[("label", 10)],
        DatasetKind::Cifar100 => &[("coarse label", 20), ("fine label", 100)],
    }
}

/// What is wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Neither `.bin` nor `.bin.gz` (or the text file) exists.
    Missing,
    /// The file (or its gzip stream) cannot be read to the end.
    Unreadable(String),
    /// Not the official number of bytes.
    Size {
        /// Bytes found (decompressed).
        bytes: u64,
        /// Bytes expected.
        expected: u64,
        /// Bytes per record.
        record: u64,
    },
    /// A label byte out of range (the first such record; `more` counts the others).
    Label {
        /// Record number.
        record: u64,
        /// Byte offset in the (decompressed) file.
        offset: u64,
        /// Which label byte.
        which: &'static str,
        /// The value found.
        value: u8,
        /// Classes of that label.
        classes: u8,
        /// Further bad label bytes.
        more: u64,
    },
    /// Right size, wrong content.
    Md5 {
        /// MD5 found.
        found: String,
        /// MD5 of the official file.
        expected: String,
    },
    /// A label-name file with the wrong number of names.
    Names {
        /// Non-empty lines found.
        found: usize,
        /// Names expected.
        expected: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "missing"),
            Self::Unreadable(e) => write!(f, "unreadable: {e}"),
            Self::Size {
                bytes,
                expected,
                record,
            } => write!(
                f,
                "{bytes} bytes ({} records{}), expected {expected} ({} records of {record} bytes)",
                bytes / record,
                if bytes % record == 0 {
                    String::new()
                } else {
                    format!(" and {} bytes more", bytes % record)
                },
                expected / record
            ),
            Self::Label {
                record,
                offset,
                which,
                value,
                classes,
                more,
            } => write!(
                f,
                "record {record} (byte offset {offset}) has {which} {value}, but there are only \
                 {classes} classes{}",
                if *more > 0 {
                    format!(" ({more} more bad label bytes)")
                } else {
                    String::new()
                }
            ),
            Self::Md5 { found, expected } => {
                write!(f, "MD5 {found}, expected {expected} (the official file's)")
            }
            Self::Names { found, expected } => {
                write!(f, "{found} names, expected {expected}")
            }
        }
    }
}

/// Streams a data file's bytes: counts them, hashes them, checks every label byte.
#[derive(Debug, Clone)]
pub struct Checker {
    kind: DatasetKind,
    pos: u64,
    md5: Md5,
    bad: Option<Problem>,
    more_bad: u64,
}

impl Checker {
    /// A checker for one file of `kind`.
    pub fn new(kind: DatasetKind) -> Self {
        Self {
            kind,
            pos: 0,
            md5: Md5::new(),
            bad: None,
            more_bad: 0,
        }
    }

    /// Feed the next bytes.
    pub fn update(&mut self, buf: &[u8]) {
        let record = self.kind.record_bytes() as u64;
        let limits = label_limits(self.kind);
        let mut i = 0usize;
        while i < buf.len() {
            let at = self.pos + i as u64;
            let in_record = (at % record) as usize;
            match limits.get(in_record) {
                Some(&(which, classes)) => {
                    if buf[i] >= classes {
                        if self.bad.is_none() {
                            self.bad = Some(Problem::Label {
                                record: at / record,
                                offset: at,
                                which,
                                value: buf[i],
                                classes,
                                more: 0,
                            });
                        } else {
                            self.more_bad += 1;
                        }
                    }
                    i += 1;
                }
                None => i += record as usize - in_record,
            }
        }
        self.pos += buf.len() as u64;
        self.md5.update(buf);
    }

    /// Bytes fed so far.
    pub fn bytes(&self) -> u64 {
        self.pos
    }

    /// The bytes' MD5 (lowercase hex) and what is wrong compared with `expected`.
    pub fn finish(self, expected: &Expected) -> (String, Vec<Problem>) {
        let md5 = hex(&self.md5.finalize());
        let record = self.kind.record_bytes() as u64;
        let want = expected.records as u64 * record;
        let mut problems = Vec::new();
        if self.pos != want {
            problems.push(Problem::Size {
                bytes: self.pos,
                expected: want,
                record,
            });
        }
        if let Some(mut p) = self.bad {
            if let Problem::Label { more, .. } = &mut p {
                *more = self.more_bad;
            }
            problems.push(p);
        }
        if let Some(known) = &expected.md5
            && problems.is_empty()
            && *known != md5
        {
            problems.push(Problem::Md5 {
                found: md5.clone(),
                expected: known.clone(),
            });
        }
        (md5, problems)
    }
}

impl Write for Checker {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The MD5 (lowercase hex) and size of a whole file.
pub fn md5_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                md5.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((hex(&md5.finalize()), total))
}

/// The outcome for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// The file (for a missing data file: the `.bin` looked for).
    pub path: PathBuf,
    /// Its (decompressed) size.
    pub bytes: u64,
    /// Its (decompressed) MD5, for data files.
    pub md5: Option<String>,
    /// Whether the MD5 was compared with a known one.
    pub md5_known: bool,
    /// What is wrong; empty when it is fine.
    pub problems: Vec<Problem>,
    /// False for files training does not read (label names): their problems are notes.
    pub required: bool,
}

impl FileCheck {
    /// No problem found, or only in a file training does not need.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() || !self.required
    }
}

impl fmt::Display for FileCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match (self.problems.is_empty(), self.required) {
            (true, _) => "ok  ",
            (false, true) => "FAIL",
            (false, false) => "note",
        };
        write!(f, "{tag}  {}", self.path.display())?;
        if !self.problems.is_empty() {
            let all: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
            return write!(f, ": {}", all.join("; "));
        }
        write!(f, ": {} bytes", self.bytes)?;
        if let Some(md5) = &self.md5 {
            let how = if self.md5_known {
                "the official file's"
            } else {
                "no known checksum"
            };
            write!(f, ", MD5 {md5} ({how})")?;
        }
        Ok(())
    }
}

/// Check one data file (`.bin`, or `.bin.gz` read decompressed).
pub fn check_file(path: &Path, kind: DatasetKind, expected: &Expected) -> FileCheck {
    let mut out = FileCheck {
        path: path.to_path_buf(),
        bytes: 0,
        md5: None,
        md5_known: expected.md5.is_some(),
        problems: Vec::new(),
        required: true,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            out.problems.push(Problem::Missing);
            return out;
        }
        Err(e) => {
            out.problems.push(Problem::Unreadable(e.to_string()));
            return out;
        }
    };
    let mut reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut checker = Checker::new(kind);
    if let Err(e) = io::copy(&mut reader, &mut checker) {
        out.bytes = checker.bytes();
        out.problems.push(Problem::Unreadable(format!(
            "{e} after {} bytes",
            checker.bytes()
        )));
        return out;
    }
    out.bytes = checker.bytes();
    let (md5, problems) = checker.finish(expected);
    out.md5 = Some(md5);
    out.problems = problems;
    out
}

/// Check a label-name file: present, with `names` non-empty lines.
pub fn check_names(path: &Path, names: usize) -> FileCheck {
    let mut out = FileCheck {
        path: path.to_path_buf(),
        bytes: 0,
        md5: None,
        md5_known: false,
        problems: Vec::new(),
        required: false,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            out.bytes = bytes.len() as u64;
            let found = String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count();
            if found != names {
                out.problems.push(Problem::Names {
                    found,
                    expected: names,
                });
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => out.problems.push(Problem::Missing),
        Err(e) => out.problems.push(Problem::Unreadable(e.to_string())),
    }
    out
}

/// Check every file of `kind` under `base` (the dataset folder or its parent) against
/// `expected` (normally [`expected_files`]), then its label-name files.
pub fn check_dataset(base: &Path, kind: DatasetKind, expected: &[Expected]) -> Vec<FileCheck> {
    let dir = locate(base, kind);
    let mut checks: Vec<FileCheck> = expected
        .iter()
        .map(|e| match find_file(&dir, &e.stem) {
            Ok(path) => check_file(&path, kind, e),
            Err(_) => FileCheck {
                path: dir.join(format!("{}.bin", e.stem)),
                bytes: 0,
                md5: None,
                md5_known: e.md5.is_some(),
                problems: vec![Problem::Missing],
                required: true,
            },
        })
        .collect();
    checks.extend(
        label_files(kind)
            .iter()
            .map(|(name, n)| check_names(&dir.join(name), *n)),
    );
    checks
}

/// Every required file passed.
pub fn all_ok(checks: &[FileCheck]) -> bool {
    checks.iter().all(FileCheck::ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cifar::tests::records;
    use flate2::{Compression, write::GzEncoder};

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    fn expected(stem: &str, records: usize, md5: Option<String>) -> Expected {
        Expected {
            stem: stem.into(),
            records,
            md5,
        }
    }

    fn md5_of(bytes: &[u8]) -> String {
        hex(&Md5::digest(bytes))
    }

    #[test]
    fn md5_hex_matches_the_rfc_1321_examples() {
        assert_eq!(md5_of(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_of(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn known_checksums_cover_every_cifar10_file_and_no_cifar100_file() {
        let c10 = expected_files(DatasetKind::Cifar10);
        assert_eq!(c10.len(), 6);
        assert!(
            c10.iter()
                .all(|e| e.md5.as_ref().is_some_and(|m| m.len() == 32))
        );
        assert_eq!(
            c10[5].md5.as_deref(),
            Some("803d5f7f4d78ea53de84dbe85f74fb6d")
        );
        let c100 = expected_files(DatasetKind::Cifar100);
        assert_eq!(
            c100,
            vec![
                expected("train", 50_000, None),
                expected("test", 10_000, None)
            ]
        );
    }

    #[test]
    fn a_good_file_in_any_chunking_has_its_md5_and_no_problem() {
        let bytes = records(DatasetKind::Cifar100, 3, |r| 97 + r as u8);
        let want = expected("train", 3, Some(md5_of(&bytes)));
        for chunk in [1, 2, 3073, 3074, 5000, bytes.len()] {
            let mut c = Checker::new(DatasetKind::Cifar100);
            for part in bytes.chunks(chunk) {
                c.update(part);
            }
            let (md5, problems) = c.finish(&want);
            assert_eq!(problems, vec![], "chunk {chunk}");
            assert_eq!(Some(md5), want.md5);
        }
    }

    #[test]
    fn bad_labels_sizes_and_checksums_are_named() {
        // CIFAR-100: coarse label 20 in record 1 (offset 3074), fine label 100 in record 2.
        let mut bytes = records(DatasetKind::Cifar100, 3, |_| 5);
        bytes[3074] = 20;
        bytes[2 * 3074 + 1] = 100;
        let mut c = Checker::new(DatasetKind::Cifar100);
        c.update(&bytes);
        let (_, problems) = c.finish(&expected("test", 3, None));
        assert_eq!(
            problems,
            vec![Problem::Label {
                record: 1,
                offset: 3074,
                which: "coarse label",
                value: 20,
                classes: 20,
                more: 1
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            "record 1 (byte offset 3074) has coarse label 20, but there are only 20 classes \
             (1 more bad label bytes)"
        );

        // Cut short by 100 bytes: a size problem, and no MD5 complaint on top of it.
        let good = records(DatasetKind::Cifar10, 2, |_| 1);
        let mut c = Checker::new(DatasetKind::Cifar10);
        c.update(&good[..good.len() - 100]);
        let (_, problems) = c.finish(&expected("x", 2, Some(md5_of(&good))));
        assert_eq!(
            problems,
            vec![Problem::Size {
                bytes: 6046,
                expected: 6146,
                record: 3073
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            "6046 bytes (1 records and 2973 bytes more), expected 6146 (2 records of 3073 bytes)"
        );

        // Right size and labels, one pixel changed: the MD5 tells.
        let mut changed = good.clone();
        changed[100] ^= 1;
        let mut c = Checker::new(DatasetKind::Cifar10);
        c.update(&changed);
        let (found, problems) = c.finish(&expected("x", 2, Some(md5_of(&good))));
        assert_eq!(
            problems,
            vec![Problem::Md5 {
                found,
                expected: md5_of(&good)
            }]
        );
    }

    #[test]
    fn check_dataset_reads_bin_and_gz_and_names_each_file() {
        let root = tmp();
        let dir = root.path().join("cifar-10-batches-bin");
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let a = records(DatasetKind::Cifar10, 2, |r| r as u8);
        let b = records(DatasetKind::Cifar10, 2, |_| 11); // bad labels
        std::fs::write(dir.join("a.bin"), &a).unwrap_or_else(|e| panic!("{e}"));
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&b).unwrap_or_else(|e| panic!("{e}"));
        let gz = gz.finish().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("b.bin.gz"), gz).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("batches.meta.txt"), "a\nb\n\n").unwrap_or_else(|e| panic!("{e}"));
        let want = [
            expected("a", 2, Some(md5_of(&a))),
            expected("b", 2, None),
            expected("c", 2, None),
        ];
        let checks = check_dataset(root.path(), DatasetKind::Cifar10, &want);
        let lines: Vec<String> = checks
            .iter()
            .map(|c| c.to_string().replace(&dir.display().to_string(), "D"))
            .collect();
        assert_eq!(
            lines,
            vec![
                format!(
                    "ok    D/a.bin: 6146 bytes, MD5 {} (the official file's)",
                    md5_of(&a)
                ),
                "FAIL  D/b.bin.gz: record 0 (byte offset 0) has label 11, but there are only 10 \
                 classes (1 more bad label bytes)"
                    .to_string(),
                "FAIL  D/c.bin: missing".to_string(),
                "note  D/batches.meta.txt: 2 names, expected 10".to_string(),
            ]
        );
        assert!(!all_ok(&checks));
        assert!(all_ok(&checks[..1]) && all_ok(&checks[3..]));
    }
}
