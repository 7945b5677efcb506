//! `whittle run` end to end: fit check, firmware build (images baked in or streamed), QEMU
//! run, defmt decode, report parse, ELF sizes, host simulation and the per-image comparison.

use std::path::PathBuf;
use std::time::Duration;

use whittle_shared::encode::AlignedBytes;
use whittle_shared::{Model, cost};

use super::builder::{self, BuildError, BuildOptions, BuildRequest};
use super::chips::Chip;
use super::elf::{self, ElfError};
use super::images::{self, ImagesError, LabeledImage};
use super::machine::Machine;
use super::qemu::{self, QemuError};
use super::report::{self, FirmwareReport, ReportError};
use super::simulate::{self, SimResult};
use super::target::{Target, TargetError};

/// Name of the streamed images file in QEMU's working directory (the firmware opens it).
pub const STREAM_FILE: &str = "whittle-images.wimg";

/// Where the test images go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Streaming {
    /// Baked into flash when they fit beside the model, else streamed.
    #[default]
    Auto,
    /// Always read at run time over semihosting (QEMU machines only).
    Always,
    /// Always baked into flash (the real board; fails when they do not fit).
    Never,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub machine: Machine,
    /// QEMU is killed after this long.
    pub timeout: Duration,
    /// The firmware crate (default: [`builder::firmware_dir`]).
    pub firmware_dir: PathBuf,
    /// A chip to cap the machine at instead of its own (`--chip`); it must have the
    /// machine's core.
    pub chip: Option<&'static Chip>,
    /// Baked or streamed images.
    pub streaming: Streaming,
    /// What the images are, copied into the report (`whittle check` makes them again).
    pub images_source: String,
    /// Build the firmware at opt-level `z` instead of `s` (`--opt-size`).
    pub opt_size: bool,
}

impl RunOptions {
    /// Defaults for `machine`: 10-minute timeout, the firmware beside this crate.
    pub fn new(machine: Machine) -> Self {
        RunOptions {
            machine,
            timeout: Duration::from_secs(600),
            firmware_dir: builder::firmware_dir(),
            chip: None,
            streaming: Streaming::Auto,
            images_source: String::new(),
            opt_size: false,
        }
    }
}

/// Why a run produced no report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Target(#[from] TargetError),
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
    /// Streaming needs semihosting, which only the QEMU machines have.
    #[error("{0} cannot stream images (no semihosting); bake fewer in")]
    NoStreaming(Machine),
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerResult {
    pub index: u64,
    pub op: String,
    pub instructions: u64,
    pub macs: u64,
    /// `None` for ops without MACs.
    pub instructions_per_mac: Option<f64>,
}

/// Everything `whittle run` reports (the JSON it writes, and `whittle check` reads back).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunReport {
    pub machine: Machine,
    /// The chip the build was capped at: "STM32F446RE (Cortex-M4F)".
    pub chip: String,
    /// The chip table's name of it (`--chip` takes it).
    #[serde(default)]
    pub chip_name: String,
    /// The chip's clock, and the mean inference at it at one instruction per cycle.
    #[serde(default)]
    pub chip_clock_hz: u64,
    #[serde(default)]
    pub ms_at_one_per_cycle: f64,
    /// What the images are ("cifar10-test", "synthetic-12345"; empty if not said).
    #[serde(default)]
    pub images_source: String,
    /// CRC-32 of the images file (labels and quantized pixels, as hex): same images, same CRC.
    #[serde(default)]
    pub images_crc: String,
    /// The images were read at run time over semihosting instead of baked into flash.
    #[serde(default)]
    pub streamed: bool,
    pub images: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Correct predictions of the host simulation (equal to `correct` when every image
    /// matches).
    #[serde(default)]
    pub host_correct: usize,
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
    /// Seconds the whole run took: build, QEMU, host simulation (wall clock).
    #[serde(default)]
    pub total_wall_s: f64,
}

