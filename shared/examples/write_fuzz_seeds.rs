//! Writes small valid blobs (int8 and f32) as seeds for the `from_bytes` fuzz target:
//! `cargo run -p whittle-shared --features std --example write_fuzz_seeds -- DIR`.

#[path = "../tests/common/mod.rs"]
mod common;

use whittle_shared::format::Precision;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus/from_bytes".into());
    std::fs::create_dir_all(&dir)?;
    for (i, widths) in [[2, 2, 2, 2, 4], [1, 3, 2, 1, 2], [4, 2, 3, 2, 5]]
        .into_iter()
        .enumerate()
    {
        for p in [Precision::Int8, Precision::F32] {
            let (b, y) = common::seed_net(p, widths, i as u64);
            let bytes = b
                .finish(y)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let path = format!("{dir}/seed-{i}-{p:?}.whittle");
            std::fs::write(&path, bytes)?;
            println!("{path}");
        }
    }
    Ok(())
}
