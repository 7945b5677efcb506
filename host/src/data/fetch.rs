//! `whittle data fetch`: download the dataset authors' archive (resuming over HTTP ranges),
//! check its size and MD5, and unpack only the expected members, refusing unsafe paths.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Component, Path};
use std::time::Duration;

use flate2::read::GzDecoder;
use indicatif::{ProgressBar, ProgressStyle};

use super::cifar::DatasetKind;
use super::error::DataError;
use super::verify::{self, Checker, Expected};

/// Where the dataset authors publish the archives.
pub const OFFICIAL_BASE: &str = "https://www.cs.toronto.edu/~kriz/";

/// Environment variable naming another folder URL that holds the archives (a mirror).
pub const ENV_URL: &str = "WHITTLE_DATA_URL";

/// One dataset archive: where it is, what it must be, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// The dataset it unpacks to.
    pub kind: DatasetKind,
    /// File name, e.g. `cifar-10-binary.tar.gz`.
    pub file_name: String,
    /// Full URL of the archive.
    pub url: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its MD5 (lowercase hex).
    pub md5: String,
    /// The data files inside the dataset folder (records, known MD5s).
    pub files: Vec<Expected>,
    /// Other members inside the dataset folder (label names, readme).
    pub others: Vec<String>,
}

impl Archive {
    /// The dataset authors' binary archive of `kind`.
    pub fn official(kind: DatasetKind) -> Self {
        let (file_name, size, md5, others): (_, _, _, &[&str]) = match kind {
            DatasetKind::Cifar10 => (
                "cifar-10-binary.tar.gz",
                170_052_171,
                "c32a1d4ab5d03f1284b67883e8d87530",
                &["batches.meta.txt", "readme.html"],
            ),
            DatasetKind::Cifar100 => (
                "cifar-100-binary.tar.gz",
                168_513_733,
                "03b5dce01913d631647c71ecec9e9cb8",
                &["coarse_label_names.txt", "fine_label_names.txt"],
            ),
        };
        Self {
            kind,
            file_name: file_name.into(),
            url: format!("{OFFICIAL_BASE}{file_name}"),
            size,
            md5: md5.into(),
            files: verify::expected_files(kind),
            others: others.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    /// The same archive at `url`.
    pub fn at(mut self, url: &str) -> Self {
        self.url = url.to_string();
        self
    }

    /// The same archive from the folder URL in `WHITTLE_DATA_URL`, when that is set.
    pub fn with_env_url(self) -> Self {
        match std::env::var(ENV_URL) {
            Ok(base) if !base.is_empty() => {
                let url = format!("{}/{}", base.trim_end_matches('/'), self.file_name);
                self.at(&url)
            }
            _ => self,
        }
    }

    /// Member paths inside the archive (`<dataset folder>/<file>`), data files first.
    pub fn members(&self) -> Vec<String> {
        let sub = self.kind.subdir();
        self.files
            .iter()
            .map(|f| format!("{sub}/{}.bin", f.stem))
            .chain(self.others.iter().map(|o| format!("{sub}/{o}")))
            .collect()
    }

    /// What to do without network, for error messages.
    pub fn offline_hint(&self, dir: &Path) -> String {
        format!(
            "Without network: get {} ({} bytes, MD5 {}) from {} on another machine, put it \
             into {} and run `{}`: it checks and unpacks the archive without downloading.",
            self.file_name,
            self.size,
            self.md5,
            self.url,
            dir.display(),
            fetch_command(self.kind, Some(dir))
        )
    }
}

/// The CLI name of a dataset (`cifar10`, `cifar100`).
pub fn cli_name(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::Cifar10 => "cifar10",
        DatasetKind::Cifar100 => "cifar100",
    }
}

/// The human name of a dataset (`CIFAR-10`, `CIFAR-100`).
pub fn display_name(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::Cifar10 => "CIFAR-10",
        DatasetKind::Cifar100 => "CIFAR-100",
    }
}

/// The exact command that fetches `kind` into `dir` (the default folder when `None`).
pub fn fetch_command(kind: DatasetKind, dir: Option<&Path>) -> String {
    match dir {
        None => format!("whittle data fetch {}", cli_name(kind)),
        Some(d) => format!(
            "whittle data fetch {} --dir {}",
            cli_name(kind),
            shell_word(&d.display().to_string())
        ),
    }
}

/// `s` quoted for a POSIX shell when it needs it.
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%~".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `bytes` as MiB with one decimal, e.g. `162.2 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// How to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// Draw a progress bar (on a terminal) and print what happens on stderr.
    pub progress: bool,
    /// Requests per download: a connection cut mid-way is resumed this many times less one.
    pub attempts: usize,
    /// Keep the archive after unpacking it.
    pub keep_archive: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            progress: true,
            attempts: 5,
            keep_archive: false,
        }
    }
}

