//! Turns the compilation target into named cfgs so kernels never test target triples inline:
//! `dsp` = the Armv7E-M DSP extension (SMLAD, SXTB16, SADD16) is available.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dsp)");
    println!("cargo::rerun-if-env-changed=CARGO_FEATURE_PORTABLE");
    let target = std::env::var("TARGET").unwrap_or_default();
    let portable = std::env::var_os("CARGO_FEATURE_PORTABLE").is_some();
    // thumbv7em-* is Cortex-M4/M7; thumbv8m.main (M33/M55) also has the DSP extension.
    let has_dsp = target.starts_with("thumbv7em") || target.starts_with("thumbv8m.main");
    if has_dsp && !portable {
        println!("cargo::rustc-cfg=dsp");
    }
}