/// Builds the firmware for `blob` and `images`, runs it, and compares with the host.
pub fn run(blob: &[u8], images: &[LabeledImage], opts: &RunOptions) -> Result<RunReport, RunError> {
    let started = std::time::Instant::now();
    let target = match opts.chip {
        Some(chip) => Target::of(chip, Some(opts.machine))?,
        None => Target::machine(opts.machine),
    };
    let aligned = AlignedBytes::new(blob);
    let host_model = Model::from_bytes(&aligned);
    let images_file = images::encode(images)?;
    let model_ram = host_model.as_ref().map_or(0, |m| m.ram_bytes() as u64);
    let emulated = opts.machine.info().qemu.is_some();
    let code = builder::blob_code_estimate(host_model.as_ref().ok());
    let fit = |images_bytes| {
        builder::check_fit(&target, blob.len() as u64, model_ram, images_bytes, code)
    };
    let stream = match opts.streaming {
        Streaming::Always => true,
        Streaming::Never => false,
        Streaming::Auto => emulated && fit(images_file.len() as u64).is_err(),
    };
    if stream && !emulated {
        return Err(RunError::NoStreaming(opts.machine));
    }
    fit(if stream {
        builder::STREAM_FLASH_ESTIMATE
    } else {
        images_file.len() as u64
    })?;

    let work = tempfile::tempdir()?;
    let (blob_path, images_path, elf_path) = (
        work.path().join("model.whittle"),
        work.path().join("images.wimg"),
        work.path().join("whittle-firmware.elf"),
    );
    std::fs::write(&blob_path, blob)?;
    if stream {
        std::fs::write(work.path().join(STREAM_FILE), &images_file)?;
        std::fs::write(&images_path, images::encode(&[])?)?;
    } else {
        std::fs::write(&images_path, &images_file)?;
    }
    let memory_x = work.path().join("memory.x");
    if target.named {
        std::fs::write(&memory_x, opts.machine.info().memory_x(target.chip))?;
    }
    builder::build_with(
        &BuildRequest {
            firmware_dir: &opts.firmware_dir,
            machine: opts.machine,
            blob: &blob_path,
            images: &images_path,
            out_elf: &elf_path,
        },
        &BuildOptions {
            memory_x: target.named.then_some(memory_x.as_path()),
            stream,
            opt_size: opts.opt_size,
        },
    )?;
    qemu::check_tools()?;
    let run = qemu::run_in(opts.machine, &elf_path, opts.timeout, Some(work.path()))?;
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
        log: format!("{}{}", tail(&log, 40), run.stderr),
    };
    if run.status != Some(0) || !fw.done || fw.images.len() != images.len() {
        return Err(failed());
    }
    let model = host_model.map_err(RunError::HostOnlyRejects)?;
    let host = simulate::simulate(blob, images).map_err(RunError::HostOnlyRejects)?;
    let sizes = elf::sizes(&elf_path)?;
    let mut r = assemble(&target, &model, &fw, &host, &sizes, run.wall);
    r.streamed = stream;
    r.images_source = opts.images_source.clone();
    r.images_crc = format!("{:08x}", whittle_shared::crc32::crc32(&images_file));
    r.host_correct = host
        .iter()
        .zip(images)
        .filter(|(h, i)| h.pred == i.label as u32)
        .count();
    r.total_wall_s = started.elapsed().as_secs_f64();
    Ok(r)
}

/// The last `n` lines of `s` (a 10,000-image log is too long for an error message).
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let mut t = lines[lines.len().saturating_sub(n)..].join("\n");
    t.push('\n');
    t
}

fn assemble(
    target: &Target,
    model: &Model,
    fw: &FirmwareReport,
    host: &[SimResult],
    sizes: &elf::ElfSizes,
    wall: Duration,
) -> RunReport {
    let machine = target.machine;
    let info = machine.info();
    let chip = target.chip;
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
        chip: format!("{} ({})", chip.part, chip.core),
        chip_name: chip.name.to_string(),
        chip_clock_hz: chip.clock_hz,
        ms_at_one_per_cycle: chip.ms_at_one_per_cycle(per_inf),
        images_source: String::new(),
        images_crc: String::new(),
        streamed: false,
        images: n,
        correct,
        host_correct: 0,
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
        total_wall_s: 0.0,
    }
}