/// What [`fetch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The dataset was already there and passed every check: nothing was downloaded.
    AlreadyThere,
    /// The archive was downloaded (resumed from `resumed_from` bytes of an earlier try when
    /// not 0, in `requests` HTTP requests) and unpacked.
    Downloaded {
        /// Bytes of the archive already on disk before this call.
        resumed_from: u64,
        /// HTTP requests made.
        requests: usize,
    },
    /// An archive already in the folder (placed by hand) was checked and unpacked.
    Unpacked,
}

/// Make `dir` hold `archive`'s dataset folder, checked: nothing happens when it already
/// does; an archive already in `dir` is used instead of downloading; a partial download
/// (`<archive>.part`) is resumed. A bad archive is removed and never unpacked.
pub fn fetch(archive: &Archive, dir: &Path, opts: &FetchOptions) -> Result<Fetched, DataError> {
    let say = |msg: String| {
        if opts.progress {
            eprintln!("{msg}");
        }
    };
    let checks = verify::check_dataset(dir, archive.kind, &archive.files);
    if checks.iter().all(|c| c.problems.is_empty() || !c.required) {
        say(format!(
            "{} is already in {} and passes its checks: nothing to download",
            display_name(archive.kind),
            dir.join(archive.kind.subdir()).display()
        ));
        return Ok(Fetched::AlreadyThere);
    }
    fs::create_dir_all(dir).map_err(|source| DataError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(&archive.file_name);
    let fetched = if path.is_file() {
        say(format!("using {} found there", path.display()));
        Fetched::Unpacked
    } else {
        let part = dir.join(format!("{}.part", archive.file_name));
        let resumed_from = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let requests = download(archive, &part, dir, opts)?;
        fs::rename(&part, &path).map_err(|source| DataError::Write {
            path: path.clone(),
            source,
        })?;
        Fetched::Downloaded {
            resumed_from,
            requests,
        }
    };
    check_archive(archive, &path)?;
    say(format!(
        "{}: {} bytes, MD5 {} as published; unpacking",
        path.display(),
        archive.size,
        archive.md5
    ));
    unpack(archive, &path, dir)?;
    if !opts.keep_archive {
        fs::remove_file(&path).map_err(|source| DataError::Write {
            path: path.clone(),
            source,
        })?;
    }
    say(format!(
        "{} ready in {}",
        display_name(archive.kind),
        dir.join(archive.kind.subdir()).display()
    ));
    Ok(fetched)
}

/// The archive file has the published size and MD5; otherwise it is removed.
fn check_archive(archive: &Archive, path: &Path) -> Result<(), DataError> {
    let (md5, size) = verify::md5_file(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = if size != archive.size {
        Some(DataError::ArchiveSize {
            path: path.to_path_buf(),
            found: size,
            expected: archive.size,
        })
    } else if md5 != archive.md5 {
        Some(DataError::ArchiveMd5 {
            path: path.to_path_buf(),
            found: md5,
            expected: archive.md5.clone(),
        })
    } else {
        None
    };
    match bad {
        None => Ok(()),
        Some(e) => {
            // Best effort: the error already says the file is bad, and a rerun overwrites it.
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}

/// Whether `url` points at this machine (then no proxy may see it).
fn is_loopback(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| h.trim_start_matches('['))
    } else {
        host.split(':').next()
    };
    match name {
        Some("localhost") => true,
        Some(h) => h
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` header.
fn range_start(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    let v = resp.headers().get("content-range")?.to_str().ok()?;
    let spec = v.trim().strip_prefix("bytes")?.trim();
    spec.split('-').next()?.trim().parse().ok()
}

/// Download `archive.url` into `part`, appending to what `part` holds. Returns the number
/// of requests made. A response that ends early (a cut connection) is resumed with a range
/// request, up to `opts.attempts` requests; one that ends cleanly short of the archive's
/// size removes `part` and is an [`DataError::ArchiveSize`].
fn download(
    archive: &Archive,
    part: &Path,
    dir: &Path,
    opts: &FetchOptions,
) -> Result<usize, DataError> {
    let url = archive.url.as_str();
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("whittle/", env!("CARGO_PKG_VERSION")));
    if is_loopback(url) {
        config = config.proxy(None);
    }
    let agent = ureq::Agent::new_with_config(config.build());
    let write_err = |source| DataError::Write {
        path: part.to_path_buf(),
        source,
    };
    let bar = if opts.progress {
        let bar = ProgressBar::new(archive.size);
        if let Ok(style) = ProgressStyle::with_template(
            "{bytes:>10}/{total_bytes} [{wide_bar}] {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let attempts = opts.attempts.max(1);
    let mut requests = 0usize;
    let mut last_err: Option<io::Error> = None;
    let mut have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if have > archive.size {
        have = 0;
    }
    while have < archive.size {
        if requests == attempts {
            bar.abandon();
            return Err(DataError::Interrupted {
                url: url.into(),
                path: part.to_path_buf(),
                have,
                total: archive.size,
                source: last_err.unwrap_or_else(|| io::Error::other("no response")),
            });
        }
        requests += 1;
        let mut req = agent.get(url);
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        if opts.progress {
            bar.suspend(|| {
                if have > 0 {
                    eprintln!("resuming {url} at byte {have} of {}", archive.size);
                } else {
                    eprintln!(
                        "downloading {url} ({} bytes, {})",
                        archive.size,
                        mib(archive.size)
                    );
                }
            });
        }
        let resp = match req.call() {
            Ok(r) => r,
            // Nothing arrived: no point in retrying what a cut connection would need.
            Err(source) => {
                bar.abandon();
                return Err(DataError::Download {
                    url: url.into(),
                    source: Box::new(source),
                    offline: archive.offline_hint(dir),
                });
            }
        };
        let status = resp.status().as_u16();
        let append = match status {
            206 if range_start(&resp) == Some(have) => true,
            200 | 206 => false,
            _ => {
                bar.abandon();
                return Err(DataError::HttpStatus {
                    url: url.into(),
                    status,
                    offline: archive.offline_hint(dir),
                });
            }
        };
        if !append {
            have = 0; // the server sent the whole file (it ignored the range)
        }
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(part)
            .map_err(write_err)?;
        bar.set_position(have);
        let mut body = resp.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 16];
        let ended = loop {
            match body.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    file.write_all(&buf[..n]).map_err(write_err)?;
                    have += n as u64;
                    bar.set_position(have);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        file.flush().map_err(write_err)?;
        match ended {
            Ok(()) if have < archive.size => {
                bar.abandon();
                let _ = fs::remove_file(part);
                return Err(DataError::ArchiveSize {
                    path: part.to_path_buf(),
                    found: have,
                    expected: archive.size,
                });
            }
            Ok(()) => {}
            Err(e) => last_err = Some(e),
        }
    }
    bar.finish_and_clear();
    Ok(requests)
}

/// Why a member path may not be unpacked, if it may not.
fn unsafe_path(path: &Path) -> Option<&'static str> {
    for c in path.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Some("a `..` component"),
            Component::RootDir | Component::Prefix(_) => return Some("an absolute path"),
        }
    }
    None
}

/// A member path without `./` parts, `/`-joined.
fn clean(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Unpack the expected members of the (checked) archive at `path` into
/// `dir/<dataset folder>/`: first into a staging folder, every data file checked on the
/// way (size, labels, known MD5), then moved into place — so a refused or broken archive
/// leaves nothing behind.
pub fn unpack(archive: &Archive, path: &Path, dir: &Path) -> Result<(), DataError> {
    let sub = archive.kind.subdir();
    let staging = dir.join(format!(".{sub}.partial"));
    let result = unpack_into(archive, path, &staging);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    let target = dir.join(sub);
    fs::create_dir_all(&target).map_err(|source| DataError::Write {
        path: target.clone(),
        source,
    })?;
    for member in archive.members() {
        let name = member.trim_start_matches(&format!("{sub}/")).to_string();
        let to = target.join(&name);
        fs::rename(staging.join(&name), &to).map_err(|source| DataError::Write {
            path: to.clone(),
            source,
        })?;
        // A stale compressed twin would be shadowed by the `.bin` anyway; remove it so
        // `whittle data verify` reports on the file that is read.
        let _ = fs::remove_file(target.join(format!("{name}.gz")));
    }
    let _ = fs::remove_dir_all(&staging);
    Ok(())
}

fn unpack_into(archive: &Archive, path: &Path, staging: &Path) -> Result<(), DataError> {
    let unpack_err = |source| DataError::Unpack {
        archive: path.to_path_buf(),
        source,
    };
    if staging.exists() {
        fs::remove_dir_all(staging).map_err(|source| DataError::Write {
            path: staging.to_path_buf(),
            source,
        })?;
    }
    fs::create_dir_all(staging).map_err(|source| DataError::Write {
        path: staging.to_path_buf(),
        source,
    })?;
    let members = archive.members();
    let mut seen = vec![false; members.len()];
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    for entry in tar.entries().map_err(unpack_err)? {
        let mut entry = entry.map_err(unpack_err)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let member_path = entry.path().map_err(unpack_err)?.into_owned();
        if let Some(why) = unsafe_path(&member_path) {
            return Err(DataError::UnsafeMember {
                archive: path.to_path_buf(),
                member: raw,
                why,
            });
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(DataError::UnsafeMember {
                archive: path.to_path_buf(),
                member: raw,
                why: "a link",
            });
        }
        let name = clean(&member_path);
        let Some(index) = members.iter().position(|m| *m == name) else {
            continue; // directories and members the dataset does not need
        };
        if !kind.is_file() {
            return Err(DataError::BadMember {
                archive: path.to_path_buf(),
                member: name,
                problem: "not a regular file".into(),
            });
        }
        let out_path = staging.join(name.rsplit('/').next().unwrap_or(&name));
        let mut out = File::create(&out_path).map_err(|source| DataError::Write {
            path: out_path.clone(),
            source,
        })?;
        match archive.files.get(index) {
            Some(expected) => {
                let mut checker = Checker::new(archive.kind);
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = match entry.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => return Err(unpack_err(e)),
                    };
                    checker.update(&buf[..n]);
                    out.write_all(&buf[..n])
                        .map_err(|source| DataError::Write {
                            path: out_path.clone(),
                            source,
                        })?;
                }
                let (_, problems) = checker.finish(expected);
                if !problems.is_empty() {
                    let all: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                    return Err(DataError::BadMember {
                        archive: path.to_path_buf(),
                        member: name,
                        problem: all.join("; "),
                    });
                }
            }
            None => {
                io::copy(&mut entry, &mut out).map_err(unpack_err)?;
            }
        }
        out.sync_all().map_err(|source| DataError::Write {
            path: out_path.clone(),
            source,
        })?;
        seen[index] = true;
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(DataError::MissingMember {
            archive: path.to_path_buf(),
            member: members[i].clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_archives_hold_the_published_facts() {
        let c10 = Archive::official(DatasetKind::Cifar10);
        assert_eq!(
            c10.url,
            "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
        );
        assert_eq!(
            (c10.size, c10.md5.as_str()),
            (170_052_171, "c32a1d4ab5d03f1284b67883e8d87530")
        );
        assert_eq!(
            c10.members(),
            [
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
                "test_batch.bin",
                "batches.meta.txt",
                "readme.html"
            ]
            .map(|m| format!("cifar-10-batches-bin/{m}"))
        );
        let c100 = Archive::official(DatasetKind::Cifar100);
        assert_eq!(
            (c100.size, c100.md5.as_str()),
            (168_513_733, "03b5dce01913d631647c71ecec9e9cb8")
        );
        assert_eq!(
            c100.members(),
            [
                "train.bin",
                "test.bin",
                "coarse_label_names.txt",
                "fine_label_names.txt"
            ]
            .map(|m| format!("cifar-100-binary/{m}"))
        );
        assert_eq!(mib(c10.size), "162.2 MiB");
        assert_eq!(mib(c100.size), "160.7 MiB");
        assert_eq!(
            c10.at("http://127.0.0.1:9/x.tgz").url,
            "http://127.0.0.1:9/x.tgz"
        );
    }

    #[test]
    fn fetch_commands_are_exact_and_quoted() {
        assert_eq!(
            fetch_command(DatasetKind::Cifar100, None),
            "whittle data fetch cifar100"
        );
        assert_eq!(
            fetch_command(DatasetKind::Cifar10, Some(Path::new("/data/cifar"))),
            "whittle data fetch cifar10 --dir /data/cifar"
        );
        assert_eq!(
            fetch_command(DatasetKind::Cifar10, Some(Path::new("/my data/it's"))),
            r"whittle data fetch cifar10 --dir '/my data/it'\''s'"
        );
    }

    #[test]
    fn unsafe_member_paths_are_named() {
        assert_eq!(unsafe_path(Path::new("cifar-10-batches-bin/a.bin")), None);
        assert_eq!(unsafe_path(Path::new("./cifar-10-batches-bin/a.bin")), None);
        assert_eq!(
            unsafe_path(Path::new("cifar-10-batches-bin/../../a.bin")),
            Some("a `..` component")
        );
        assert_eq!(
            unsafe_path(Path::new("/etc/passwd")),
            Some("an absolute path")
        );
        assert_eq!(clean(Path::new("./a/./b.bin")), "a/b.bin");
    }

    #[test]
    fn loopback_urls_are_recognised() {
        for url in [
            "http://127.0.0.1:8080/a",
            "http://localhost/a",
            "http://[::1]:99/a",
            "http://127.3.4.5/",
            "http://user@127.0.0.1/a",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://www.cs.toronto.edu/~kriz/x",
            "http://10.0.0.1/a",
            "http://localhost.example.com/",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
