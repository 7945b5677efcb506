//! `whittle data fetch` against a loopback HTTP server started here (no network): generated
//! archives in the official layouts are downloaded, resumed, checked, unpacked and trained on.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
use whittle::data::fetch::{self, Archive, FetchOptions, Fetched};
use whittle::data::locate::{Lookup, has_data};
use whittle::data::verify::{self, hex};
use whittle::data::{self, DataError, DatasetKind, SplitOptions};
use whittle::graph;
use whittle::train::{self, RunDir, RunOptions, TrainConfig};

/// burn's flex RNG is process-global: the two training tests take turns.
static TRAINING: Mutex<()> = Mutex::new(());

/// Connections one test server accepts before its thread ends.
const MAX_CONNECTIONS: usize = 16;

/// How the test server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 200 with the whole file, or 206 for `Range: bytes=S-`.
    Ranges,
    /// As `Ranges`, but the first response announces the whole file and the connection is
    /// closed after this many body bytes.
    CutFirstAt(usize),
    /// Always 200 with the whole file (a server without range support).
    IgnoreRange,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    path: String,
    range: Option<String>,
}

struct Server {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn url(&self, file: &str) -> String {
        format!("http://{}/{file}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().expect("log").clone()
    }
}

/// Serve `body` at `/name` on 127.0.0.1 (an ephemeral port) from a thread.
fn serve(name: &str, body: Vec<u8>, mode: Mode) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (path, log2) = (format!("/{name}"), log.clone());
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().take(MAX_CONNECTIONS).enumerate() {
            let Ok(stream) = stream else { continue };
            let cut = match mode {
                Mode::CutFirstAt(at) if i == 0 => Some(at),
                _ => None,
            };
            let _ = answer(stream, &path, &body, mode, cut, &log2);
        }
    });
    Server { addr, log }
}

fn answer(
    mut s: TcpStream,
    path: &str,
    body: &[u8],
    mode: Mode,
    cut: Option<usize>,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
        if s.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.lines();
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let range = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("range"))
        .map(|(_, v)| v.trim().to_string());
    log.lock().expect("log").push(Seen {
        path: target.clone(),
        range: range.clone(),
    });
    if target != path {
        return s.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let start = range
        .as_deref()
        .filter(|_| mode != Mode::IgnoreRange)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok());
    let (status, from) = match start {
        Some(from) if from < body.len() => ("206 Partial Content", from),
        Some(_) => {
            return s.write_all(
                b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        None => ("200 OK", 0),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/x-gzip\r\nContent-Length: {}\r\n\
         Accept-Ranges: bytes\r\nConnection: close\r\n",
        body.len() - from
    );
    if from > 0 || status.starts_with("206") {
        head += &format!(
            "Content-Range: bytes {from}-{}/{}\r\n",
            body.len() - 1,
            body.len()
        );
    }
    head += "\r\n";
    s.write_all(head.as_bytes())?;
    let end = cut.map_or(body.len(), |c| (from + c).min(body.len()));
    s.write_all(&body[from..end])?;
    s.flush()?;
    s.shutdown(Shutdown::Both)
}

fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// Record `r` of file `f`: labels from (f, r), pixels a pattern of (f, r, byte).
fn record(kind: DatasetKind, f: usize, r: usize) -> Vec<u8> {
    let fine = ((f * 17 + r * 7) % kind.num_classes()) as u8;
    let mut out = match kind {
        DatasetKind::Cifar10 => vec![fine],
        DatasetKind::Cifar100 => vec![fine / 5, fine],
    };
    out.extend((0..3072).map(|i| ((f * 131 + r * 29 + i * 3) % 256) as u8));
    out
}

/// The members (dataset-folder paths and contents) of an official-layout archive holding
/// `n` records per data file.
fn members(kind: DatasetKind, n: usize) -> Vec<(String, Vec<u8>)> {
    let archive = Archive::official(kind);
    let sub = kind.subdir();
    let mut out: Vec<(String, Vec<u8>)> = archive
        .files
        .iter()
        .enumerate()
        .map(|(f, e)| {
            let bytes = (0..n).flat_map(|r| record(kind, f, r)).collect();
            (format!("{sub}/{}.bin", e.stem), bytes)
        })
        .collect();
    for other in &archive.others {
        let names = verify::label_files(kind)
            .iter()
            .find(|(n, _)| n == other)
            .map_or(1, |(_, count)| *count);
        let text: String = (0..names).map(|i| format!("class{i}\n")).collect();
        out.push((format!("{sub}/{other}"), text.into_bytes()));
    }
    out
}

fn header(path: &str, size: usize, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    // Written by hand so that unsafe names can be made too (`set_path` refuses `..`).
    h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    h.set_cksum();
    h
}

/// A `.tar.gz` of a directory entry for the dataset folder, then `files` in order.
fn tgz(kind: DatasetKind, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let dir = format!("{}/", kind.subdir());
    b.append(
        &header(&dir, 0, tar::EntryType::Directory),
        std::io::empty(),
    )
    .expect("tar dir");
    for (path, bytes) in files {
        b.append(
            &header(path, bytes.len(), tar::EntryType::Regular),
            &bytes[..],
        )
        .expect("tar member");
    }
    b.into_inner().expect("tar").finish().expect("gzip")
}

/// The archive description for `body` at `url`: its size and MD5, `n` records per file,
/// the files' own MD5s as the known checksums.
fn spec(kind: DatasetKind, url: &str, body: &[u8], n: usize) -> Archive {
    let mut a = Archive::official(kind).at(url);
    a.size = body.len() as u64;
    a.md5 = md5_hex(body);
    let files = members(kind, n);
    for (e, (_, bytes)) in a.files.iter_mut().zip(&files) {
        e.records = n;
        e.md5 = Some(md5_hex(bytes));
    }
    a
}

fn quiet() -> FetchOptions {
    FetchOptions {
        progress: false,
        ..FetchOptions::default()
    }
}

fn lookup(root: &Path) -> Lookup {
    Lookup {
        env_data: None,
        cache: Some(root.join("cache/whittle")),
        checkout: root.join("no-ci-copy"),
    }
}

fn get(url: &str) -> Seen {
    Seen {
        path: url.into(),
        range: None,
    }
}

/// Only the dataset folder is left in `dir`: no archive, no part file, no staging folder.
fn only_dataset(dir: &Path, kind: DatasetKind) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec![kind.subdir().to_string()]);
}

