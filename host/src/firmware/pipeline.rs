//! `whittle run` end to end: fit check, firmware build, QEMU run, defmt decode, report
//! parse, ELF sizes, host simulation and the per-image comparison, as one [`RunReport`].

use std::path::PathBuf;
use std::time::Duration;

use whittle_shared::encode::AlignedBytes;
use whittle_shared::{Model, cost};

use super::builder::{self, BuildError, BuildRequest};
use super::elf::{self, ElfError};
use super::images::{self, ImagesError, LabeledImage};
use super::machine::Machine;
use super::qemu::{self, QemuError};
use super::report::{self, FirmwareReport, ReportError};
use super::simulate::{self, SimResult};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub machine: Machine,
    /// QEMU is killed after this long.
    pub timeout: Duration,
    /// The firmware crate (default: [`builder::firmware_dir`]).
    pub firmware_dir: PathBuf,
}

impl RunOptions {
    /// Defaults for `machine`: 10-minute timeout, the firmware beside this crate.
    pub fn new(machine: Machine) -> Self {
        RunOptions {
            machine,
            timeout: Duration::from_secs(600),
            firmware_dir: builder::firmware_dir(),
        }
    }
}

/// Why a run produced no report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Images(#[from] ImagesError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Qemu(#[from] QemuError),
    #[error(transparent)]
    Elf(#[from] ElfError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("temporary files: {0}")]
    Io(#[from] std::io::Error),
    /// The firmware validated the blob, found it malformed and exited non-zero.
    #[error("firmware on {machine} rejected the blob: FormatError {error} (exit status {status:?}){host}",
        host = host_error.as_ref().map(|e| format!("; the host says: {e}")).unwrap_or_default())]
    Rejected {
        machine: Machine,
        error: String,
        status: Option<i32>,
        host_error: Option<whittle_shared::Error>,
    },
    /// The firmware accepted a blob the host validator refuses (they share the code, so
    /// this is a bug).
    #[error("the host rejects the blob ({0}) but the firmware ran it")]
    HostOnlyRejects(whittle_shared::Error),
    /// QEMU timed out, crashed or the firmware failed without a format error.
    #[error("firmware on {machine} failed (exit status {status:?}{timeout}); log:\n{log}",
        timeout = if *timed_out { ", timed out" } else { "" })]
    Failed {
        machine: Machine,
        status: Option<i32>,
        timed_out: bool,
        log: String,
    },
}

/// One image: firmware and host results side by side.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageResult {
    pub index: u64,
    pub label: u8,
    pub pred: u32,
    /// CRC-32 of the firmware's output vector, as hex.
    pub crc: String,
    pub host_pred: u32,
    pub host_crc: String,
    /// Firmware and host agree on class and checksum.
    pub matches: bool,
    pub instructions: u64,
}

/// One op: mean instructions per inference and the MACs it does.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerResult {
    pub index: u64,
    pub op: String,
    pub instructions: u64,
    pub macs: u64,
    /// `None` for ops without MACs.
    pub instructions_per_mac: Option<f64>,
}

/// Everything `whittle run` reports (the JSON it writes).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunReport {
    pub machine: Machine,
    pub chip: &'static str,
    pub images: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub params: u64,
    pub macs: u64,
    /// Mean over the images; instructions executed (QEMU -icount), not CPU cycles.
    pub instructions_per_inference: u64,
    pub instructions_per_mac: f64,
    /// The table's factor used to turn SysTick ticks into instructions.
    pub instructions_per_tick: f64,
    /// The same factor measured on a loop of known length (a check on the table).
    pub calib_instructions_per_tick: f64,
    pub validate_instructions: u64,
    /// text + rodata + data of the ELF, without the baked-in test images.
    pub flash_bytes: u64,
    pub text_bytes: u64,
    pub rodata_bytes: u64,
    pub data_bytes: u64,
    pub blob_bytes: u64,
    pub test_images_bytes: u64,
    /// data + bss of the ELF (the model's arena and scratch included).
    pub static_ram_bytes: u64,
    pub stack_peak_bytes: u64,
    pub stack_size_bytes: u64,
    /// The blob's activation arena.
    pub arena_bytes: u64,
    pub scratch_bytes: u64,
    /// arena + scratch: the firmware's model buffer.
    pub model_ram_bytes: u64,
    /// Every image's class and checksum equal the host simulation's.
    pub host_matches: bool,
    pub mismatches: usize,
    pub per_image: Vec<ImageResult>,
    pub per_layer: Vec<LayerResult>,
    /// Seconds QEMU ran (wall clock, not a performance figure).
    pub qemu_wall_s: f64,
}

