//! The chip table: real Cortex-M parts a model has to fit (core, flash, RAM, clock) and the
//! QEMU machine that emulates each one's core. Add a chip by adding one `Chip` row below.

use std::fmt;

use super::machine::Machine;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
const MHZ: u64 = 1_000_000;

/// A Cortex-M core, as far as whittle's kernels care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Core {
    /// Armv7E-M with single-precision FPU and the DSP extension (thumbv7em-none-eabihf).
    #[serde(rename = "Cortex-M4F")]
    CortexM4F,
    /// Armv7E-M, DSP extension, FPU (thumbv7em-none-eabihf).
    #[serde(rename = "Cortex-M7")]
    CortexM7,
    /// Armv8-M Mainline with FPU and the DSP extension (thumbv8m.main-none-eabihf).
    #[serde(rename = "Cortex-M33")]
    CortexM33,
}

impl Core {
    /// Core clock cycles per QEMU-counted instruction that latency estimates assume: 1.0 on
    /// every core until measured on silicon (an assumption: loads, taken branches and
    /// flash wait states cost a real core more, dual issue on the M7 less).
    pub const fn cycles_per_instruction(self) -> f64 {
        match self {
            Core::CortexM4F | Core::CortexM7 | Core::CortexM33 => 1.0,
        }
    }
}

impl fmt::Display for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Core::CortexM4F => "Cortex-M4F",
            Core::CortexM7 => "Cortex-M7",
            Core::CortexM33 => "Cortex-M33",
        })
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chip {
    /// What users type (`--chip STM32F405`); any longer part number starting with it
    /// (STM32F405RGT6) finds the row too.
    pub name: &'static str,
    /// The variant whose memory the row lists (the largest of the family, unless noted).
    pub part: &'static str,
    pub core: Core,
    /// On-chip flash the firmware (code + blob) is linked into.
    pub flash_bytes: u64,
    /// The one contiguous SRAM region statics, the model's buffer and the stack share.
    pub ram_bytes: u64,
    /// Highest core clock.
    pub clock_hz: u64,
    /// The QEMU machine that runs this chip's core (capped at this chip's memory).
    pub machine: Machine,
    /// What the row's figures leave out or assume.
    pub note: &'static str,
}

impl Chip {
    /// Milliseconds for `instructions` at the chip's clock, at one instruction per cycle
    /// (QEMU counts instructions; a real core needs more cycles for loads and branches).
    pub fn ms_at_one_per_cycle(&self, instructions: u64) -> f64 {
        instructions as f64 * 1e3 / self.clock_hz as f64
    }

    /// Milliseconds for `instructions` at the chip's clock and its core's assumed
    /// [`Core::cycles_per_instruction`].
    pub fn ms(&self, instructions: u64) -> f64 {
        self.ms_at_one_per_cycle(instructions) * self.core.cycles_per_instruction()
    }

    /// Instructions that fit in `ms` at the chip's clock and assumed cycles per instruction.
    pub fn instructions_in(&self, ms: f64) -> u64 {
        (ms * 1e-3 * self.clock_hz as f64 / self.core.cycles_per_instruction()).floor() as u64
    }

    /// "STM32F405RG (Cortex-M4F, 1 MiB flash, 128 KiB RAM, 168 MHz)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, {} flash, {} RAM, {} MHz)",
            self.part,
            self.core,
            super::builder::human(self.flash_bytes),
            super::builder::human(self.ram_bytes),
            self.clock_hz / MHZ
        )
    }
}

pub const STM32F405: Chip = Chip {
    name: "STM32F405",
    part: "STM32F405RG",
    core: Core::CortexM4F,
    flash_bytes: MIB,
    ram_bytes: 128 * KIB,
    clock_hz: 168 * MHZ,
    machine: Machine::Netduinoplus2,
    note: "SRAM1+SRAM2; the 64 KiB core-coupled RAM is not used",
};

pub const STM32F407: Chip = Chip {
    name: "STM32F407",
    part: "STM32F407VG",
    core: Core::CortexM4F,
    flash_bytes: MIB,
    ram_bytes: 128 * KIB,
    clock_hz: 168 * MHZ,
    machine: Machine::Netduinoplus2,
    note: "SRAM1+SRAM2; the 64 KiB core-coupled RAM is not used (STM32F4DISCOVERY)",
};

pub const STM32F446: Chip = Chip {
    name: "STM32F446",
    part: "STM32F446RE",
    core: Core::CortexM4F,
    flash_bytes: 512 * KIB,
    ram_bytes: 128 * KIB,
    clock_hz: 180 * MHZ,
    machine: Machine::Mps2An386,
    note: "SRAM1+SRAM2",
};

pub const STM32L4R5: Chip = Chip {
    name: "STM32L4R5",
    part: "STM32L4R5ZI",
    core: Core::CortexM4F,
    flash_bytes: 2 * MIB,
    ram_bytes: 640 * KIB,
    clock_hz: 120 * MHZ,
    machine: Machine::Mps2An386,
    note: "SRAM1+SRAM2+SRAM3, contiguous from 0x2000_0000",
};

