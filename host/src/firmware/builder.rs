//! Builds `firmware/` for one blob, image set and machine: checks that the model fits the
//! chip first (a clear error instead of a linker one), then `cargo build --release`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use whittle_shared::Model;
use whittle_shared::exec;
use whittle_shared::kernels::select::{self, Kernel, KernelSet};

use super::machine::Machine;
use super::target::Target;

/// Flash the firmware's own code and constants take besides the blob, the images and its
/// kernel variants: boot, the blob's header/CRC/metadata decoding, the executor and its
/// plan, the report. Since the default `release` profile builds everything at opt-level `s`
/// (issue 16) this is fitted to the built seed net (19,494 B) and synthetic ResNet-8
/// (29,970 B) under the per-variant sizes below, which were measured with the kernels at
/// opt-level 3 and so bound the smaller `s` code: 10,800 B, about 0.9 and 2.7 KB above
/// them. The `size` profile (`--opt-size`, `z`) builds less, so the estimate bounds it too.
/// [`code_flash_estimate`] adds the variants a blob runs.
pub const CODE_BASE_ESTIMATE: u64 = 10_800;

/// Flash that kernel variant `k` adds to the firmware, measured on thumbv7em in the
/// `release` profile when it built the kernels at opt-level 3 (differences between firmwares built for the seed nets and the ResNet-8
/// topology, and the variants' symbols; rounded up). A band variant is one asm block; the
/// band path's body is [`BAND_BODY_ESTIMATE`], counted once.
pub const fn kernel_flash_estimate(k: Kernel) -> u64 {
    match k {
        Kernel::ConvBand { groups: 1, .. } => 720,
        Kernel::ConvBand { .. } => 600,
        Kernel::ConvIm2col => 12_400,
        Kernel::ConvAdd => 6_600,
        Kernel::ConvAddBand => 9_400,
        // Its row loop (426 B), the filter asm it shares with im2col (1,356 B), its planning
        // (372 B) and its dispatch arm (~260 B): 2,414 B in the synthetic ResNet-8's build.
        Kernel::ConvPointwise => 2_500,
        // The fused row loop (514 B) and its scratch layout (~620 B), the add's element loop
        // then out of line: the imported ResNet-8's build is 1,052 B above the synthetic's.
        Kernel::ConvAddPointwise => 1_200,
        Kernel::Dense => 2_400,
        Kernel::MaxPool => 2_300,
        Kernel::AvgPool => 800,
        // Not in the measured blobs: from their symbols' sizes, rounded up.
        Kernel::Add => 6_000,
        Kernel::GlobalAvgPool => 800,
        Kernel::Relu => 400,
        // Buffers shorter than the geometry: never planned for a validated blob.
        Kernel::ConvReference => 2_500,
        Kernel::DenseReference => 1_000,
    }
}

/// The band path's code shared by its variants (ring fill, block loop, requantization
/// table): counted once when a blob runs any band variant.
pub const BAND_BODY_ESTIMATE: u64 = 2_400;

/// Flash of a firmware's code and constants built with the kernel variants `kernels`: an
/// upper bound within a few KB (tests/tests/kslim.rs checks it on real builds).
pub fn code_flash_estimate(kernels: KernelSet) -> u64 {
    let band = kernels.iter().any(|k| matches!(k, Kernel::ConvBand { .. }));
    CODE_BASE_ESTIMATE
        + band as u64 * BAND_BODY_ESTIMATE
        + kernels.iter().map(kernel_flash_estimate).sum::<u64>()
}

/// The code estimate of a firmware built with every variant (a blob whose variants are not
/// known): [`code_flash_estimate`] of [`KernelSet::ALL`].
pub const CODE_FLASH_ESTIMATE: u64 = {
    let mut total = CODE_BASE_ESTIMATE + BAND_BODY_ESTIMATE;
    let mut i = 0;
    while i < select::SLOTS {
        if let Some(k) = Kernel::from_index(i) {
            total += kernel_flash_estimate(k);
        }
        i += 1;
    }
    total
};

/// The code estimate for `blob`'s firmware: [`code_flash_estimate`] of the variants it
/// runs ([`exec::needed`]), or [`CODE_FLASH_ESTIMATE`] when it cannot be planned.
pub fn blob_code_estimate(blob: Option<&Model>) -> u64 {
    blob.and_then(|m| exec::needed(m).ok())
        .map_or(CODE_FLASH_ESTIMATE, code_flash_estimate)
}

/// RAM the firmware needs besides the model's buffer: statics plus a stack reserve
/// (measured peak ~2–3 KiB).
pub const RAM_OVERHEAD_ESTIMATE: u64 = 8 * 1024;
/// Flash for reading streamed images over semihosting instead of baking them in
/// (`WHITTLE_STREAM=1`; measured 605 B on thumbv7em, rounded up).
pub const STREAM_FLASH_ESTIMATE: u64 = 2 * 1024;

