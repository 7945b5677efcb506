//! The run directory (docs/RUNS.md): `spec.json`, `train.json`, `history.json`, `model.bpk`,
//! `best.bpk`, `checkpoint/`; every file written atomically (tmp + rename).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::TrainConfig;
use super::error::TrainError;
use super::history::History;
use crate::graph::Graph;
use crate::nn::Net;

/// Suffix of files being written (git-ignored; a crash leaves at most these behind).
pub const TMP_SUFFIX: &str = "whittle.tmp";

/// Which weights of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weights {
    /// After the last completed epoch (`model.bpk`).
    #[default]
    Final,
    /// At the best validation accuracy (`best.bpk`).
    Best,
}

/// A run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(TMP_SUFFIX);
    PathBuf::from(s)
}

/// Write `bytes` to `path` so that readers see the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = tmp_path(path);
    {
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))
}

/// Serialize `value` as pretty JSON into `path`, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &bytes)
}

/// Read JSON from `path`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let bytes = fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Save `net`'s weights to `path`, atomically.
pub fn save_net_atomic(net: &Net, path: &Path) -> Result<(), TrainError> {
    let tmp = tmp_path(path);
    net.save(&tmp)?;
    fs::rename(&tmp, path).map_err(io(path))
}

impl RunDir {
    /// The run directory at `root` (not created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Create the directory (and parents).
    pub fn create(&self) -> Result<(), TrainError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `spec.json`: the architecture.
    pub fn spec_path(&self) -> PathBuf {
        self.root.join("spec.json")
    }

    /// `train.json`: the training settings.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("train.json")
    }

    /// `history.json`: per-epoch records.
    pub fn history_path(&self) -> PathBuf {
        self.root.join("history.json")
    }

    /// Weights file of `which`.
    pub fn weights_path(&self, which: Weights) -> PathBuf {
        match which {
            Weights::Final => self.root.join("model.bpk"),
            Weights::Best => self.root.join("best.bpk"),
        }
    }

    /// `checkpoint/`: everything needed to resume.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// The architecture of the run.
    pub fn spec(&self) -> Result<Graph, TrainError> {
        Ok(Graph::load(&self.spec_path())?)
    }

    /// The settings of the run.
    pub fn config(&self) -> Result<TrainConfig, TrainError> {
        read_json(&self.config_path())
    }

    /// The history of the run.
    pub fn history(&self) -> Result<History, TrainError> {
        read_json(&self.history_path())
    }

    /// Load the spec and the chosen weights onto `device` (a plain device for inference).
    pub fn load_model(&self, which: Weights, device: &Device) -> Result<(Graph, Net), TrainError> {
        load_net(&self.spec_path(), &self.weights_path(which), device)
    }
}

/// Read a spec file and the weights file saved with it. A version-1 spec's weights (the
/// sequential layer list whittle wrote before the graph IR) are moved onto the graph's
/// nodes on the way.
pub fn load_net(spec: &Path, weights: &Path, device: &Device) -> Result<(Graph, Net), TrainError> {
    let text = fs::read_to_string(spec).map_err(|source| TrainError::Io {
        path: spec.to_path_buf(),
        source,
    })?;
    let graph = crate::graph::spec::from_json(&text, &spec.display().to_string())?;
    let net = match crate::graph::legacy::layer_nodes(&text) {
        Some(map) => crate::nn::legacy::load(&graph, &map, weights, device)?,
        None => Net::load(&graph, weights, device)?,
    };
    Ok((graph, net))
}

/// Load a trained model from a run directory: its spec and final weights, on `device`.
/// Read weights per node with [`Net::node_tensors`].
pub fn load_model(run_dir: &Path, device: &Device) -> Result<(Graph, Net), TrainError> {
    RunDir::new(run_dir).load_model(Weights::Final, device)
}
