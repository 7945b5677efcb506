//! `whittle experiment CONFIG`: run a sweep's points (all unfinished ones, or one with
//! `--point K`), list them for a scheduler, or collect the finished ones into the report.

use std::path::PathBuf;

use clap::Args;

use whittle::experiment::{self, config};

/// Arguments of `whittle experiment`.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// The config file (JSON).
    config: PathBuf,
    /// Run only point K (0 = the unpruned base); see --list.
    #[arg(long)]
    point: Option<usize>,
    /// Print the points, one `K name` per line, and exit.
    #[arg(long)]
    list: bool,
    /// Only collect the finished points into results.json / results.csv / chart.svg.
    #[arg(long)]
    report: bool,
    /// Output directory (default: the config's `out`, or beside it named after it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Data directory (default: the config's `data`, then WHITTLE_DATA).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// Run `whittle experiment`.
pub fn run(a: ExperimentArgs) -> anyhow::Result<()> {
    let l = config::load(&a.config, a.data.clone(), a.out.clone())?;
    if a.list {
        for p in l.config.points() {
            println!("{} {}", p.index, p.name());
        }
        return Ok(());
    }
    if let Some(k) = a.point {
        let r = experiment::run_point(&l, k)?;
        eprintln!(
            "point {k} ({}): {:.1}% weights removed, val {:.2}%, int8 test {:.2}%, {} instructions",
            r.name,
            r.weights_removed_pct,
            100.0 * r.val_acc,
            100.0 * r.test_acc_int8,
            r.instructions
        );
        return Ok(());
    }
    let rep = if a.report {
        experiment::report(&l)?
    } else {
        experiment::run_all(&l, &mut |r, done| {
            eprintln!(
                "point {} ({}){}: {:.1}% weights removed, val {:.2}%, int8 test {:.2}% ({:.0} s)",
                r.point.index,
                r.name,
                if done { " already done" } else { "" },
                r.weights_removed_pct,
                100.0 * r.val_acc,
                100.0 * r.test_acc_int8,
                r.seconds
            )
        })?
    };
    eprintln!(
        "{} of {} points finished; {}",
        rep.results.len(),
        rep.points,
        l.out.join("results.json").display()
    );
    for s in &rep.summary {
        println!(
            "{:<8} removed {:>4.0}% ({:>5.1}% of weights)  int8 test {:.2}% [{:.2}, {:.2}]  val {:.2}%  seeds {}",
            s.method,
            100.0 * s.removed,
            s.weights_removed_pct,
            100.0 * s.test_acc_int8.0,
            100.0 * s.test_acc_int8.1,
            100.0 * s.test_acc_int8.2,
            100.0 * s.val_acc.0,
            s.seeds
        );
    }
    Ok(())
}
