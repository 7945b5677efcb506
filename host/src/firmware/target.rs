//! What a firmware build is for: the machine it runs on and the chip whose flash and RAM it
//! is capped at (the machine's own chip, or one named with `--chip`).

use super::chips::{self, Chip};
use super::machine::Machine;

/// A machine and the chip it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub machine: Machine,
    pub chip: &'static Chip,
    /// The chip was named (`--chip`): errors and reports say its name, and the build gets
    /// a memory.x with its sizes instead of the machine's committed one.
    pub named: bool,
}

/// A chip that the machine cannot stand in for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Unknown(#[from] chips::UnknownChip),
    #[error(
        "{chip} is a {core}, {machine} emulates a {machine_core}; leave out --machine to get {default}"
    )]
    WrongCore {
        chip: &'static str,
        core: chips::Core,
        machine: Machine,
        machine_core: chips::Core,
        default: Machine,
    },
    #[error("{chip} has more {what} than {machine} maps ({have} B > {limit} B)")]
    TooLarge {
        chip: &'static str,
        machine: Machine,
        what: &'static str,
        have: u64,
        limit: u64,
    },
}

impl Target {
    /// `machine` capped at its own chip (its committed memory.x).
    pub fn machine(machine: Machine) -> Self {
        Target {
            machine,
            chip: machine.info().chip,
            named: false,
        }
    }

    /// The chip named `name`, on `machine` or else the machine its table row gives.
    pub fn chip(name: &str, machine: Option<Machine>) -> Result<Self, TargetError> {
        Self::of(chips::find(name)?, machine)
    }

    /// `chip` on `machine`, or else on the machine its table row gives.
    pub fn of(chip: &'static Chip, machine: Option<Machine>) -> Result<Self, TargetError> {
        let machine = machine.unwrap_or(chip.machine);
        let info = machine.info();
        if info.core != chip.core {
            return Err(TargetError::WrongCore {
                chip: chip.part,
                core: chip.core,
                machine,
                machine_core: info.core,
                default: chip.machine,
            });
        }
        for (what, have, limit) in [
            ("flash", chip.flash_bytes, info.flash_limit),
            ("RAM", chip.ram_bytes, info.ram_limit),
        ] {
            if have > limit {
                return Err(TargetError::TooLarge {
                    chip: chip.part,
                    machine,
                    what,
                    have,
                    limit,
                });
            }
        }
        Ok(Target {
            machine,
            chip,
            named: true,
        })
    }

    /// Who has the memory, in errors: the chip if named, else the machine.
    pub fn holder(&self) -> String {
        if self.named {
            self.chip.part.to_string()
        } else {
            self.machine.to_string()
        }
    }

    /// The rest of the story, in errors: "STM32F405RG, Cortex-M4F" for a machine,
    /// "Cortex-M33, on QEMU mps2-an505" for a named chip.
    pub fn detail(&self) -> String {
        if self.named {
            format!("{}, on QEMU {}", self.chip.core, self.machine)
        } else {
            format!("{}, {}", self.chip.part, self.chip.core)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chip_runs_on_its_core_only() {
        let t = Target::chip("nrf5340", None).unwrap();
        assert_eq!((t.machine, t.named), (Machine::Mps2An505, true));
        assert_eq!(t.holder(), "nRF5340");
        let e = Target::chip("STM32U585", Some(Machine::Mps2An386)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "STM32U585AI is a Cortex-M33, mps2-an386 emulates a Cortex-M4F; leave out --machine to get mps2-an505"
        );
        let e = Target::chip("STM32L4R5", Some(Machine::Netduinoplus2)).unwrap_err();
        assert!(
            matches!(e, TargetError::TooLarge { what: "flash", .. }),
            "{e}"
        );
        assert_eq!(
            Target::machine(Machine::Netduinoplus2).detail(),
            "STM32F405RG, Cortex-M4F"
        );
    }
}
