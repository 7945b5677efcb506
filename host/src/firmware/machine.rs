//! The machines the firmware runs on: QEMU model, the real chip whose flash and RAM the
//! memory.x caps it at, and how many instructions one SysTick tick is under `-icount 0`.

use std::fmt;
use std::str::FromStr;

/// A target the firmware can be built for (a cargo feature of `firmware/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
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
    /// The real chip memory.x is capped at.
    pub chip: &'static str,
    /// Bytes of flash in memory.x.
    pub flash_bytes: u64,
    /// Bytes of RAM in memory.x (stack + static data + the model's arena).
    pub ram_bytes: u64,
    /// SysTick clock with CLKSOURCE = core clock, in Hz (QEMU's model of the board).
    pub systick_hz: u64,
}

impl MachineInfo {
    /// Instructions per SysTick tick under `-icount shift=0` (one instruction per
    /// nanosecond of virtual time): 10^9 / clock. mps2: 25 MHz → 40; netduinoplus2:
    /// 168 MHz → 5.952… These are instructions executed, not CPU cycles.
    pub fn instructions_per_tick(&self) -> f64 {
        1e9 / self.systick_hz as f64
    }

    /// Instructions for `ticks` SysTick ticks, rounded.
    pub fn instructions(&self, ticks: u64) -> u64 {
        (ticks as f64 * self.instructions_per_tick()).round() as u64
    }
}

impl Machine {
    /// Every machine, QEMU ones first.
    pub const ALL: [Machine; 4] = [
        Machine::Mps2An386,
        Machine::Mps2An500,
        Machine::Netduinoplus2,
        Machine::Stm32f4Board,
    ];

    /// The machines QEMU can run.
    pub const QEMU: [Machine; 3] = [
        Machine::Mps2An386,
        Machine::Mps2An500,
        Machine::Netduinoplus2,
    ];

    /// This machine's facts.
    pub const fn info(self) -> MachineInfo {
        const KIB: u64 = 1024;
        match self {
            Machine::Mps2An386 => MachineInfo {
                name: "mps2-an386",
                qemu: Some("mps2-an386"),
                chip: "STM32F446RE (Cortex-M4F)",
                flash_bytes: 512 * KIB,
                ram_bytes: 128 * KIB,
                systick_hz: 25_000_000,
            },
            Machine::Mps2An500 => MachineInfo {
                name: "mps2-an500",
                qemu: Some("mps2-an500"),
                chip: "STM32F746NG (Cortex-M7)",
                flash_bytes: 1024 * KIB,
                ram_bytes: 320 * KIB,
                systick_hz: 25_000_000,
            },
            Machine::Netduinoplus2 => MachineInfo {
                name: "netduinoplus2",
                qemu: Some("netduinoplus2"),
                chip: "STM32F405RG (Cortex-M4F)",
                flash_bytes: 1024 * KIB,
                ram_bytes: 128 * KIB,
                systick_hz: 168_000_000,
            },
            Machine::Stm32f4Board => MachineInfo {
                name: "stm32f4-board",
                qemu: None,
                chip: "STM32F407VG (Cortex-M4F)",
                flash_bytes: 1024 * KIB,
                ram_bytes: 128 * KIB,
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
#[error("unknown machine {0:?}; known: mps2-an386, mps2-an500, netduinoplus2, stm32f4-board")]
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
    }
}