fn tiny_layout(kind: DatasetKind, n: usize) -> data::Layout {
    kind.layout().with_records_per_file(n)
}

fn train_steps(kind: DatasetKind, dir: &Path, n_train_files: usize, n: usize, arch: &str) {
    let split = SplitOptions {
        val: 32,
        ..SplitOptions::default()
    };
    // The official readers, told the tiny record count (they insist on 10,000 otherwise).
    let all = tiny_layout(kind, n)
        .read_train(&data::locate(dir, kind))
        .expect("fetched data loads");
    let splits = data::split(&all, split.val, split.split_seed, split.limit).expect("split");
    assert_eq!(splits.train.len() + splits.val.len(), n_train_files * n);
    assert_eq!(splits.val.len(), 32);
    let tmp = tempfile::tempdir().expect("tmp");
    let spec = graph::preset(arch).expect("preset");
    let config = TrainConfig {
        dataset: kind,
        epochs: 1,
        data_dir: Some(dir.to_path_buf()),
        split,
        ..TrainConfig::default()
    };
    let device = whittle::device::device("flex").expect("flex");
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let h = train::train(
        &RunDir::new(tmp.path().join("run")),
        &spec,
        &config,
        &splits,
        &device,
        RunOptions { progress: false },
        &mut |_| {},
    )
    .expect("training on the fetched data");
    assert_eq!(h.epochs.len(), 1);
    assert!(h.epochs[0].train_loss.is_finite() && h.epochs[0].val_loss.is_finite());
}