/// Builds the firmware for `blob` and `images`, runs it, and compares with the host.
pub fn run(blob: &[u8], images: &[LabeledImage], opts: &RunOptions) -> Result<RunReport, RunError> {
    let aligned = AlignedBytes::new(blob);
    let host_model = Model::from_bytes(&aligned);
    let images_file = images::encode(images)?;
    let model_ram = host_model.as_ref().map_or(0, |m| m.ram_bytes() as u64);
    builder::check_fit(
        opts.machine,
        blob.len() as u64,
        model_ram,
        images_file.len() as u64,
    )?;

    let work = tempfile::tempdir()?;
    let (blob_path, images_path, elf_path) = (
        work.path().join("model.whittle"),
        work.path().join("images.wimg"),
        work.path().join("whittle-firmware.elf"),
    );
    std::fs::write(&blob_path, blob)?;
    std::fs::write(&images_path, &images_file)?;
    builder::build(&BuildRequest {
        firmware_dir: &opts.firmware_dir,
        machine: opts.machine,
        blob: &blob_path,
        images: &images_path,
        out_elf: &elf_path,
    })?;
    qemu::check_tools()?;
    let run = qemu::run(opts.machine, &elf_path, opts.timeout)?;
    let log = qemu::decode(&elf_path, &run.frames)?;
    let fw = report::parse(&log)?;

    if let Some(error) = fw.format_error.clone() {
        return Err(RunError::Rejected {
            machine: opts.machine,
            error,
            status: run.status,
            host_error: host_model.err(),
        });
    }
    let failed = || RunError::Failed {
        machine: opts.machine,
        status: run.status,
        timed_out: run.timed_out,
        log: format!("{log}{}", run.stderr),
    };
    if run.status != Some(0) || !fw.done || fw.images.len() != images.len() {
        return Err(failed());
    }
    let model = host_model.map_err(RunError::HostOnlyRejects)?;
    let host = simulate::simulate(blob, images).map_err(RunError::HostOnlyRejects)?;
    let sizes = elf::sizes(&elf_path)?;
    Ok(assemble(opts.machine, &model, &fw, &host, &sizes, run.wall))
}

fn assemble(
    machine: Machine,
    model: &Model,
    fw: &FirmwareReport,
    host: &[SimResult],
    sizes: &elf::ElfSizes,
    wall: Duration,
) -> RunReport {
    let info = machine.info();
    let totals = cost::totals(model).unwrap_or_default();
    let n = fw.images.len();
    let per_image: Vec<ImageResult> = fw
        .images
        .iter()
        .zip(host)
        .map(|(f, h)| ImageResult {
            index: f.index,
            label: f.label,
            pred: f.pred,
            crc: format!("{:08x}", f.crc),
            host_pred: h.pred,
            host_crc: format!("{:08x}", h.crc),
            matches: f.pred == h.pred && f.crc == h.crc,
            instructions: info.instructions(f.ticks),
        })
        .collect();
    let mismatches = per_image.iter().filter(|i| !i.matches).count();
    let correct = fw
        .images
        .iter()
        .filter(|i| i.pred == i.label as u32)
        .count();
    let total_ticks: u64 = fw.images.iter().map(|i| i.ticks).sum();
    let per_inf = info.instructions(total_ticks) / n.max(1) as u64;
    let per_layer = fw
        .layers
        .iter()
        .zip(model.ops())
        .map(|(l, op)| {
            let macs = op
                .and_then(|op| cost::layer_cost(model, &op))
                .map_or(0, |c| c.macs);
            let instructions = info.instructions(l.ticks) / n.max(1) as u64;
            LayerResult {
                index: l.index,
                op: l.op.clone(),
                instructions,
                macs,
                instructions_per_mac: (macs > 0).then(|| instructions as f64 / macs as f64),
            }
        })
        .collect();
    let fw_model = fw.model.unwrap_or_default();
    RunReport {
        machine,
        chip: info.chip,
        images: n,
        correct,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f64 / n as f64
        },
        params: totals.params,
        macs: totals.macs,
        instructions_per_inference: per_inf,
        instructions_per_mac: if totals.macs == 0 {
            0.0
        } else {
            per_inf as f64 / totals.macs as f64
        },
        instructions_per_tick: info.instructions_per_tick(),
        calib_instructions_per_tick: fw.calib_instructions as f64 / fw.calib_ticks.max(1) as f64,
        validate_instructions: info.instructions(fw_model.validate_ticks),
        flash_bytes: sizes.flash_bytes(),
        text_bytes: sizes.text_bytes,
        rodata_bytes: sizes.rodata_bytes,
        data_bytes: sizes.data_bytes,
        blob_bytes: sizes.blob_bytes,
        test_images_bytes: sizes.images_bytes,
        static_ram_bytes: sizes.static_ram_bytes(),
        stack_peak_bytes: fw.stack_peak_bytes.unwrap_or(0),
        stack_size_bytes: fw.stack_size_bytes.unwrap_or(0),
        arena_bytes: fw_model.arena_bytes,
        scratch_bytes: fw_model.scratch_bytes,
        model_ram_bytes: fw_model.ram_bytes,
        host_matches: mismatches == 0,
        mismatches,
        per_image,
        per_layer,
        qemu_wall_s: wall.as_secs_f64(),
    }
}
