//! Runs the firmware in `qemu-system-arm` (semihosting, `-icount shift=0`) under a timeout
//! and decodes its defmt output with `defmt-print`; says how to install either if missing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::machine::Machine;

/// Why QEMU or the decoder could not produce a log.
#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    /// A tool is missing; the message says how to install it.
    #[error("{tool} not found ({detail}); install it: {install}")]
    Missing {
        tool: String,
        detail: String,
        install: &'static str,
    },
    /// The machine has no QEMU model (the real board runs through probe-rs).
    #[error("{0} has no QEMU model; flash it with `probe-rs run` (docs/FIRMWARE.md)")]
    NotEmulated(Machine),
    /// Starting or talking to a process failed.
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    /// defmt-print failed to decode the frames.
    #[error("defmt-print failed ({status}): {stderr}")]
    Decode { status: String, stderr: String },
}

/// What one QEMU run left behind.
#[derive(Debug, Clone)]
pub struct QemuRun {
    /// QEMU's exit status (the firmware's semihosting exit code); `None` if killed.
    pub status: Option<i32>,
    /// The run hit the timeout and was killed.
    pub timed_out: bool,
    /// Raw defmt frames the firmware wrote to semihosting stdout.
    pub frames: Vec<u8>,
    /// QEMU's own messages.
    pub stderr: String,
    /// Wall time of the run.
    pub wall: Duration,
}

/// `qemu-system-arm` (or `WHITTLE_QEMU`).
pub fn qemu_program() -> PathBuf {
    std::env::var_os("WHITTLE_QEMU").map_or_else(|| "qemu-system-arm".into(), PathBuf::from)
}

/// `defmt-print` (or `WHITTLE_DEFMT_PRINT`), falling back to `~/.cargo/bin/defmt-print`.
pub fn defmt_print_program() -> PathBuf {
    if let Some(p) = std::env::var_os("WHITTLE_DEFMT_PRINT") {
        return p.into();
    }
    let on_path = Command::new("defmt-print")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match std::env::var_os("HOME") {
        Some(home) if !on_path => Path::new(&home).join(".cargo/bin/defmt-print"),
        _ => "defmt-print".into(),
    }
}

/// Checks that QEMU and defmt-print run; the error says how to install what is missing.
pub fn check_tools() -> Result<(), QemuError> {
    let probe = |prog: PathBuf, install: &'static str| {
        let missing = |detail: String| QemuError::Missing {
            tool: prog.display().to_string(),
            detail,
            install,
        };
        match Command::new(&prog).arg("--version").output() {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(missing(format!("`--version` exited with {}", o.status))),
            Err(e) => Err(missing(e.to_string())),
        }
    };
    probe(
        qemu_program(),
        "`sudo apt-get install qemu-system-arm` (QEMU >= 7.2), or set WHITTLE_QEMU",
    )?;
    probe(
        defmt_print_program(),
        "`cargo install --locked defmt-print`, or set WHITTLE_DEFMT_PRINT",
    )
}

/// The QEMU command line for `machine` running `elf`.
pub fn command(machine: Machine, elf: &Path) -> Result<Command, QemuError> {
    let m = machine.info().qemu.ok_or(QemuError::NotEmulated(machine))?;
    let mut cmd = Command::new(qemu_program());
    cmd.args([
        "-machine",
        m,
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "none",
    ])
    .args(["-semihosting-config", "enable=on,target=native"])
    .args(["-icount", "shift=0,align=off,sleep=off"])
    .arg("-kernel")
    .arg(elf);
    Ok(cmd)
}

/// Runs `elf` on `machine`, killing QEMU after `timeout` (a HardFault loop never exits).
pub fn run(machine: Machine, elf: &Path, timeout: Duration) -> Result<QemuRun, QemuError> {
    run_in(machine, elf, timeout, None)
}

/// [`run`] with QEMU's working directory set to `dir`: semihosting file reads (streamed
/// images) open their relative paths there.
pub fn run_in(
    machine: Machine,
    elf: &Path,
    timeout: Duration,
    dir: Option<&Path>,
) -> Result<QemuRun, QemuError> {
    let io = |what| move |source| QemuError::Io { what, source };
    let start = Instant::now();
    let mut cmd = command(machine, elf)?;
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => QemuError::Missing {
                tool: qemu_program().display().to_string(),
                detail: e.to_string(),
                install: "`sudo apt-get install qemu-system-arm`, or set WHITTLE_QEMU",
            },
            _ => QemuError::Io {
                what: "starting qemu",
                source: e,
            },
        })?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut b);
        }
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut b);
        }
        b
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(io("waiting for qemu"))? {
            break s;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().map_err(io("waiting for qemu"))?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let frames = out_t.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    Ok(QemuRun {
        status: if timed_out { None } else { status.code() },
        timed_out,
        frames,
        stderr,
        wall: start.elapsed(),
    })
}

/// Decodes defmt `frames` with `defmt-print -e elf`, one "LEVEL message" per line.
pub fn decode(elf: &Path, frames: &[u8]) -> Result<String, QemuError> {
    let prog = defmt_print_program();
    let mut child = Command::new(&prog)
        .arg("-e")
        .arg(elf)
        .args(["--log-format", "{L} {s}", "stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| QemuError::Missing {
            tool: prog.display().to_string(),
            detail: e.to_string(),
            install: "`cargo install --locked defmt-print`, or set WHITTLE_DEFMT_PRINT",
        })?;
    let mut stdin = child.stdin.take();
    let frames = frames.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&frames);
        }
        // dropping stdin closes it: defmt-print stops at end of input
    });
    let out = child.wait_with_output().map_err(|source| QemuError::Io {
        what: "running defmt-print",
        source,
    })?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(QemuError::Decode {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
