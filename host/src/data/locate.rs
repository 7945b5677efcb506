//! Where the CIFAR data is: `--data`, `WHITTLE_DATA`, a run's stored folder, the per-user
//! cache, then the copy this project's CI keeps beside the checkout; fetched when allowed.

use std::path::{Path, PathBuf};

use super::cifar::{DatasetKind, find_file, locate};
use super::error::DataError;
use super::fetch::{self, Archive, FetchOptions, display_name, fetch_command, mib};

/// Environment variable: the data folder (as `--data`).
pub const ENV_DATA: &str = "WHITTLE_DATA";
/// Environment variable: `1` lets any command fetch missing data, `0` forbids even the demo.
pub const ENV_FETCH: &str = "WHITTLE_FETCH";

/// Where a candidate folder came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The command's `--data` (or `--dir`).
    Flag,
    /// `WHITTLE_DATA`.
    Env,
    /// The folder a run recorded in its `train.json`.
    Run,
    /// The per-user cache (`$XDG_CACHE_HOME/whittle` or `~/.cache/whittle`).
    Cache,
    /// The CI copy next to the checkout (relative to the working directory).
    Checkout,
}

/// The lookup order's inputs, read once from the environment (or set by tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// `WHITTLE_DATA`, if set and not empty.
    pub env_data: Option<PathBuf>,
    /// The per-user cache folder, if a home or cache directory is known.
    pub cache: Option<PathBuf>,
    /// The CI copy's folder.
    pub checkout: PathBuf,
}

impl Lookup {
    /// From `WHITTLE_DATA`, `XDG_CACHE_HOME` and `HOME`.
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            env_data: var(ENV_DATA),
            cache: cache_dir(var("XDG_CACHE_HOME"), var("HOME")),
            checkout: PathBuf::from("../shared/data"),
        }
    }

    /// The folders looked in, in order, for a command given `flag` and a run's `stored`
    /// folder. An explicit choice (`--data` or `WHITTLE_DATA`) is the only candidate.
    pub fn candidates(&self, flag: Option<&Path>, stored: Option<&Path>) -> Vec<(Origin, PathBuf)> {
        if let Some(f) = flag {
            return vec![(Origin::Flag, f.to_path_buf())];
        }
        if let Some(e) = &self.env_data {
            return vec![(Origin::Env, e.clone())];
        }
        let mut out = Vec::new();
        if let Some(s) = stored {
            out.push((Origin::Run, s.to_path_buf()));
        }
        if let Some(c) = &self.cache {
            out.push((Origin::Cache, c.clone()));
        }
        out.push((Origin::Checkout, self.checkout.clone()));
        out
    }

    /// Where `whittle data fetch` puts data without `--dir`: `WHITTLE_DATA`, else the cache.
    pub fn fetch_dir(&self, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_path_buf)
            .or_else(|| self.env_data.clone())
            .or_else(|| self.cache.clone())
    }

    /// The first candidate folder that holds every file of `kind`; otherwise
    /// [`DataError::NotFound`] naming the folders and the exact fetch command.
    pub fn find(
        &self,
        flag: Option<&Path>,
        stored: Option<&Path>,
        kind: DatasetKind,
    ) -> Result<PathBuf, DataError> {
        let candidates = self.candidates(flag, stored);
        if let Some((_, dir)) = candidates.iter().find(|(_, d)| has_data(d, kind)) {
            return Ok(dir.clone());
        }
        let target = self.fetch_dir(flag);
        // The command needs --dir unless the data is to go where `fetch` puts it anyway.
        let dir_arg = match (&target, flag) {
            (Some(t), Some(_)) => Some(t.as_path()),
            (None, _) => Some(self.checkout.as_path()),
            (Some(_), None) => None,
        };
        // The CI copy is no place for users to put data: name it only when it is all.
        let mut tried: Vec<String> = candidates
            .iter()
            .filter(|(o, _)| *o != Origin::Checkout)
            .map(|(_, d)| d.display().to_string())
            .collect();
        if tried.is_empty() {
            tried.push(self.checkout.display().to_string());
        }
        Err(DataError::NotFound {
            name: display_name(kind),
            tried: tried.join(", "),
            download: mib(Archive::official(kind).size),
            command: fetch_command(kind, dir_arg),
            subdir: kind.subdir(),
        })
    }

    /// [`find`](Self::find), and when nothing is found and `auto` allows it, fetch
    /// `archive` into the fetch folder (saying so, with its size) and use that.
    pub fn find_or_fetch(
        &self,
        flag: Option<&Path>,
        stored: Option<&Path>,
        archive: &Archive,
        auto: bool,
        opts: &FetchOptions,
    ) -> Result<PathBuf, DataError> {
        let not_found = match self.find(flag, stored, archive.kind) {
            Ok(dir) => return Ok(dir),
            Err(e) => e,
        };
        let Some(dir) = self.fetch_dir(flag).filter(|_| auto) else {
            return Err(not_found);
        };
        eprintln!(
            "no {} data found; fetching {} ({} bytes, {}) into {} ({ENV_FETCH}=0 turns this off)",
            display_name(archive.kind),
            archive.file_name,
            archive.size,
            mib(archive.size),
            dir.display()
        );
        fetch::fetch(archive, &dir, opts)?;
        Ok(dir)
    }
}

/// `$XDG_CACHE_HOME/whittle` (when absolute), else `$HOME/.cache/whittle`.
pub fn cache_dir(xdg_cache_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    xdg_cache_home
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".cache")))
        .map(|c| c.join("whittle"))
}