pub const STM32F746: Chip = Chip {
    name: "STM32F746",
    part: "STM32F746NG",
    core: Core::CortexM7,
    flash_bytes: MIB,
    ram_bytes: 320 * KIB,
    clock_hz: 216 * MHZ,
    machine: Machine::Mps2An500,
    note: "DTCM+SRAM1+SRAM2, contiguous from 0x2000_0000",
};

pub const STM32H7A3: Chip = Chip {
    name: "STM32H7A3",
    part: "STM32H7A3ZI",
    core: Core::CortexM7,
    flash_bytes: 2 * MIB,
    ram_bytes: MIB,
    clock_hz: 280 * MHZ,
    machine: Machine::Mps2An500,
    note: "the 1 MiB AXI SRAM; of 1.4 MiB in all, the TCMs and AHB SRAMs are separate regions",
};

pub const STM32U585: Chip = Chip {
    name: "STM32U585",
    part: "STM32U585AI",
    core: Core::CortexM33,
    flash_bytes: 2 * MIB,
    ram_bytes: 768 * KIB,
    clock_hz: 160 * MHZ,
    machine: Machine::Mps2An505,
    note: "SRAM1+SRAM2+SRAM3; SRAM4 (16 KiB) is a separate region",
};

pub const NRF52840: Chip = Chip {
    name: "nRF52840",
    part: "nRF52840",
    core: Core::CortexM4F,
    flash_bytes: MIB,
    ram_bytes: 256 * KIB,
    clock_hz: 64 * MHZ,
    machine: Machine::Mps2An386,
    note: "a radio stack (SoftDevice) would take part of both",
};

pub const NRF5340: Chip = Chip {
    name: "nRF5340",
    part: "nRF5340",
    core: Core::CortexM33,
    flash_bytes: MIB,
    ram_bytes: 512 * KIB,
    clock_hz: 128 * MHZ,
    machine: Machine::Mps2An505,
    note: "the application core; the network core has its own 256 KiB flash, 64 KiB RAM",
};

pub const RP2350: Chip = Chip {
    name: "RP2350",
    part: "RP2350",
    core: Core::CortexM33,
    flash_bytes: 4 * MIB,
    ram_bytes: 520 * KIB,
    clock_hz: 150 * MHZ,
    machine: Machine::Mps2An505,
    note: "no on-chip flash: the Raspberry Pi Pico 2's 4 MiB external QSPI flash, run in place",
};

/// Every chip, by family.
pub const CHIPS: [Chip; 10] = [
    STM32F405, STM32F407, STM32F446, STM32L4R5, STM32F746, STM32H7A3, STM32U585, NRF52840, NRF5340,
    RP2350,
];

/// A `--chip` that names no row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown chip {given:?}; known: {known}", known = CHIPS.map(|c| c.name).join(", "))]
pub struct UnknownChip {
    pub given: String,
}

/// The row whose name `given` starts with, ignoring case (STM32F405RGT6 → STM32F405).
pub fn find(given: &str) -> Result<&'static Chip, UnknownChip> {
    let g = given.trim().to_ascii_uppercase();
    CHIPS
        .iter()
        .filter(|c| g.starts_with(&c.name.to_ascii_uppercase()))
        .max_by_key(|c| c.name.len())
        .ok_or_else(|| UnknownChip {
            given: given.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_part_numbers_find_their_rows() {
        assert_eq!(find("STM32F405").map(|c| c.part), Ok("STM32F405RG"));
        assert_eq!(find("stm32f405rgt6").map(|c| c.name), Ok("STM32F405"));
        assert_eq!(find("NRF5340").map(|c| c.clock_hz), Ok(128 * MHZ));
        let e = find("STM32F4").unwrap_err().to_string();
        assert!(
            e.starts_with("unknown chip \"STM32F4\"; known: STM32F405, "),
            "{e}"
        );
        assert_eq!(find("RP2350").map(|c| c.machine), Ok(Machine::Mps2An505));
    }

    #[test]
    fn every_chip_fits_the_machine_that_emulates_its_core() {
        for c in CHIPS {
            let m = c.machine.info();
            assert_eq!(m.core, c.core, "{}", c.name);
            assert!(c.flash_bytes <= m.flash_limit, "{}", c.name);
            assert!(c.ram_bytes <= m.ram_limit, "{}", c.name);
        }
        // 9.09 M instructions at 168 MHz, one per cycle
        assert!((STM32F405.ms_at_one_per_cycle(9_090_000) - 54.107).abs() < 1e-3);
        assert_eq!(
            STM32F405.describe(),
            "STM32F405RG (Cortex-M4F, 1 MiB flash, 128 KiB RAM, 168 MHz)"
        );
    }
}
