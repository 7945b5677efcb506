//! The host side of running a blob on Cortex-M: machine table, image file, firmware build,
//! QEMU run, defmt report parsing, ELF sizes, host simulation, and the pipeline joining them.

pub mod builder;
pub mod elf;
pub mod images;
pub mod input;
pub mod machine;
pub mod pipeline;
pub mod qemu;
pub mod report;
pub mod simulate;

pub use images::LabeledImage;
pub use machine::Machine;
pub use pipeline::{RunError, RunOptions, RunReport, run};
