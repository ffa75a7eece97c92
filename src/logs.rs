//! A non-blocking, buffered log writer: request handlers append each formatted line
//! to a shared in-memory buffer (one short lock, no system call, no allocation once
//! the buffer has grown), and one background thread writes the buffer out in large
//! chunks. Writing every line synchronously to stdout cost more than half of the
//! throughput of a cache hit (README, "Request logs").
//!
//! When the buffer is full (the output cannot keep up, e.g. a stalled pipe), new lines
//! are dropped rather than making requests wait on the log; the writer counts them and
//! writes one line saying how many were lost. Dropping [`LogGuard`] writes everything
//! still buffered before it returns, so a clean shutdown loses nothing.

pub mod access;
pub mod json;
pub mod request;

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// Most bytes buffered before new lines are dropped.
pub const DEFAULT_CAPACITY: usize = 4 << 20;
/// Buffered lines reach the output at least this often.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// The writer handed to `tracing_subscriber::fmt().with_writer(..)`. Cheap to clone.
#[derive(Clone)]
pub struct NonBlocking {
    shared: Arc<Shared>,
}

/// Keeps the background thread alive; dropping it flushes every buffered line.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    capacity: usize,
}

struct State {
    buffer: Vec<u8>,
    /// Lines dropped since the writer last reported drops.
    dropped: u64,
    closed: bool,
}

impl NonBlocking {
    /// Starts the background thread writing to `out`; holds at most `capacity` bytes.
    pub fn new(out: impl Write + Send + 'static, capacity: usize) -> (NonBlocking, LogGuard) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buffer: Vec::new(),
                dropped: 0,
                closed: false,
            }),
            wake: Condvar::new(),
            capacity,
        });
        let background = shared.clone();
        let thread = std::thread::Builder::new()
            .name("inferd-log".into())
            .spawn(move || background.run(out))
            .expect("spawn the log writer thread");
        let guard = LogGuard {
            shared: shared.clone(),
            thread: Some(thread),
        };
        (NonBlocking { shared }, guard)
    }

    /// Appends one whole line (or drops it, counted, when the buffer is full).
    pub(crate) fn append(&self, line: &[u8]) {
        self.shared.append(line);
    }

    /// Lines dropped because the buffer was full and not yet reported in the output.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.lock();
        if state.buffer.len() + line.len() > self.capacity {
            state.dropped += 1;
            return;
        }
        state.buffer.extend_from_slice(line);
        // Woken early only when filling fast; otherwise the timer writes the lines,
        // which keeps a futex wake-up off every request.
        if state.buffer.len() > self.capacity / 4 {
            self.wake.notify_one();
        }
    }

    /// The background thread: swap the buffer out under the lock, write it outside.
    fn run(&self, mut out: impl Write) {
        let mut spare = Vec::new();
        loop {
            let (dropped, closed) = {
                let mut state = self.lock();
                if state.buffer.is_empty() && state.dropped == 0 && !state.closed {
                    state = self
                        .wake
                        .wait_timeout(state, FLUSH_INTERVAL)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                std::mem::swap(&mut state.buffer, &mut spare);
                (std::mem::take(&mut state.dropped), state.closed)
            };
            // A failed write (closed stdout) has nowhere to be reported; the lines go.
            let _ = out.write_all(&spare);
            if dropped > 0 {
                let _ = writeln!(
                    out,
                    "{{\"level\":\"WARN\",\"fields\":{{\"message\":\"log lines dropped: the log output could not keep up\",\"dropped\":{dropped}}},\"target\":\"inferd::logs\"}}"
                );
            }
            let _ = out.flush();
            spare.clear();
            if closed {
                return;
            }
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Write for NonBlocking {
    /// The fmt layer formats a whole event into its own buffer and writes it in one
    /// call, so a call is a line and lines never interleave.
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.shared.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = NonBlocking;

    fn make_writer(&'a self) -> NonBlocking {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` whose bytes the test can read after the writer thread is done.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn dropping_the_guard_writes_every_buffered_line_in_order() {
        let sink = Sink::default();
        let (mut writer, guard) = NonBlocking::new(sink.clone(), DEFAULT_CAPACITY);
        for i in 0..10_000 {
            writer.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10_000);
        assert_eq!(lines[0], "line 0");
        assert_eq!(lines[9_999], "line 9999");
    }

    /// An output that blocks until the test lets it go, to fill the buffer.
    struct Stalled(Arc<(Mutex<bool>, Condvar)>, Sink);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (open, cv) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            self.1.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_buffer_drops_new_lines_counts_them_and_says_so() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let sink = Sink::default();
        let (mut writer, guard) = NonBlocking::new(Stalled(gate.clone(), sink.clone()), 100);
        // The first line may already be with the stalled output; then 10 bytes x 10
        // fill the 100-byte buffer and the rest are dropped.
        writer.write_all(b"first....\n").unwrap();
        std::thread::sleep(FLUSH_INTERVAL * 3);
        for _ in 0..30 {
            writer.write_all(b"123456789\n").unwrap();
        }
        assert_eq!(writer.dropped(), 20);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("123456789").count(), 10, "{text}");
        assert!(text.contains("\"dropped\":20"), "{text}");
    }
}
