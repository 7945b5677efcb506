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
    /// No folder in the lookup order holds the dataset: says where it looked and the exact
    /// `whittle data fetch` command that gets it.
    #[error(
        "no {name} data found (looked in {tried}). Get it, one {download} download, with\n\
         \n    {command}\n\n\
         or pass --data DIR / set WHITTLE_DATA to a folder holding {subdir}/ \
         (WHITTLE_FETCH=1 lets this command fetch it itself)"
    )]
    NotFound {
        /// The dataset's name, e.g. `CIFAR-10`.
        name: &'static str,
        /// The folders looked in, in order.
        tried: String,
        /// The archive's size, e.g. `162.2 MiB`.
        download: String,
        /// The command that fetches it into the first place looked in.
        command: String,
        /// The dataset's folder name.
        subdir: &'static str,
    },
    /// The HTTP request failed before any byte of the archive arrived (offline, refused, TLS).
    #[error("downloading {url}: {source}\n{offline}")]
    Download {
        /// The archive's URL.
        url: String,
        /// The client's complaint.
        source: Box<ureq::Error>,
        /// How to do without network.
        offline: String,
    },
    /// The server answered with a status that is not the archive.
    #[error("downloading {url}: HTTP status {status}\n{offline}")]
    HttpStatus {
        /// The archive's URL.
        url: String,
        /// The status code.
        status: u16,
        /// How to do without network.
        offline: String,
    },
    /// The connection broke mid-download more often than the retries allow; the part already
    /// fetched is kept and the next run resumes from it.
    #[error(
        "downloading {url}: cut after {have} of {total} bytes ({source}); \
         run the command again to resume from {}",
        path.display()
    )]
    Interrupted {
        /// The archive's URL.
        url: String,
        /// The partial file kept.
        path: PathBuf,
        /// Bytes in it.
        have: u64,
        /// Bytes the archive has.
        total: u64,
        /// The last I/O error.
        source: std::io::Error,
    },
    /// A downloaded (or placed) archive whose size is not the published one; it was removed.
    #[error(
        "{}: {found} bytes, but the archive has {expected}; removed it (run the command \
         again to download it anew)",
        path.display()
    )]
    ArchiveSize {
        /// The archive file.
        path: PathBuf,
        /// Its size.
        found: u64,
        /// The published size.
        expected: u64,
    },
    /// A downloaded (or placed) archive whose MD5 is not the published one; it was removed.
    #[error(
        "{}: MD5 {found}, but the archive's published MD5 is {expected}; removed it (run \
         the command again to download it anew)",
        path.display()
    )]
    ArchiveMd5 {
        /// The archive file.
        path: PathBuf,
        /// Its MD5 (hex).
        found: String,
        /// The published MD5 (hex).
        expected: String,
    },
    /// A tar member with an absolute path, a `..` component or a link type: the archive is
    /// refused and nothing of it is used.
    #[error(
        "{}: refusing member `{member}` ({why}); nothing was extracted",
        archive.display()
    )]
    UnsafeMember {
        /// The archive file.
        archive: PathBuf,
        /// The member's path as stored.
        member: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The archive lacks one of the dataset's files.
    #[error("{}: has no member `{member}`; nothing was extracted", archive.display())]
    MissingMember {
        /// The archive file.
        archive: PathBuf,
        /// The member looked for.
        member: String,
    },
    /// An extracted member fails its size, record or checksum check.
    #[error("{}: member `{member}`: {problem}; nothing was extracted", archive.display())]
    BadMember {
        /// The archive file.
        archive: PathBuf,
        /// The member.
        member: String,
        /// What is wrong.
        problem: String,
    },
    /// A gzip or tar stream that cannot be read to its end.
    #[error("{}: cannot unpack: {source}", archive.display())]
    Unpack {
        /// The archive file.
        archive: PathBuf,
        /// The decoder's complaint.
        source: std::io::Error,
    },
    /// Writing a downloaded or extracted file failed.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
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
