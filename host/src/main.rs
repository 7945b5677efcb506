//! whittle's command line: parse the arguments, dispatch to `cli::<command>`.

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    whittle::heap::keep_freed_buffers();
    cli::Cli::parse().run()
}
