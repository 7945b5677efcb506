//! Bakes the model into the firmware: picks the machine's memory.x (or `WHITTLE_MEMORY_X`) and
//! log transport, reads the blob (`WHITTLE_BLOB`) and test images (`WHITTLE_IMAGES`, or
//! `WHITTLE_STREAM=1`: read at run time over semihosting) and generates `model.rs`, with the
//! set of kernel variants the blob runs (the executor compiles in no other).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;
use whittle_shared::kernels::select::KernelSet;

/// Machines selectable by cargo feature; the first is the default.
const MACHINES: [&str; 5] = [
    "mps2-an386",
    "mps2-an500",
    "netduinoplus2",
    "mps2-an505",
    "stm32f4-board",
];

/// Header of a `WHITTLE_IMAGES` file (see docs/FIRMWARE.md): magic, version, reserved,
/// image count, bytes per image; then count × (label byte, image bytes).
const IMAGES_MAGIC: &[u8; 4] = b"WIMG";
const IMAGES_HEADER: usize = 16;

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn machine() -> &'static str {
    let on: Vec<&str> = MACHINES
        .iter()
        .copied()
        .filter(|m| {
            let var = format!("CARGO_FEATURE_{}", m.to_uppercase().replace('-', "_"));
            env::var_os(var).is_some()
        })
        .collect();
    match on.as_slice() {
        [] => MACHINES[0],
        [one] => one,
        many => fail(&format!(
            "features {} select different machines; enable at most one",
            many.join(", ")
        )),
    }
}

/// What the build needs from the blob: RAM size, op count and the kernel variants it runs
/// (nothing else is compiled in), or why it is invalid.
struct BlobFacts {
    /// `Model::from_bytes` accepted the blob (the firmware then skips those checks).
    valid: bool,
    ram_bytes: usize,
    n_ops: usize,
    input_len: Option<usize>,
    kernels: KernelSet,
}

fn blob_facts(bytes: &[u8]) -> BlobFacts {
    match Model::from_bytes(&AlignedBytes::new(bytes)) {
        Ok(m) => BlobFacts {
            valid: true,
            ram_bytes: m.ram_bytes(),
            n_ops: m.n_ops() as usize,
            input_len: m.input().ok().map(|t| t.shape.len()),
            // A plan that fails is a run-time error the firmware reports; build it without
            // kernels then.
            kernels: whittle_shared::exec::needed(&m).unwrap_or(KernelSet::EMPTY),
        },
        Err(e) => {
            // The firmware validates again at run time and reports this error over defmt
            // (and exits non-zero); build it anyway so that path can be exercised.
            println!(
                "cargo::warning=WHITTLE_BLOB is not a valid blob ({e}); the firmware will report it and exit 1"
            );
            BlobFacts {
                valid: false,
                ram_bytes: 16,
                n_ops: 1,
                input_len: None,
                kernels: KernelSet::EMPTY,
            }
        }
    }
}

/// Checks an images file against the model; returns (count, bytes per image).
fn images_facts(bytes: &[u8], input_len: Option<usize>) -> (usize, usize) {
    if bytes.len() < IMAGES_HEADER || &bytes[..4] != IMAGES_MAGIC {
        fail("WHITTLE_IMAGES is not a whittle images file (magic \"WIMG\")");
    }
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != 1 {
        fail(&format!(
            "WHITTLE_IMAGES has version {version}, this firmware reads 1"
        ));
    }
    let (count, len) = (u32_at(8) as usize, u32_at(12) as usize);
    let want = IMAGES_HEADER + count * (len + 1);
    if bytes.len() != want {
        fail(&format!(
            "WHITTLE_IMAGES has {} bytes, its header ({count} images of {len} bytes) needs {want}",
            bytes.len()
        ));
    }
    if let Some(n) = input_len
        && count > 0
        && n != len
    {
        fail(&format!(
            "WHITTLE_IMAGES holds images of {len} bytes, the model input has {n}"
        ));
    }
    (count, len)
}

