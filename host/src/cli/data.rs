//! `whittle data fetch|verify`: download and check CIFAR-10/100; and the one call every
//! other command makes to find (or, when allowed, fetch) its data folder.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};

use whittle::data::DatasetKind;
use whittle::data::cifar::{find_file, locate as dataset_folder};
use whittle::data::fetch::{self, Archive, FetchOptions, Fetched};
use whittle::data::locate::{self, Lookup};
use whittle::data::verify;
use whittle::train::RunDir;

/// Arguments of `whittle data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Download the dataset authors' binary archive (resuming an interrupted download),
    /// check its size and MD5, and unpack its expected members. Does nothing when the data
    /// is already there and passes its checks; uses an archive already in the folder.
    Fetch(FetchArgs),
    /// Check every data file's size and record structure (and, for CIFAR-10, the known MD5
    /// of each extracted file); names what is wrong, exit status 1 if anything is.
    Verify(VerifyArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DatasetArg {
    Cifar10,
    Cifar100,
}

impl From<DatasetArg> for DatasetKind {
    fn from(d: DatasetArg) -> Self {
        match d {
            DatasetArg::Cifar10 => DatasetKind::Cifar10,
            DatasetArg::Cifar100 => DatasetKind::Cifar100,
        }
    }
}

#[derive(Debug, Args)]
struct FetchArgs {
    /// Which dataset.
    #[arg(value_enum)]
    dataset: DatasetArg,
    /// Folder to unpack into (default: WHITTLE_DATA, else $XDG_CACHE_HOME/whittle or
    /// ~/.cache/whittle, where every command looks).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The archive's URL (a mirror of the same file; default: the dataset authors' site, or
    /// the folder URL in WHITTLE_DATA_URL).
    #[arg(long)]
    url: Option<String>,
    /// Keep the downloaded archive next to the unpacked folder.
    #[arg(long)]
    keep_archive: bool,
    /// No progress bar or messages.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Which dataset (default: every one found in the folder).
    #[arg(value_enum)]
    dataset: Option<DatasetArg>,
    /// The data folder (default: the first folder of the lookup order that holds data).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Run `whittle data`.
pub fn run(a: DataArgs) -> anyhow::Result<()> {
    match a.command {
        DataCommand::Fetch(f) => run_fetch(f),
        DataCommand::Verify(v) => run_verify(v),
    }
}

fn run_fetch(a: FetchArgs) -> anyhow::Result<()> {
    let kind = DatasetKind::from(a.dataset);
    let lookup = Lookup::from_env();
    let Some(dir) = lookup.fetch_dir(a.dir.as_deref()) else {
        bail!("no home or cache directory is known: pass --dir DIR");
    };
    let archive = match &a.url {
        Some(url) => Archive::official(kind).at(url),
        None => Archive::official(kind).with_env_url(),
    };
    let opts = FetchOptions {
        progress: !a.quiet,
        keep_archive: a.keep_archive,
        ..FetchOptions::default()
    };
    let done = fetch::fetch(&archive, &dir, &opts)?;
    if !a.quiet {
        if let Fetched::Downloaded {
            resumed_from,
            requests,
        } = done
            && resumed_from > 0
        {
            eprintln!("(resumed from byte {resumed_from}; {requests} request(s))");
        }
        if lookup.fetch_dir(None).as_deref() != Some(dir.as_path()) {
            eprintln!(
                "commands find it with --data {} (or WHITTLE_DATA={0})",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Whether any data file of `kind` is under `base`.
fn any_data(base: &Path, kind: DatasetKind) -> bool {
    let dir = dataset_folder(base, kind);
    verify::expected_files(kind)
        .iter()
        .any(|e| find_file(&dir, &e.stem).is_ok())
}

fn run_verify(a: VerifyArgs) -> anyhow::Result<()> {
    let lookup = Lookup::from_env();
    let kinds: Vec<DatasetKind> = match a.dataset {
        Some(d) => vec![d.into()],
        None => vec![DatasetKind::Cifar10, DatasetKind::Cifar100],
    };
    let candidates = lookup.candidates(a.dir.as_deref(), None);
    let found = candidates
        .iter()
        .find(|(_, d)| kinds.iter().any(|&k| any_data(d, k)));
    let Some((_, dir)) = found else {
        // Nothing anywhere: the lookup's own error names the folders and the fetch command.
        lookup.find(a.dir.as_deref(), None, kinds[0])?;
        bail!("no data found");
    };
    let mut failed = 0usize;
    for kind in kinds.into_iter().filter(|&k| any_data(dir, k)) {
        println!(
            "{} in {}",
            fetch::display_name(kind),
            dataset_folder(dir, kind).display()
        );
        let checks = verify::check_dataset(dir, kind, &verify::expected_files(kind));
        for c in &checks {
            println!("  {c}");
        }
        if kind == DatasetKind::Cifar100 {
            println!(
                "  (no published checksums of the extracted CIFAR-100 files: size and records only)"
            );
        }
        failed += checks.iter().filter(|c| !c.ok()).count();
    }
    if failed > 0 {
        bail!("{failed} file(s) failed the checks");
    }
    println!("all checks passed");
    Ok(())
}

/// The data folder of `kind` for a command: `--data`, `WHITTLE_DATA`, a run's `stored`
/// folder, the per-user cache, the CI copy; fetched first when `WHITTLE_FETCH=1`.
pub(crate) fn data_dir(
    flag: Option<&Path>,
    stored: Option<&Path>,
    kind: DatasetKind,
) -> anyhow::Result<PathBuf> {
    Ok(locate::data_dir(flag, stored, kind, false)?)
}

/// [`data_dir`] for a command on a trained run: its `train.json` names the dataset and the
/// folder it was trained from.
pub(crate) fn run_data_dir(flag: Option<&Path>, run: &Path) -> anyhow::Result<PathBuf> {
    let config = RunDir::new(run).config()?;
    data_dir(flag, config.data_dir.as_deref(), config.dataset)
}