#[test]
fn a_fetched_archive_is_checked_unpacked_read_exactly_and_trained_on() {
    let kind = DatasetKind::Cifar10;
    let n = 40;
    let files = members(kind, n);
    let body = tgz(kind, &files);
    let server = serve("cifar-10-binary.tar.gz", body.clone(), Mode::Ranges);
    let archive = spec(kind, &server.url("cifar-10-binary.tar.gz"), &body, n);
    let root = tempfile::tempdir().expect("tmp");
    let l = lookup(root.path());
    let cache = root.path().join("cache/whittle");

    // What `whittle train` does when WHITTLE_FETCH=1: nothing found, so fetch into the cache.
    let dir = l
        .find_or_fetch(None, None, &archive, true, &quiet())
        .expect("fetched");
    assert_eq!(dir, cache);
    assert_eq!(server.seen(), vec![get("/cifar-10-binary.tar.gz")]);
    only_dataset(&cache, kind);
    for (path, bytes) in &files {
        assert_eq!(
            &std::fs::read(cache.join(path)).expect("member"),
            bytes,
            "{path}"
        );
    }
    let checks = verify::check_dataset(&cache, kind, &archive.files);
    assert!(checks.iter().all(|c| c.problems.is_empty()), "{checks:?}");
    // Against the real files' sizes and checksums the tiny files fail, each by name.
    let real = verify::check_dataset(&cache, kind, &verify::expected_files(kind));
    assert_eq!(real.iter().filter(|c| !c.ok()).count(), 6);
    assert!(real[0].to_string().starts_with(&format!(
        "FAIL  {}: 122920 bytes (40 records), expected 30730000",
        cache.join("cifar-10-batches-bin/data_batch_1.bin").display()
    )));

    // The test set is read record for record as generated.
    let test = tiny_layout(kind, n)
        .read_test(&data::locate(&cache, kind))
        .expect("test set");
    assert_eq!(test.len(), n);
    for r in [0, 17, n - 1] {
        let rec = record(kind, 5, r);
        assert_eq!(test.labels[r], rec[0]);
        assert_eq!(test.image(r), &rec[1..]);
    }
    train_steps(kind, &cache, 5, n, "seed-c10");

    // Idempotent: found again without a request; fetching again downloads nothing.
    assert_eq!(
        l.find_or_fetch(None, None, &archive, true, &quiet()).ok(),
        Some(cache.clone())
    );
    assert_eq!(
        fetch::fetch(&archive, &cache, &quiet()).ok(),
        Some(Fetched::AlreadyThere)
    );
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn a_download_cut_half_way_resumes_with_a_range_request_and_verifies() {
    let kind = DatasetKind::Cifar10;
    let n = 24;
    let body = tgz(kind, &members(kind, n));
    let half = body.len() / 2;
    let name = "cifar-10-binary.tar.gz";

    // In one call: the cut response is resumed at once from where it stopped.
    let server = serve(name, body.clone(), Mode::CutFirstAt(half));
    let archive = spec(kind, &server.url(name), &body, n);
    let dir = tempfile::tempdir().expect("tmp");
    let got = fetch::fetch(&archive, dir.path(), &quiet()).expect("resumed");
    assert_eq!(
        got,
        Fetched::Downloaded {
            resumed_from: 0,
            requests: 2
        }
    );
    let ranged = Seen {
        path: format!("/{name}"),
        range: Some(format!("bytes={half}-")),
    };
    assert_eq!(
        server.seen(),
        vec![get(&format!("/{name}")), ranged.clone()]
    );
    assert!(verify::all_ok(&verify::check_dataset(
        dir.path(),
        kind,
        &archive.files
    )));
    only_dataset(dir.path(), kind);

    // Across calls: with one attempt the cut leaves the part file and says how far it got;
    // the next call asks only for the rest.
    let server = serve(name, body.clone(), Mode::CutFirstAt(half));
    let archive = spec(kind, &server.url(name), &body, n);
    let dir = tempfile::tempdir().expect("tmp");
    let once = FetchOptions {
        attempts: 1,
        ..quiet()
    };
    let part = dir.path().join(format!("{name}.part"));
    match fetch::fetch(&archive, dir.path(), &once) {
        Err(e @ DataError::Interrupted { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("cut after {half} of {} bytes", body.len()))
                    && msg.contains(&part.display().to_string()),
                "{msg}"
            );
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert_eq!(std::fs::read(&part).expect("part kept"), body[..half]);
    let got = fetch::fetch(&archive, dir.path(), &quiet()).expect("resumed");
    assert_eq!(
        got,
        Fetched::Downloaded {
            resumed_from: half as u64,
            requests: 1
        }
    );
    let ranged = Seen {
        path: format!("/{name}"),
        range: Some(format!("bytes={half}-")),
    };
    assert_eq!(server.seen()[1], ranged);
    assert!(verify::all_ok(&verify::check_dataset(
        dir.path(),
        kind,
        &archive.files
    )));

    // A server without ranges sends the whole file again: it replaces the part, not appends.
    let server = serve(name, body.clone(), Mode::IgnoreRange);
    let archive = spec(kind, &server.url(name), &body, n);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join(format!("{name}.part")), &body[..half]).expect("part");
    fetch::fetch(&archive, dir.path(), &quiet()).expect("refetched whole");
    assert_eq!(server.seen().len(), 1);
    assert!(verify::all_ok(&verify::check_dataset(
        dir.path(),
        kind,
        &archive.files
    )));
    only_dataset(dir.path(), kind);
}

#[test]
fn a_wrong_md5_or_truncated_archive_is_named_removed_and_not_used() {
    let kind = DatasetKind::Cifar10;
    let n = 8;
    let files = members(kind, n);
    let body = tgz(kind, &files);
    let name = "cifar-10-binary.tar.gz";

    // One byte changed: same size, other MD5.
    let mut changed = body.clone();
    let mid = changed.len() / 2;
    changed[mid] ^= 0x40;
    let server = serve(name, changed.clone(), Mode::Ranges);
    let archive = spec(kind, &server.url(name), &body, n);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join(name);
    match fetch::fetch(&archive, dir.path(), &quiet()) {
        Err(e @ DataError::ArchiveMd5 { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("{}: MD5 {}", path.display(), md5_hex(&changed)))
                    && msg.contains(&archive.md5),
                "{msg}"
            );
        }
        other => panic!("expected ArchiveMd5, got {other:?}"),
    }
    assert!(!path.exists() && !has_data(dir.path(), kind));
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);

    // The same bad archive placed by hand (the offline path): refused without a request.
    std::fs::write(&path, &changed).expect("place");
    assert!(matches!(
        fetch::fetch(&archive, dir.path(), &quiet()),
        Err(DataError::ArchiveMd5 { .. })
    ));
    assert_eq!(server.seen().len(), 1);
    assert!(!path.exists());

    // A good archive placed by hand is unpacked without a request.
    std::fs::write(&path, &body).expect("place");
    assert_eq!(
        fetch::fetch(&archive, dir.path(), &quiet()).ok(),
        Some(Fetched::Unpacked)
    );
    assert_eq!(server.seen().len(), 1);
    only_dataset(dir.path(), kind);

    // A truncated archive: the response ends cleanly, short of the published size.
    let server = serve(name, body[..body.len() / 2].to_vec(), Mode::Ranges);
    let archive = spec(kind, &server.url(name), &body, n);
    let dir = tempfile::tempdir().expect("tmp");
    let part = dir.path().join(format!("{name}.part"));
    match fetch::fetch(&archive, dir.path(), &quiet()) {
        Err(e @ DataError::ArchiveSize { .. }) => assert_eq!(
            e.to_string(),
            format!(
                "{}: {} bytes, but the archive has {}; removed it (run the command again to \
                 download it anew)",
                part.display(),
                body.len() / 2,
                body.len()
            )
        ),
        other => panic!("expected ArchiveSize, got {other:?}"),
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);

    // Right archive checksum, but a member one record short: named, nothing unpacked.
    let mut short = files.clone();
    short[2].1.truncate(3073 * (n - 1));
    let bad = tgz(kind, &short);
    let server = serve(name, bad.clone(), Mode::Ranges);
    let mut archive = spec(kind, &server.url(name), &bad, n);
    archive.files[2].md5 = None;
    let dir = tempfile::tempdir().expect("tmp");
    match fetch::fetch(&archive, dir.path(), &quiet()) {
        Err(e @ DataError::BadMember { .. }) => assert!(
            e.to_string().contains(
                "member `cifar-10-batches-bin/data_batch_3.bin`: 21511 bytes (7 records), \
                 expected 24584 (8 records of 3073 bytes); nothing was extracted"
            ),
            "{e}"
        ),
        other => panic!("expected BadMember, got {other:?}"),
    }
    assert!(!has_data(dir.path(), kind));
    assert!(!dir.path().join(kind.subdir()).exists());
    assert!(
        !dir.path()
            .join(format!(".{}.partial", kind.subdir()))
            .exists()
    );
}