fn main() {
    println!("cargo::rerun-if-env-changed=WHITTLE_BLOB");
    println!("cargo::rerun-if-env-changed=WHITTLE_IMAGES");
    println!("cargo::rerun-if-env-changed=WHITTLE_STREAM");
    println!("cargo::rerun-if-env-changed=WHITTLE_MEMORY_X");
    println!("cargo::rerun-if-changed=memory");
    println!("cargo::rustc-check-cfg=cfg(transport, values(\"semihosting\", \"rtt\"))");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR unset")));
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());

    let machine = machine();
    // The host writes its own memory.x when a chip caps the machine (`whittle run --chip`).
    let memory = match env::var_os("WHITTLE_MEMORY_X") {
        Some(p) => absolute(Path::new(&p)),
        None => root.join("memory").join(format!("{machine}.x")),
    };
    println!("cargo::rerun-if-changed={}", memory.display());
    let mem = fs::read(&memory).unwrap_or_else(|e| fail(&format!("{}: {e}", memory.display())));
    fs::write(out.join("memory.x"), mem).unwrap_or_else(|e| fail(&format!("memory.x: {e}")));
    println!("cargo::rustc-link-search={}", out.display());
    // cortex-m-rt's `device` feature: the firmware brings its own (one-entry) interrupt
    // table instead of the 240 (480 on Armv8-M) default entries, and names no handlers.
    fs::write(
        out.join("device.x"),
        "/* no device interrupts are used */\n",
    )
    .unwrap_or_else(|e| fail(&format!("device.x: {e}")));
    let transport = if machine == "stm32f4-board" {
        "rtt"
    } else {
        "semihosting"
    };
    println!("cargo::rustc-cfg=transport=\"{transport}\"");

    // No blob given: the small committed fixture, so a bare `cargo build` works (CI).
    let blob_path = match env::var_os("WHITTLE_BLOB") {
        Some(p) => PathBuf::from(p),
        None => {
            println!("cargo::warning=WHITTLE_BLOB unset; using fixtures/tiny.whittle");
            root.join("fixtures").join("tiny.whittle")
        }
    };
    let blob_path = absolute(&blob_path);
    println!("cargo::rerun-if-changed={}", blob_path.display());
    let blob = fs::read(&blob_path)
        .unwrap_or_else(|e| fail(&format!("WHITTLE_BLOB {}: {e}", blob_path.display())));
    let facts = blob_facts(&blob);

    let images_path = match env::var_os("WHITTLE_IMAGES") {
        Some(p) => absolute(Path::new(&p)),
        None => {
            let p = out.join("no-images.bin");
            let mut empty = Vec::from(*IMAGES_MAGIC);
            empty.extend_from_slice(&[1, 0, 0, 0]);
            empty.extend_from_slice(&[0; 8]);
            fs::write(&p, empty).unwrap_or_else(|e| fail(&format!("{}: {e}", p.display())));
            p
        }
    };
    println!("cargo::rerun-if-changed={}", images_path.display());
    let images = fs::read(&images_path)
        .unwrap_or_else(|e| fail(&format!("WHITTLE_IMAGES {}: {e}", images_path.display())));
    let (count, image_len) = images_facts(&images, facts.input_len);
    let stream = env::var_os("WHITTLE_STREAM").is_some_and(|v| v == "1");
    if stream && (transport != "semihosting" || count > 0) {
        fail("WHITTLE_STREAM=1 needs a QEMU machine (semihosting) and no WHITTLE_IMAGES");
    }

    let mut code = String::new();
    let _ = writeln!(
        code,
        "// Generated by build.rs from {}.",
        blob_path.display()
    );
    let _ = writeln!(code, "pub const MACHINE: &str = {machine:?};");
    let _ = writeln!(code, "pub const RAM_BYTES: usize = {};", facts.ram_bytes);
    let _ = writeln!(code, "pub const N_OPS: usize = {};", facts.n_ops);
    let names: Vec<&str> = facts.kernels.iter().map(|k| k.name()).collect();
    let _ = writeln!(
        code,
        "/// The kernel variants the blob runs: {}.\npub const KERNELS: u128 = {:#x};",
        names.join(", "),
        facts.kernels.0
    );
    let _ = writeln!(code, "pub const BLOB_LEN: usize = {};", blob.len());
    let _ = writeln!(
        code,
        "/// `Model::from_bytes` accepted these very bytes at build time.\npub const BLOB_VALIDATED: bool = {};",
        facts.valid
    );
    let _ = writeln!(code, "pub const N_IMAGES: usize = {count};");
    let _ = writeln!(code, "pub const IMAGE_LEN: usize = {image_len};");
    let _ = writeln!(
        code,
        "#[cfg_attr(not(transport = \"semihosting\"), allow(dead_code))]\npub const STREAM: bool = {stream};"
    );
    let _ = writeln!(
        code,
        "#[cfg_attr(not(transport = \"semihosting\"), allow(dead_code))] // the stream buffer\npub const INPUT_LEN: usize = {};",
        facts.input_len.unwrap_or(0)
    );
    let _ = writeln!(
        code,
        "pub const IMAGES_LEN: usize = {};",
        images.len() - IMAGES_HEADER
    );
    let _ = writeln!(
        code,
        "#[unsafe(no_mangle)]\npub static WHITTLE_BLOB: crate::model::Aligned<[u8; BLOB_LEN]> = crate::model::Aligned(*include_bytes!({:?}));",
        blob_path.display().to_string()
    );
    // The records without their header; `no_mangle` so the host can find (and subtract)
    // their size in the ELF: test images are not part of a deployed model's flash.
    let rec = out.join("images-records.bin");
    fs::write(&rec, &images[IMAGES_HEADER..])
        .unwrap_or_else(|e| fail(&format!("{}: {e}", rec.display())));
    let _ = writeln!(
        code,
        "#[unsafe(no_mangle)]\npub static WHITTLE_IMAGES: [u8; IMAGES_LEN] = *include_bytes!({:?});",
        rec.display().to_string()
    );
    fs::write(out.join("model.rs"), code).unwrap_or_else(|e| fail(&format!("model.rs: {e}")));
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
