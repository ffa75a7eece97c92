//! Progress on stderr: a bar redrawn in place on a terminal, a plain line every few
//! seconds otherwise (a log file or CI gets no carriage returns).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Bar redraws at most this often.
const REDRAW: Duration = Duration::from_millis(200);
/// Lines to a pipe or file at most this often.
const LINE_EVERY: Duration = Duration::from_secs(5);
/// Width of the bar in characters.
const BAR: usize = 30;

/// Rows done out of the file's rows.
pub(crate) struct Progress {
    /// Rows in the input file (from its footer).
    total: u64,
    /// Rows written so far.
    done: u64,
    /// When scoring started, for the rate.
    started: Instant,
    /// When progress was last shown.
    shown: Instant,
    /// Whether stderr is a terminal (bar) or not (lines).
    terminal: bool,
}

impl Progress {
    /// Starts counting towards `total` rows.
    pub(crate) fn new(total: u64) -> Progress {
        let now = Instant::now();
        Progress {
            total,
            done: 0,
            started: now,
            shown: now,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Counts `rows` more rows done, showing progress when it is time.
    pub(crate) fn add(&mut self, rows: usize) {
        self.done += rows as u64;
        let every = if self.terminal { REDRAW } else { LINE_EVERY };
        if self.shown.elapsed() >= every {
            self.shown = Instant::now();
            self.show();
        }
    }

    /// Rows per second so far.
    pub(crate) fn rate(&self) -> f64 {
        self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    /// Seconds since the start.
    pub(crate) fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Rows done.
    pub(crate) fn done(&self) -> u64 {
        self.done
    }

    /// Ends the bar's line, so what follows starts on a line of its own.
    pub(crate) fn end(&self) {
        if self.terminal && self.done > 0 {
            self.show();
            eprintln!();
        }
    }

    fn show(&self) {
        let share = if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        };
        let rate = self.rate();
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let filled = ((share * BAR as f64) as usize).min(BAR);
            let bar = format!("{}{}", "#".repeat(filled), "-".repeat(BAR - filled));
            let _ = write!(
                err,
                "\rinferd score: [{bar}] {:>3.0}% {}/{} rows, {rate:.0} rows/s",
                share * 100.0,
                self.done,
                self.total
            );
            let _ = err.flush();
        } else {
            let _ = writeln!(
                err,
                "inferd score: {}/{} rows ({:.0}%), {rate:.0} rows/s",
                self.done,
                self.total,
                share * 100.0
            );
        }
    }
}
