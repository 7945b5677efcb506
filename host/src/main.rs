//! whittle's command line: parse the arguments, dispatch to `cli::<command>`.

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    cli::Cli::parse().run()
}
