//! The firmware's report as decoded by defmt-print ("LEVEL tag key=value ..." lines)
//! parsed into a struct. The line formats are listed in docs/FIRMWARE.md.

use std::collections::BTreeMap;

/// The `model` line: what the firmware found in the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ModelLine {
    pub blob_bytes: u64,
    pub ops: u64,
    pub arena_bytes: u64,
    pub scratch_bytes: u64,
    pub ram_bytes: u64,
    pub images: u64,
    /// SysTick ticks spent validating the blob.
    pub validate_ticks: u64,
}

/// One `image` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImageLine {
    pub index: u64,
    pub label: u8,
    pub pred: u32,
    /// CRC-32 of the output int8 vector.
    pub crc: u32,
    pub ticks: u64,
}

/// One `layer` line: ticks of op `index` summed over all images.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LayerLine {
    pub index: u64,
    pub op: String,
    pub ticks: u64,
}

/// Everything the firmware said.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct FirmwareReport {
    /// From the `whittle-report v1 machine=...` line.
    pub machine: Option<String>,
    /// `calib`: a loop of known instruction count and the ticks it took.
    pub calib_instructions: u64,
    pub calib_ticks: u64,
    pub model: Option<ModelLine>,
    pub images: Vec<ImageLine>,
    pub layers: Vec<LayerLine>,
    pub stack_peak_bytes: Option<u64>,
    pub stack_size_bytes: Option<u64>,
    /// The `done` line was seen (the run reached its end).
    pub done: bool,
    /// The blob failed validation: the `FormatError` as the firmware printed it.
    pub format_error: Option<String>,
    /// Every ERROR line (format errors, run errors, panics).
    pub errors: Vec<String>,
}

/// A line that names a known tag but lacks a field or has a bad number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable firmware report line {line:?}: {problem}")]
pub struct ReportError {
    pub line: String,
    pub problem: String,
}

fn fields(rest: &str) -> BTreeMap<&str, &str> {
    rest.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

fn num(f: &BTreeMap<&str, &str>, key: &str, line: &str) -> Result<u64, ReportError> {
    let err = |problem: String| ReportError {
        line: line.to_string(),
        problem,
    };
    let v = f.get(key).ok_or_else(|| err(format!("no {key}=")))?;
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|e| err(format!("{key}={v}: {e}")))
}

/// Parses defmt-print output (`--log-format "{L} {s}"`). Lines that are not the
/// firmware's (QEMU noise, other logs) are ignored.
pub fn parse(text: &str) -> Result<FirmwareReport, ReportError> {
    let mut r = FirmwareReport::default();
    for line in text.lines() {
        let line = line.trim();
        let (level, msg) = line.split_once(' ').unwrap_or((line, ""));
        let msg = msg.trim_start(); // defmt-print pads the level ("INFO  ")
        let (tag, rest) = msg.split_once(' ').unwrap_or((msg, ""));
        if level == "ERROR" {
            r.errors.push(msg.to_string());
        }
        let f = fields(rest);
        let n = |k: &str| num(&f, k, line);
        match tag {
            "whittle-report" => r.machine = f.get("machine").map(|m| m.to_string()),
            "calib" => {
                r.calib_instructions = n("instructions")?;
                r.calib_ticks = n("ticks")?;
            }
            "model" => {
                r.model = Some(ModelLine {
                    blob_bytes: n("blob_bytes")?,
                    ops: n("ops")?,
                    arena_bytes: n("arena_bytes")?,
                    scratch_bytes: n("scratch_bytes")?,
                    ram_bytes: n("ram_bytes")?,
                    images: n("images")?,
                    validate_ticks: n("validate_ticks")?,
                })
            }
            "image" => r.images.push(ImageLine {
                index: n("index")?,
                label: n("label")? as u8,
                pred: n("pred")? as u32,
                crc: n("crc")? as u32,
                ticks: n("ticks")?,
            }),
            "layer" => r.layers.push(LayerLine {
                index: n("index")?,
                op: f.get("op").unwrap_or(&"?").to_string(),
                ticks: n("ticks")?,
            }),
            "stack" => {
                r.stack_peak_bytes = Some(n("peak_bytes")?);
                r.stack_size_bytes = Some(n("size_bytes")?);
            }
            "done" => r.done = true,
            "format_error" => r.format_error = Some(rest.to_string()),
            _ => {}
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_report_parses() {
        let text = "INFO  whittle-report v1 machine=mps2-an386
INFO  calib instructions=2000000 ticks=50001
INFO  model blob_bytes=121056 ops=9 arena_bytes=40960 scratch_bytes=4112 ram_bytes=45072 images=1 validate_ticks=16170
INFO  image index=0 label=3 pred=7 crc=0x0badcafe ticks=1234
INFO  layer index=0 op=conv2d ticks=99
INFO  stack peak_bytes=2084 size_bytes=86000
INFO  done images=1 correct=0
";
        let r = parse(text).unwrap();
        assert_eq!(r.machine.as_deref(), Some("mps2-an386"));
        assert_eq!((r.calib_instructions, r.calib_ticks), (2_000_000, 50_001));
        assert_eq!(r.model.unwrap().ram_bytes, 45072);
        assert_eq!(r.images[0].crc, 0x0bad_cafe);
        assert_eq!(r.layers[0].op, "conv2d");
        assert_eq!(r.stack_peak_bytes, Some(2084));
        assert!(r.done && r.format_error.is_none());
    }

    #[test]
    fn a_format_error_is_kept_and_bad_numbers_are_refused() {
        let r = parse("ERROR format_error BadCrc { stored: 1, computed: 2 }\n").unwrap();
        assert_eq!(
            r.format_error.as_deref(),
            Some("BadCrc { stored: 1, computed: 2 }")
        );
        assert_eq!(r.errors.len(), 1);
        assert!(parse("INFO  calib instructions=x ticks=1").is_err());
    }
}
