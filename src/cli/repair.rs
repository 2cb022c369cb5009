//! `actmap repair RUN`: rewrite a damaged run log keeping every record
//! that can still be read, and say what was lost.

use std::path::PathBuf;

use actmap::runlog;
use clap::Args;

#[derive(Args, Debug)]
pub struct RepairArgs {
    /// The run log directory.
    run: PathBuf,
}

pub fn run(args: RepairArgs) -> anyhow::Result<()> {
    let run = &args.run;
    let report = runlog::repair(run)?;
    if let Some(pid) = &report.took_over_lock {
        println!(
            "{}: took over the lock left by {pid}, which is no longer running",
            run.display()
        );
    }
    if report.is_clean() {
        println!("{}: nothing damaged", run.display());
        return Ok(());
    }
    for d in &report.root {
        println!("{}: {} (rewritten)", d.file.display(), d.why);
    }
    for c in &report.channels {
        match &c.unreadable {
            Some(why) => println!("channel '{}': nothing could be kept: {why}", c.name),
            None => {
                let mut line = format!("channel '{}': kept {} records", c.name, c.kept);
                if c.blank > 0 {
                    line += &format!(
                        "; {} of them lost their values and are kept as NaN at their steps",
                        c.blank
                    );
                }
                let dropped = c.lost - c.blank;
                if dropped > 0 {
                    line += &format!("; {dropped} records dropped (their steps are lost)");
                }
                println!("{line}");
                for d in &c.damage {
                    let rows = if d.rows.is_empty() {
                        String::new()
                    } else if d.array == runlog::TIME {
                        format!(
                            " (write times of records {}..{} unknown)",
                            d.rows.start, d.rows.end
                        )
                    } else {
                        format!(" (records {}..{})", d.rows.start, d.rows.end)
                    };
                    println!("  {}: {}{rows}", d.file.display(), d.why);
                }
            }
        }
    }
    if let Some(dir) = &report.moved_to {
        println!(
            "the damaged channels were moved to {} (delete it when you no longer need it)",
            dir.display()
        );
    }
    Ok(())
}
