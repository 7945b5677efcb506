//! Errors of the data module: every message names the file and, where sizes disagree,
//! the byte counts found and expected.

use std::path::PathBuf;

/// Anything that can go wrong finding, reading or splitting CIFAR data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// No data location was given at all.
    #[error(
        "no data directory given: pass --data DIR or set WHITTLE_DATA \
         (a directory containing {subdir}/, or {subdir}/ itself)"
    )]
    NoDataDir {
        /// The dataset's folder name, e.g. `cifar-10-batches-bin`.
        subdir: &'static str,
    },
    /// Neither `name.bin` nor `name.bin.gz` exists.
    #[error("{}: not found (nor {}.gz)", path.display(), path.display())]
    Missing {
        /// The `.bin` path looked for.
        path: PathBuf,
    },
    /// The operating system refused to read the file.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A `.gz` file whose gzip stream is damaged or cut short.
    #[error(
        "{}: corrupt gzip stream after {bytes} decompressed bytes: {source}",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Decompressed bytes read before the failure.
        bytes: usize,
        /// The decoder's complaint.
        source: std::io::Error,
    },
    /// The (decompressed) size is not a whole number of records.
    #[error(
        "{}: truncated: {bytes} bytes is not a whole number of {record}-byte records \
         ({whole} whole records and {extra} bytes more)",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its (decompressed) size.
        bytes: usize,
        /// Bytes per record.
        record: usize,
        /// Whole records present.
        whole: usize,
        /// Bytes of the partial last record.
        extra: usize,
    },
    /// Whole records, but not as many as the official file holds.
    #[error(
        "{}: wrong size: {bytes} bytes ({found} records), expected {expected} bytes \
         ({records} records of {record} bytes)",
        path.display()
    )]
    WrongSize {
        /// The file.
        path: PathBuf,
        /// Its (decompressed) size.
        bytes: usize,
        /// Records it holds.
        found: usize,
        /// The size it should have.
        expected: usize,
        /// Records it should hold.
        records: usize,
        /// Bytes per record.
        record: usize,
    },
    /// A label byte outside the dataset's classes (a sign of a wrong format or offset).
    #[error(
        "{}: record {index} (byte offset {offset}) has label {label}, \
         but the dataset has only {classes} classes",
        path.display()
    )]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Record number.
        index: usize,
        /// Byte offset of the label.
        offset: usize,
        /// The label found.
        label: u8,
        /// Number of classes.
        classes: usize,
    },
    /// The validation split asks for more images than there are.
    #[error("validation split of {val} images does not fit into {total} training images")]
    SplitTooLarge {
        /// Requested validation images.
        val: usize,
        /// Training images available.
        total: usize,
    },
    /// An empty selection where images are needed.
    #[error("no {what} images left (after --limit / --val)")]
    Empty {
        /// Which part is empty.
        what: &'static str,
    },
}
