//! The host side of running a blob on Cortex-M: machine and chip tables, image file, firmware
//! build, QEMU run, defmt report parsing, ELF sizes, host simulation, the pipeline joining
//! them, and what `whittle check` and `whittle fit` conclude from its report.

pub mod builder;
pub mod check;
pub mod chips;
pub mod elf;
pub mod fit;
pub mod images;
pub mod machine;
pub mod pipeline;
pub mod qemu;
pub mod report;
pub mod simulate;
pub mod target;

pub use chips::Chip;
pub use images::LabeledImage;
pub use machine::Machine;
pub use pipeline::{RunError, RunOptions, RunReport, Streaming, run};
pub use target::Target;