#[test]
fn a_member_with_dotdot_or_a_link_is_refused_and_nothing_is_extracted() {
    let kind = DatasetKind::Cifar10;
    let n = 4;
    let name = "cifar-10-binary.tar.gz";
    for (evil, entry, why) in [
        (
            "cifar-10-batches-bin/../../evil.txt",
            tar::EntryType::Regular,
            "a `..` component",
        ),
        ("../evil.txt", tar::EntryType::Regular, "a `..` component"),
        (
            "/tmp/whittle-evil.txt",
            tar::EntryType::Regular,
            "an absolute path",
        ),
        (
            "cifar-10-batches-bin/link",
            tar::EntryType::Symlink,
            "a link",
        ),
    ] {
        // The unsafe member comes after a good one, so staging must be cleaned up.
        let files = members(kind, n);
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let (first, bytes) = &files[0];
        b.append(
            &header(first, bytes.len(), tar::EntryType::Regular),
            &bytes[..],
        )
        .expect("tar");
        b.append(&header(evil, 4, entry), &b"evil"[..])
            .expect("tar");
        for (path, bytes) in &files[1..] {
            b.append(
                &header(path, bytes.len(), tar::EntryType::Regular),
                &bytes[..],
            )
            .expect("tar");
        }
        let body = b.into_inner().expect("tar").finish().expect("gzip");
        let server = serve(name, body.clone(), Mode::Ranges);
        let archive = spec(kind, &server.url(name), &body, n);
        let root = tempfile::tempdir().expect("tmp");
        let dir = root.path().join("a/b");
        match fetch::fetch(&archive, &dir, &quiet()) {
            Err(e @ DataError::UnsafeMember { .. }) => assert_eq!(
                e.to_string(),
                format!(
                    "{}: refusing member `{evil}` ({why}); nothing was extracted",
                    dir.join(name).display()
                )
            ),
            other => panic!("{evil}: expected UnsafeMember, got {other:?}"),
        }
        assert!(!root.path().join("evil.txt").exists() && !root.path().join("a/evil.txt").exists());
        assert!(!Path::new("/tmp/whittle-evil.txt").exists());
        assert!(!dir.join(kind.subdir()).exists(), "{evil}");
        assert!(!dir.join(format!(".{}.partial", kind.subdir())).exists());
    }
}

