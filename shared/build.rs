//! Turns the compilation target into named cfgs so kernels never test target triples inline:
//! `dsp` = the Armv7E-M DSP extension (SMLAD, SXTB16, SADD16) is available.

/// Armv8-M Mainline cores that implement the DSP extension (it is optional in the
/// architecture, so the bare thumbv8m.main target does not assume it).
const V8M_DSP_CPUS: [&str; 4] = ["cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85"];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dsp)");
    println!("cargo::rerun-if-env-changed=CARGO_FEATURE_PORTABLE");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let target = std::env::var("TARGET").unwrap_or_default();
    let portable = std::env::var_os("CARGO_FEATURE_PORTABLE").is_some();
    // thumbv7em-* is Cortex-M4/M7, always with DSP. thumbv8m.main (M33/M55) has it when the
    // build names such a core (`-C target-cpu=cortex-m33`) or the feature (`+dsp`); stable
    // rustc does not report Arm target features to build scripts, so the flags are read.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let v8m_dsp = flags.split('\x1f').any(|f| {
        let f = f.trim_start_matches("-C").trim_start_matches('=');
        V8M_DSP_CPUS
            .iter()
            .any(|cpu| f == format!("target-cpu={cpu}"))
            || (f.starts_with("target-feature=") && f.contains("+dsp"))
    });
    let has_dsp =
        target.starts_with("thumbv7em") || (target.starts_with("thumbv8m.main") && v8m_dsp);
    if has_dsp && !portable {
        println!("cargo::rustc-cfg=dsp");
    }
}