/// Why the firmware could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The model is too large for the machine's chip, or the chip named (found before
    /// building): who has too little, how much is needed and how much is missing.
    #[error("the model needs {need} {what}; {holder} has {have} ({detail}): {short} short",
        need = human(*.need), have = human(*.have), short = human(.need.saturating_sub(*.have)))]
    DoesNotFit {
        /// The chip's part number when named with `--chip`, else the machine.
        holder: String,
        detail: String,
        what: &'static str,
        need: u64,
        have: u64,
    },
    /// The firmware crate is not where it is expected.
    #[error("firmware crate not found at {0} (set WHITTLE_FIRMWARE_DIR)")]
    NoFirmware(String),
    /// cargo could not be started or the lock file not taken.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// cargo failed; the linker's "will not fit in region" lands here too.
    #[error("firmware build for {machine} failed ({status}):\n{stderr}")]
    Cargo {
        machine: Machine,
        status: String,
        stderr: String,
    },
}

/// `bytes` as "1.3 MiB", "512 KiB" or "900 B".
pub fn human(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        let v = b / (KIB * KIB);
        if v.fract() == 0.0 {
            format!("{v} MiB")
        } else {
            format!("{v:.1} MiB")
        }
    } else if b >= KIB {
        let v = b / KIB;
        if v.fract() == 0.0 {
            format!("{v} KiB")
        } else {
            format!("{v:.1} KiB")
        }
    } else {
        format!("{bytes} B")
    }
}

/// Checks before building that a blob of `blob_bytes` needing `model_ram_bytes` of RAM,
/// plus `images_bytes` of baked-in test images (0 when streamed) and `code_bytes` of code
/// ([`blob_code_estimate`]), fits `target`'s chip (stack estimated).
pub fn check_fit(
    target: &Target,
    blob_bytes: u64,
    model_ram_bytes: u64,
    images_bytes: u64,
    code_bytes: u64,
) -> Result<(), BuildError> {
    let chip = target.chip;
    let misfit = |what, need, have| BuildError::DoesNotFit {
        holder: target.holder(),
        detail: target.detail(),
        what,
        need,
        have,
    };
    let flash = blob_bytes + images_bytes + code_bytes;
    if flash > chip.flash_bytes {
        return Err(misfit("flash", flash, chip.flash_bytes));
    }
    let ram = model_ram_bytes + RAM_OVERHEAD_ESTIMATE;
    if ram > chip.ram_bytes {
        return Err(misfit("RAM", ram, chip.ram_bytes));
    }
    Ok(())
}

/// The firmware crate: `WHITTLE_FIRMWARE_DIR`; else `firmware/` in the current directory
/// or one above it (a checkout); else `firmware/` beside the sources this was built from.
pub fn firmware_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WHITTLE_FIRMWARE_DIR") {
        return PathBuf::from(d);
    }
    let is_firmware = |d: &Path| {
        std::fs::read_to_string(d.join("Cargo.toml"))
            .is_ok_and(|t| t.contains("name = \"whittle-firmware\""))
    };
    if let Ok(cwd) = std::env::current_dir()
        && let Some(d) = cwd
            .ancestors()
            .map(|a| a.join("firmware"))
            .find(|d| is_firmware(d))
    {
        return d;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("firmware")
}

/// What to build (the machine's own memory.x, baked-in images; [`build_with`] for more).
#[derive(Debug, Clone)]
pub struct BuildRequest<'a> {
    pub firmware_dir: &'a Path,
    pub machine: Machine,
    /// The blob file (`WHITTLE_BLOB`).
    pub blob: &'a Path,
    /// The images file (`WHITTLE_IMAGES`).
    pub images: &'a Path,
    /// Where to copy the built ELF (the build folder is shared by all builds).
    pub out_elf: &'a Path,
}

/// Environment a parent cargo (e.g. `cargo test`) leaves that must not reach the
/// firmware build: host target dirs, host rustflags, its jobserver.
const SCRUB: [&str; 9] = [
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
];

/// A `--config` value adding `--remap-path-prefix` for the checkout (the firmware crate's
/// parent) and cargo's home to the firmware's rustflags (cargo joins it to the array in
/// `firmware/.cargo/config.toml`): panic locations then read `/whittle/shared/src/…`, so the
/// ELF — its flash size included — does not depend on where the repository is checked out.
fn remap_flags(firmware_dir: &Path, rust_target: &str) -> String {
    // Canonical, as cargo passes the path dependency `../shared` to rustc.
    let dir = std::fs::canonicalize(firmware_dir).unwrap_or_else(|_| absolute(firmware_dir));
    let root = dir.parent().map_or_else(|| dir.clone(), Path::to_path_buf);
    let mut prefixes = vec![(root, "/whittle")];
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        prefixes.push((home, "/cargo"));
    }
    let flags: Vec<String> = prefixes
        .iter()
        .map(|(from, to)| {
            let from = from
                .display()
                .to_string()
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            format!("\"--remap-path-prefix={from}={to}\"")
        })
        .collect();
    format!("target.{rust_target}.rustflags=[{}]", flags.join(", "))
}

