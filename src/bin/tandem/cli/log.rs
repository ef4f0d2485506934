//! `tandem log URL|FILE`: a document's history as edit bursts (author,
//! time, changes, paths), or every change as one JSON line (`--json`).

use clap::Args;

use super::source::SourceArgs;
use super::CliError;
use tandem::history::{self, BurstRules};

/// Flags of `tandem log`.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// One JSON object per change, oldest first (hash, actor, time, deps, …).
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: LogArgs) -> Result<(), CliError> {
    let doc = args.source.load().await?;
    let changes = history::changes(&doc);
    let mut out = std::io::stdout().lock();
    if args.json {
        for change in &changes {
            if !super::print_line(&mut out, &serde_json::to_string(change)?)? {
                break;
            }
        }
        return Ok(());
    }
    let mut bursts = history::bursts(&changes, BurstRules::default());
    history::touched_paths(&doc, &mut bursts);
    for burst in &bursts {
        let noun = if burst.changes == 1 {
            "change"
        } else {
            "changes"
        };
        let line = format!(
            "{}  {}  {} {noun}, {} ops  {}\n    at {}",
            format_time(burst.start),
            burst.author,
            burst.changes,
            burst.ops,
            burst.paths.join(" "),
            burst.heads_after.join(",")
        );
        if !super::print_line(&mut out, &line)? {
            break;
        }
    }
    Ok(())
}

/// `2024-05-01 12:34:56 UTC` from seconds since the epoch ("unknown time" for 0).
pub(crate) fn format_time(secs: i64) -> String {
    if secs <= 0 {
        return "(unknown time)         ".into();
    }
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(format_time(1_631_790_616), "2021-09-16 11:10:16 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert!(format_time(0).starts_with("(unknown time)"));
    }
}