#[test]
fn cifar100_through_the_same_path_trains_seed_c100() {
    let kind = DatasetKind::Cifar100;
    let n = 96;
    let files = members(kind, n);
    let body = tgz(kind, &files);
    let name = "cifar-100-binary.tar.gz";
    let server = serve(name, body.clone(), Mode::CutFirstAt(body.len() / 3));
    let archive = spec(kind, &server.url(name), &body, n);
    assert_eq!(archive.files.len(), 2);
    let root = tempfile::tempdir().expect("tmp");
    let l = lookup(root.path());
    let dir = l
        .find_or_fetch(None, None, &archive, true, &quiet())
        .expect("fetched");
    assert_eq!(server.seen().len(), 2);
    only_dataset(&dir, kind);
    let test = tiny_layout(kind, n)
        .read_test(&data::locate(&dir, kind))
        .expect("test set");
    assert_eq!(test.num_classes, 100);
    for r in [0, 50, n - 1] {
        let rec = record(kind, 1, r);
        assert_eq!(test.labels[r], rec[1], "the fine label");
        assert_eq!(test.image(r), &rec[2..]);
    }
    train_steps(kind, &dir, 1, n, "seed-c100");
}

#[test]
fn missing_data_names_the_fetch_command_and_asks_no_server() {
    let server = serve("cifar-10-binary.tar.gz", Vec::new(), Mode::Ranges);
    let root = tempfile::tempdir().expect("tmp");
    let l = lookup(root.path());
    let archive = Archive::official(DatasetKind::Cifar10).at(&server.url("cifar-10-binary.tar.gz"));
    let run: PathBuf = root.path().join("gone");
    let e = l
        .find_or_fetch(None, Some(&run), &archive, false, &quiet())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        e,
        format!(
            "no CIFAR-10 data found (looked in {}, {}). Get it, one 162.2 MiB download, \
             with\n\n    whittle data fetch cifar10\n\nor pass --data DIR / set WHITTLE_DATA \
             to a folder holding cifar-10-batches-bin/ (WHITTLE_FETCH=1 lets this command \
             fetch it itself)",
            run.display(),
            root.path().join("cache/whittle").display(),
        )
    );
    let flag = root.path().join("mine");
    let e = l
        .find_or_fetch(Some(&flag), None, &archive, false, &quiet())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains(&format!(
            "\n    whittle data fetch cifar10 --dir {}\n",
            flag.display()
        )),
        "{e}"
    );
    assert_eq!(server.seen(), vec![]);
}