/// Whether every data file of `kind` (`.bin` or `.bin.gz`) is under `base`.
pub fn has_data(base: &Path, kind: DatasetKind) -> bool {
    let dir = locate(base, kind);
    let layout = kind.layout();
    layout
        .train
        .iter()
        .chain(&layout.test)
        .all(|(stem, _)| find_file(&dir, stem).is_ok())
}

/// Whether commands may fetch missing data: `WHITTLE_FETCH=1` yes, `=0` no, else `default`.
pub fn auto_fetch(default: bool) -> bool {
    match std::env::var(ENV_FETCH).as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => default,
    }
}

/// The data folder of `kind` for a command: the lookup order from the environment, fetching
/// the official archive (or its `WHITTLE_DATA_URL` mirror) when [`auto_fetch`] allows.
pub fn data_dir(
    flag: Option<&Path>,
    stored: Option<&Path>,
    kind: DatasetKind,
    fetch_by_default: bool,
) -> Result<PathBuf, DataError> {
    Lookup::from_env().find_or_fetch(
        flag,
        stored,
        &Archive::official(kind).with_env_url(),
        auto_fetch(fetch_by_default),
        &FetchOptions::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cifar::tests::records;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A complete (tiny) CIFAR-10 folder under `base`.
    fn fill(base: &Path) {
        let dir = base.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let layout = DatasetKind::Cifar10.layout();
        for (stem, _) in layout.train.iter().chain(&layout.test) {
            let bytes = records(DatasetKind::Cifar10, 1, |_| 0);
            std::fs::write(dir.join(format!("{stem}.bin")), bytes)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    fn lookup(root: &Path) -> Lookup {
        Lookup {
            env_data: None,
            cache: Some(root.join("cache/whittle")),
            checkout: root.join("ci"),
        }
    }

    #[test]
    fn cache_dir_prefers_an_absolute_xdg_cache_home() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            cache_dir(p("/x/cache"), p("/home/u")),
            p("/x/cache/whittle")
        );
        assert_eq!(
            cache_dir(p("rel"), p("/home/u")),
            p("/home/u/.cache/whittle")
        );
        assert_eq!(cache_dir(None, p("/home/u")), p("/home/u/.cache/whittle"));
        assert_eq!(cache_dir(None, None), None);
    }

    #[test]
    fn the_order_is_run_then_cache_then_checkout() {
        let root = tmp();
        let l = lookup(root.path());
        let run = root.path().join("run-data");
        fill(&l.checkout);
        let find = |stored: Option<&Path>| l.find(None, stored, DatasetKind::Cifar10);
        assert_eq!(find(Some(&run)).ok(), Some(l.checkout.clone()));
        fill(l.cache.as_deref().unwrap_or_else(|| panic!("cache")));
        assert_eq!(find(Some(&run)).ok(), l.cache);
        fill(&run);
        assert_eq!(find(Some(&run)).ok(), Some(run.clone()));
        // The dataset folder itself is accepted too.
        let inner = run.join("cifar-10-batches-bin");
        assert_eq!(find(Some(&inner)).ok(), Some(inner));
    }

    #[test]
    fn an_explicit_folder_without_data_is_an_error_naming_the_fetch_command() {
        let root = tmp();
        let mut l = lookup(root.path());
        fill(&l.checkout); // present, but an explicit choice never falls back to it
        let flag = root.path().join("mine");
        match l.find(Some(&flag), None, DatasetKind::Cifar10) {
            Err(e @ DataError::NotFound { .. }) => assert_eq!(
                e.to_string(),
                format!(
                    "no CIFAR-10 data found (looked in {0}). Get it, one 162.2 MiB download, \
                     with\n\n    whittle data fetch cifar10 --dir {0}\n\nor pass --data DIR / \
                     set WHITTLE_DATA to a folder holding cifar-10-batches-bin/ \
                     (WHITTLE_FETCH=1 lets this command fetch it itself)",
                    flag.display()
                )
            ),
            other => panic!("expected NotFound, got {other:?}"),
        }
        l.env_data = Some(flag.clone());
        let e = l.find(None, None, DatasetKind::Cifar100).err();
        let msg = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains(&format!("(looked in {}).", flag.display()))
                && msg.contains("\n    whittle data fetch cifar100\n")
                && msg.contains("160.7 MiB"),
            "{msg}"
        );
    }

    #[test]
    fn nothing_anywhere_names_every_folder_and_the_plain_command() {
        let root = tmp();
        let l = lookup(root.path());
        let run = root.path().join("run-data");
        let msg = l
            .find(None, Some(&run), DatasetKind::Cifar10)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let tried = format!(
            "(looked in {}, {})",
            run.display(),
            root.path().join("cache/whittle").display(),
        );
        assert!(msg.contains(&tried), "{msg}");
        assert!(msg.contains("\n    whittle data fetch cifar10\n"), "{msg}");
        // Without a home there is no cache: the command must then name a folder.
        let l = Lookup { cache: None, ..l };
        let msg = l
            .find(None, None, DatasetKind::Cifar10)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.contains(&format!(
                "whittle data fetch cifar10 --dir {}",
                root.path().join("ci").display()
            )),
            "{msg}"
        );
    }

    #[test]
    fn no_auto_fetch_means_no_request() {
        // The archive's URL is a closed loopback port: asking it would fail differently.
        let root = tmp();
        let l = lookup(root.path());
        let archive = Archive::official(DatasetKind::Cifar10).at("http://127.0.0.1:9/x");
        let e = l.find_or_fetch(None, None, &archive, false, &FetchOptions::default());
        assert!(matches!(e, Err(DataError::NotFound { .. })), "{e:?}");
    }
}
