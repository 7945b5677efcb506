//! The machines the firmware runs on: QEMU model, Rust target, the real chip whose flash and
//! RAM the memory.x caps it at, and how many instructions one SysTick tick is under `-icount 0`.

use std::fmt;
use std::str::FromStr;

use super::chips::{self, Chip, Core};

/// A target the firmware can be built for (a cargo feature of `firmware/`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Machine {
    /// QEMU `mps2-an386`: Cortex-M4F, capped at an STM32F446RE (512 KiB flash, 128 KiB RAM).
    #[value(name = "mps2-an386")]
    Mps2An386,
    /// QEMU `mps2-an500`: Cortex-M7, capped at an STM32F746NG (1 MiB flash, 320 KiB RAM).
    #[value(name = "mps2-an500")]
    Mps2An500,
    /// QEMU `netduinoplus2`: STM32F405RG (1 MiB flash, 128 KiB SRAM).
    #[value(name = "netduinoplus2")]
    Netduinoplus2,
    /// QEMU `mps2-an505`: Cortex-M33 (secure state), capped at an STM32U585AI (2 MiB flash,
    /// 768 KiB RAM).
    #[value(name = "mps2-an505")]
    Mps2An505,
    /// A real STM32F405/407 board through probe-rs (defmt over RTT); not run by `whittle run`.
    #[value(name = "stm32f4-board")]
    Stm32f4Board,
}

/// Facts about one machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineInfo {
    /// Name on the command line, in reports and as the firmware's cargo feature.
    pub name: &'static str,
    /// `qemu-system-arm -machine` value; `None` for real hardware.
    pub qemu: Option<&'static str>,
    /// The Rust target the firmware is built for.
    pub target: &'static str,
    pub core: Core,
    /// The real chip `firmware/memory/<name>.x` is capped at (its flash and RAM).
    pub chip: &'static Chip,
    /// Where flash (the vector table) and RAM start.
    pub flash_origin: u64,
    pub ram_origin: u64,
    /// What the machine has there: a chip named with `--chip` may use up to this.
    pub flash_limit: u64,
    pub ram_limit: u64,
    /// SysTick clock with CLKSOURCE = core clock, in Hz (QEMU's model of the board).
    pub systick_hz: u64,
}

impl MachineInfo {
    /// Instructions per SysTick tick under `-icount shift=0` (one instruction per
    /// nanosecond of virtual time): 10^9 / clock. mps2-an386/an500: 25 MHz → 40;
    /// mps2-an505: 20 MHz → 50; netduinoplus2: 168 MHz → 5.952… These are instructions
    /// executed, not CPU cycles.
    pub fn instructions_per_tick(&self) -> f64 {
        1e9 / self.systick_hz as f64
    }

    /// Instructions for `ticks` SysTick ticks, rounded.
    pub fn instructions(&self, ticks: u64) -> u64 {
        (ticks as f64 * self.instructions_per_tick()).round() as u64
    }

    /// A memory.x for `chip` on this machine: the machine's origins, the chip's sizes.
    pub fn memory_x(&self, chip: &Chip) -> String {
        format!(
            "/* {} on {}: written by whittle for `--chip {}` */\nMEMORY\n{{\n  FLASH : ORIGIN = {:#010x}, LENGTH = {}K\n  RAM   : ORIGIN = {:#010x}, LENGTH = {}K\n}}\n",
            chip.part,
            self.name,
            chip.name,
            self.flash_origin,
            chip.flash_bytes / 1024,
            self.ram_origin,
            chip.ram_bytes / 1024
        )
    }
}

impl Machine {
    /// Every machine, QEMU ones first.
    pub const ALL: [Machine; 5] = [
        Machine::Mps2An386,
        Machine::Mps2An500,
        Machine::Netduinoplus2,
        Machine::Mps2An505,
        Machine::Stm32f4Board,
    ];

    /// The machines QEMU can run.
    pub const QEMU: [Machine; 4] = [
        Machine::Mps2An386,
        Machine::Mps2An500,
        Machine::Netduinoplus2,
        Machine::Mps2An505,
    ];

