//! whittle on Cortex-M: validates the baked-in blob, runs every test image (baked in, or
//! streamed from the host) through the `shared` kernels, and reports over defmt.
#![no_std]
#![no_main]

mod clock;
mod model;
mod stack;
#[cfg(transport = "semihosting")]
mod stream;
#[cfg(transport = "rtt")]
#[path = "transport_rtt.rs"]
mod transport;
#[cfg(transport = "semihosting")]
#[path = "transport_semihosting.rs"]
mod transport;

use cortex_m_rt::entry;
use whittle_shared::{Model, crc32::crc32, exec};

use model::{Aligned, KERNELS, N_IMAGES, N_OPS, RAM_BYTES};

/// The activation arena plus scratch, exactly the blob's `ram_bytes()`, 16-byte aligned.
static mut RAM: Aligned<[u8; RAM_BYTES]> = Aligned([0; RAM_BYTES]);

#[entry]
fn main() -> ! {
    let code = run();
    transport::exit(code)
}

/// Index of the largest value; the first one on ties (the host simulation agrees).
fn argmax(v: &[i8]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

fn run() -> i32 {
    let Some(cp) = cortex_m::Peripherals::take() else {
        return 2;
    };
    clock::start(cp.SYST);
    defmt::info!("whittle-report v1 machine={=str}", model::MACHINE);
    let calib = clock::calibrate();
    defmt::info!(
        "calib instructions={=u32} ticks={=u64}",
        2 * clock::CALIB_ITERS,
        calib
    );

    #[cfg(transport = "semihosting")]
    let mut stream = if model::STREAM {
        match stream::open() {
            Ok(s) => Some(s),
            Err(e) => {
                defmt::error!("images_error {}", e);
                return 1;
            }
        }
    } else {
        None
    };
    #[cfg(transport = "semihosting")]
    let n_images = stream.as_ref().map_or(N_IMAGES as u32, |s| s.count);
    #[cfg(not(transport = "semihosting"))]
    let n_images = N_IMAGES as u32;

    let t0 = clock::now();
    let model = match validate() {
        Ok(m) => m,
        Err(e) => {
            defmt::error!("format_error {}", e);
            return 1;
        }
    };
    let validate = clock::now() - t0;
    defmt::info!(
        "model blob_bytes={=u32} ops={=u16} arena_bytes={=u32} scratch_bytes={=u32} ram_bytes={=u32} images={=u32} validate_ticks={=u64}",
        model.blob_len(),
        model.n_ops(),
        model.arena_bytes() as u32,
        model.scratch_bytes() as u32,
        model.ram_bytes() as u32,
        n_images,
        validate
    );

    // SAFETY: `run` is called once from `main`; this is the only reference to RAM.
    let ram: &mut [u8] = unsafe { &mut (*core::ptr::addr_of_mut!(RAM)).0 };
    let mut layer_ticks = [0u64; N_OPS];
    let mut correct = 0u32;
    for i in 0..n_images {
        #[cfg(transport = "semihosting")]
        let next = next_image(i, stream.as_mut());
        #[cfg(not(transport = "semihosting"))]
        let next = model::image(i as usize).ok_or(());
        let (label, pixels) = match next {
            Ok(img) => img,
            Err(e) => {
                defmt::error!("images_error {}", e);
                return 1;
            }
        };
        let start = clock::now();
        let mut last = start;
        let mut observe = |op: u16, _: &whittle_shared::Op, _: &[i8]| {
            let t = clock::now();
            if let Some(slot) = layer_ticks.get_mut(op as usize) {
                *slot += t - last;
            }
            last = t;
        };
        let out = match exec::run_s8_in::<KERNELS>(&model, pixels, ram, &mut observe) {
            Ok(out) => out,
            Err(e) => {
                defmt::error!("run_error image={=u32} {}", i, e);
                return 1;
            }
        };
        let ticks = clock::now() - start;
        let pred = argmax(out);
        correct += (pred == label as u32) as u32;
        defmt::info!(
            "image index={=u32} label={=u8} pred={=u32} crc={=u32:#010x} ticks={=u64}",
            i,
            label,
            pred,
            crc32(bytemuck::cast_slice(out)),
            ticks
        );
    }
    for (i, op) in model.ops().enumerate() {
        let name = op.map(|o| o.name()).unwrap_or("?");
        let ticks = layer_ticks.get(i).copied().unwrap_or(0);
        defmt::info!(
            "layer index={=u32} op={=str} ticks={=u64}",
            i as u32,
            name,
            ticks
        );
    }
    let (peak, size) = stack::usage();
    defmt::info!("stack peak_bytes={=u32} size_bytes={=u32}", peak, size);
    defmt::info!("done images={=u32} correct={=u32}", n_images, correct);
    0
}

/// The baked-in blob, validated: the light check of bytes build.rs validated (outlining
/// this measured 270–550 B more code and no less stack).
#[inline]
fn validate() -> Result<Model<'static>, whittle_shared::Error> {
    let blob = &model::WHITTLE_BLOB.0;
    if model::BLOB_VALIDATED {
        // SAFETY: build.rs ran `Model::from_bytes` on these bytes (same crate, same
        // version) and it accepted them; header, CRC and metadata are checked again here.
        unsafe { Model::from_validated_bytes(blob) }
    } else {
        Model::from_bytes(blob)
    }
}

/// Test image `i`: read from the host when streaming, else the baked-in one.
#[cfg(transport = "semihosting")]
fn next_image(
    i: u32,
    stream: Option<&mut stream::Stream>,
) -> Result<(u8, &[i8]), stream::StreamError> {
    match stream {
        Some(s) => s.next(i),
        None => model::image(i as usize).ok_or(stream::StreamError::Truncated { image: i }),
    }
}

/// A panic (a bug: nothing panics on a validated blob) ends the run with status 101. The
/// message is not formatted: reading it links `core::fmt` (~5 KB). Feature `panic-location`
/// adds the file and line (and that code), for debugging.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    #[cfg(feature = "panic-location")]
    if let Some(l) = _info.location() {
        defmt::error!("panic at {=str}:{=u32}", l.file(), l.line());
    }
    defmt::error!("panic");
    transport::exit(101)
}

/// The device interrupt table (cortex-m-rt's `device` feature): one entry, the default
/// handler — the firmware enables no interrupt (SysTick is a core exception), and the
/// default table's 240 entries (480 on Armv8-M) would cost 960 B (1,920 B) of flash.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
static __INTERRUPTS: [unsafe extern "C" fn(); 1] = [{
    unsafe extern "C" {
        fn DefaultHandler();
    }
    DefaultHandler
}];