/// How a build departs from the machine's defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    /// A memory.x to link with instead of `firmware/memory/<machine>.x` (a named chip).
    pub memory_x: Option<&'a Path>,
    /// Read the images at run time over semihosting (`WHITTLE_STREAM=1`); `req.images`
    /// must then hold none.
    pub stream: bool,
    /// Build the firmware's `size` profile (opt-level `z`) instead of `release` (`s`).
    pub opt_size: bool,
}

/// [`build_with`] the machine's defaults.
pub fn build(req: &BuildRequest) -> Result<(), BuildError> {
    build_with(req, &BuildOptions::default())
}

/// Runs `cargo build --profile release|size --target <triple> --features <machine>` in the firmware crate
/// (its own `target/`), holding a lock so concurrent builds do not overwrite each other's
/// ELF, and copies the result to `req.out_elf`.
pub fn build_with(req: &BuildRequest, opts: &BuildOptions) -> Result<(), BuildError> {
    let dir = req.firmware_dir;
    if !dir.join("Cargo.toml").is_file() {
        return Err(BuildError::NoFirmware(dir.display().to_string()));
    }
    let target = dir.join("target");
    let io = |what: String| move |source| BuildError::Io { what, source };
    std::fs::create_dir_all(&target).map_err(io(format!("creating {}", target.display())))?;
    let lock_path = target.join("whittle-build.lock");
    let lock = File::create(&lock_path).map_err(io(format!("opening {}", lock_path.display())))?;
    lock.lock()
        .map_err(io(format!("locking {}", lock_path.display())))?;

    let rust_target = req.machine.info().target;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    let profile = if opts.opt_size { "size" } else { "release" };
    cmd.current_dir(dir)
        .args([
            "build",
            "--profile",
            profile,
            "--target",
            rust_target,
            "--features",
            req.machine.feature(),
            "--target-dir",
        ])
        .arg(&target)
        .args(["--config", &remap_flags(dir, rust_target)])
        .env("WHITTLE_BLOB", absolute(req.blob))
        .env("WHITTLE_IMAGES", absolute(req.images))
        .env("WHITTLE_STREAM", if opts.stream { "1" } else { "0" })
        .env("DEFMT_LOG", "info");
    for v in SCRUB {
        cmd.env_remove(v);
    }
    match opts.memory_x {
        Some(m) => cmd.env("WHITTLE_MEMORY_X", absolute(m)),
        None => cmd.env_remove("WHITTLE_MEMORY_X"),
    };
    let out = cmd.output().map_err(io("running cargo".into()))?;
    if !out.status.success() {
        return Err(BuildError::Cargo {
            machine: req.machine,
            status: out.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&out.stderr), 40),
        });
    }
    let elf = target
        .join(rust_target)
        .join(profile)
        .join("whittle-firmware");
    std::fs::copy(&elf, req.out_elf).map_err(io(format!("copying {}", elf.display())))?;
    drop(lock);
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The last `n` lines of `s`.
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: u64 = CODE_FLASH_ESTIMATE;

    #[test]
    fn too_big_a_model_is_refused_with_sizes_and_shortfall() {
        let t = Target::machine(Machine::Netduinoplus2);
        let e = check_fit(&t, 1_300_000, 40_000, 0, 60 * 1024).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the model needs 1.3 MiB flash; netduinoplus2 has 1 MiB (STM32F405RG, Cortex-M4F): 305.5 KiB short"
        );
        let t = Target::machine(Machine::Mps2An386);
        let e = check_fit(&t, 100_000, 200_000, 0, C).unwrap_err();
        assert!(e.to_string().contains("RAM; mps2-an386 has 128 KiB"), "{e}");
        assert!(check_fit(&t, 121_056, 45_072, 30_730, C).is_ok());
        let t = Target::chip("nRF52840", None).unwrap();
        let e = check_fit(&t, 100_000, 300_000, 0, C).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the model needs 301.0 KiB RAM; nRF52840 has 256 KiB (Cortex-M4F, on QEMU mps2-an386): 45.0 KiB short"
        );
        assert_eq!(human(900), "900 B");
    }

    #[test]
    fn the_code_estimate_adds_the_variants_a_blob_runs() {
        let band = |groups| Kernel::ConvBand {
            groups,
            relu: true,
            stride2: false,
        };
        // The seed net's variants.
        let seed = [
            Kernel::Dense,
            Kernel::MaxPool,
            band(1),
            band(4),
            band(6),
            band(8),
        ]
        .into_iter()
        .fold(KernelSet::EMPTY, KernelSet::with);
        assert_eq!(
            code_flash_estimate(seed),
            10_800 + 2_400 + 2_400 + 2_300 + 720 + 3 * 600
        );
        assert_eq!(code_flash_estimate(KernelSet::EMPTY), CODE_BASE_ESTIMATE);
        assert_eq!(code_flash_estimate(KernelSet::ALL), CODE_FLASH_ESTIMATE);
        // Without a band variant the band body is not counted.
        let dense = KernelSet::EMPTY.with(Kernel::Dense);
        assert_eq!(code_flash_estimate(dense), CODE_BASE_ESTIMATE + 2_400);
        // A blob that cannot be planned is charged every variant.
        assert_eq!(blob_code_estimate(None), CODE_FLASH_ESTIMATE);
    }
}