    /// This machine's facts.
    pub const fn info(self) -> MachineInfo {
        const MIB: u64 = 1024 * 1024;
        const V7EM: &str = "thumbv7em-none-eabihf";
        match self {
            Machine::Mps2An386 => MachineInfo {
                name: "mps2-an386",
                qemu: Some("mps2-an386"),
                target: V7EM,
                core: Core::CortexM4F,
                chip: &chips::STM32F446,
                flash_origin: 0,
                ram_origin: 0x2000_0000,
                flash_limit: 4 * MIB,
                ram_limit: 4 * MIB,
                systick_hz: 25_000_000,
            },
            Machine::Mps2An500 => MachineInfo {
                name: "mps2-an500",
                qemu: Some("mps2-an500"),
                target: V7EM,
                core: Core::CortexM7,
                chip: &chips::STM32F746,
                flash_origin: 0,
                ram_origin: 0x2000_0000,
                flash_limit: 4 * MIB,
                ram_limit: 4 * MIB,
                systick_hz: 25_000_000,
            },
            Machine::Netduinoplus2 => MachineInfo {
                name: "netduinoplus2",
                qemu: Some("netduinoplus2"),
                target: V7EM,
                core: Core::CortexM4F,
                chip: &chips::STM32F405,
                flash_origin: 0x0800_0000,
                ram_origin: 0x2000_0000,
                flash_limit: MIB,
                ram_limit: 128 * 1024,
                systick_hz: 168_000_000,
            },
            // Secure aliases of the 4 MiB code SSRAM (the core boots from 0x1000_0000) and
            // of the 4 MiB data SSRAM; SysTick runs on the 20 MHz system clock (measured:
            // the calibration loop gives 50.000 instructions per tick).
            Machine::Mps2An505 => MachineInfo {
                name: "mps2-an505",
                qemu: Some("mps2-an505"),
                target: "thumbv8m.main-none-eabihf",
                core: Core::CortexM33,
                chip: &chips::STM32U585,
                flash_origin: 0x1000_0000,
                ram_origin: 0x3800_0000,
                flash_limit: 4 * MIB,
                ram_limit: 4 * MIB,
                systick_hz: 20_000_000,
            },
            Machine::Stm32f4Board => MachineInfo {
                name: "stm32f4-board",
                qemu: None,
                target: V7EM,
                core: Core::CortexM4F,
                chip: &chips::STM32F407,
                flash_origin: 0x0800_0000,
                ram_origin: 0x2000_0000,
                flash_limit: MIB,
                ram_limit: 128 * 1024,
                systick_hz: 16_000_000,
            },
        }
    }

    /// The cargo feature of `firmware/` that selects this machine.
    pub fn feature(self) -> &'static str {
        self.info().name
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.info().name)
    }
}

/// A machine name that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown machine {0:?}; known: mps2-an386, mps2-an500, netduinoplus2, mps2-an505, stm32f4-board"
)]
pub struct UnknownMachine(pub String);

impl FromStr for Machine {
    type Err = UnknownMachine;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Machine::ALL
            .into_iter()
            .find(|m| m.info().name == s)
            .ok_or_else(|| UnknownMachine(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_mps2_is_40_per_tick() {
        for m in Machine::ALL {
            assert_eq!(m.info().name.parse::<Machine>(), Ok(m));
        }
        assert_eq!(Machine::Mps2An386.info().instructions_per_tick(), 40.0);
        assert_eq!(Machine::Mps2An386.info().instructions(50_000), 2_000_000);
        assert!("mps3".parse::<Machine>().is_err());
        assert_eq!(Machine::Mps2An505.info().instructions(1_000), 50_000);
    }

    #[test]
    fn memory_x_takes_the_machine_origins_and_the_chip_sizes() {
        let m = Machine::Mps2An505.info();
        assert_eq!(
            m.memory_x(&chips::NRF5340),
            "/* nRF5340 on mps2-an505: written by whittle for `--chip nRF5340` */
MEMORY
{
  FLASH : ORIGIN = 0x10000000, LENGTH = 1024K
  RAM   : ORIGIN = 0x38000000, LENGTH = 512K
}
"
        );
    }

    #[test]
    fn the_default_caps_are_the_committed_memory_x_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/memory");
        for machine in Machine::ALL {
            let m = machine.info();
            let text = std::fs::read_to_string(dir.join(format!("{}.x", m.name)))
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
            let flash = format!(
                "FLASH : ORIGIN = {:#010x}, LENGTH = {}K",
                m.flash_origin,
                m.chip.flash_bytes / 1024
            );
            let ram = format!(
                "RAM   : ORIGIN = {:#010x}, LENGTH = {}K",
                m.ram_origin,
                m.chip.ram_bytes / 1024
            );
            assert!(
                text.contains(&flash),
                "{}: want {flash:?} in\n{text}",
                m.name
            );
            assert!(text.contains(&ram), "{}: want {ram:?} in\n{text}", m.name);
        }
    }
}
