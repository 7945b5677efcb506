//! Memory figures read from the firmware ELF's section headers: flash = what is loaded
//! (vector table, text, rodata, data), static RAM = data + bss + uninit.

use std::path::Path;

/// Section sizes of a firmware image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ElfSizes {
    /// Code: `.vector_table` + `.text`.
    pub text_bytes: u64,
    /// Constants, the blob and the test images included: `.rodata`.
    pub rodata_bytes: u64,
    /// Initialized statics (stored in flash, copied to RAM): `.data`.
    pub data_bytes: u64,
    /// Zeroed statics, the model's RAM buffer included: `.bss` + `.uninit`.
    pub bss_bytes: u64,
    /// Bytes of the `WHITTLE_IMAGES` symbol (test images, not part of a deployed model).
    pub images_bytes: u64,
    /// Bytes of the `WHITTLE_BLOB` symbol.
    pub blob_bytes: u64,
    /// Bytes of the `WHITTLE_IMAGE_BUF` symbol: the buffer streamed test images are read
    /// into (not part of a deployed model's RAM; 0 when the images are baked in).
    pub image_buffer_bytes: u64,
}

impl ElfSizes {
    /// Flash a deployment needs: text + rodata + data, without the test images.
    pub fn flash_bytes(&self) -> u64 {
        self.text_bytes + self.rodata_bytes + self.data_bytes - self.images_bytes
    }
    /// Statically allocated RAM: data + bss without the streamed-image buffer (the stack
    /// comes on top).
    pub fn static_ram_bytes(&self) -> u64 {
        (self.data_bytes + self.bss_bytes).saturating_sub(self.image_buffer_bytes)
    }
}

/// Why an ELF could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a little-endian 32-bit ELF, or its {what} is cut short")]
    Malformed { path: String, what: &'static str },
}

const SHF_WRITE: u32 = 0x1;
const SHF_ALLOC: u32 = 0x2;
const SHT_SYMTAB: u32 = 2;

/// One section header of an ELF32 file (the fields used here).
#[derive(Debug, Clone, Copy)]
struct Section {
    name: u32,
    kind: u32,
    flags: u32,
    offset: u32,
    size: u32,
    link: u32,
}

/// Little-endian reads that fail instead of panicking on short input.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        Some(u16::from_le_bytes(self.0.get(at..at + 2)?.try_into().ok()?))
    }
    fn u32(&self, at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(self.0.get(at..at + 4)?.try_into().ok()?))
    }
    /// The NUL-terminated string at `at`.
    fn cstr(&self, at: usize) -> Option<&str> {
        let rest = self.0.get(at..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }
    fn section(&self, at: usize) -> Option<Section> {
        Some(Section {
            name: self.u32(at)?,
            kind: self.u32(at + 4)?,
            flags: self.u32(at + 8)?,
            offset: self.u32(at + 16)?,
            size: self.u32(at + 20)?,
            link: self.u32(at + 24)?,
        })
    }
}

/// Reads the section sizes of the ELF at `path` (ELF32 little-endian, as thumbv7em emits).
pub fn sizes(path: &Path) -> Result<ElfSizes, ElfError> {
    let p = || path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ElfError::Io { path: p(), source })?;
    let bad = |what| ElfError::Malformed { path: p(), what };
    let b = Bytes(&bytes);
    if bytes.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 1, 1]) {
        return Err(bad("header"));
    }
    let shoff = b.u32(0x20).ok_or(bad("header"))? as usize;
    let shentsize = b.u16(0x2e).ok_or(bad("header"))? as usize;
    let shnum = b.u16(0x30).ok_or(bad("header"))? as usize;
    let shstrndx = b.u16(0x32).ok_or(bad("header"))? as usize;
    let sections: Vec<Section> = (0..shnum)
        .map(|i| b.section(shoff + i * shentsize))
        .collect::<Option<_>>()
        .ok_or(bad("section table"))?;
    let names = sections.get(shstrndx).ok_or(bad("section names"))?;
    let mut s = ElfSizes::default();
    for sec in &sections {
        if sec.flags & SHF_ALLOC == 0 {
            continue; // debug info, .defmt: never on the device
        }
        let name = b
            .cstr(names.offset as usize + sec.name as usize)
            .unwrap_or("");
        let size = sec.size as u64;
        match name {
            ".vector_table" => s.text_bytes += size,
            n if n.starts_with(".text") => s.text_bytes += size,
            n if n.starts_with(".rodata") => s.rodata_bytes += size,
            ".data" => s.data_bytes += size,
            ".bss" | ".uninit" => s.bss_bytes += size,
            _ if sec.flags & SHF_WRITE != 0 && size > 0 => s.bss_bytes += size,
            _ => {}
        }
    }
    for symtab in sections.iter().filter(|s| s.kind == SHT_SYMTAB) {
        let strtab = sections
            .get(symtab.link as usize)
            .ok_or(bad("symbol names"))?;
        for i in 0..symtab.size as usize / 16 {
            let at = symtab.offset as usize + i * 16;
            let (Some(name), Some(size)) = (b.u32(at), b.u32(at + 8)) else {
                return Err(bad("symbol table"));
            };
            match b.cstr(strtab.offset as usize + name as usize) {
                Some("WHITTLE_IMAGES") => s.images_bytes = size as u64,
                Some("WHITTLE_BLOB") => s.blob_bytes = size as u64,
                Some("WHITTLE_IMAGE_BUF") => s.image_buffer_bytes = size as u64,
                _ => {}
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_elf_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"not an elf").unwrap();
        assert!(matches!(sizes(&p), Err(ElfError::Malformed { .. })));
        assert!(matches!(
            sizes(&dir.path().join("missing")),
            Err(ElfError::Io { .. })
        ));
    }
}
