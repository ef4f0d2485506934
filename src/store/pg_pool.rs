//! A few PostgreSQL connections, each on its own thread.
//!
//! Why threads and the synchronous `postgres` crate: the [`Store`](super::Store)
//! trait is synchronous and the hub calls it from async tasks as well as from
//! blocking ones. The `postgres` client drives its own small runtime, which
//! must never run on a Tokio worker thread; a job handed to a dedicated
//! thread and waited for over a channel blocks the caller exactly like a
//! SQLite commit does, and works from any context. A connection that broke
//! (the database restarted) is opened again for the next job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use postgres::{Client, NoTls};

use super::StoreError;

/// A job; it returns whether the connection looks broken (dropped then).
type Job = Box<dyn FnOnce(Result<&mut Client, postgres::Error>) -> bool + Send>;

/// A fixed set of connection threads sharing one job queue.
pub(crate) struct Pool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Starts `size` threads connecting with `config` (lazily, on their first job).
    pub(crate) fn start(config: postgres::Config, size: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let generation = Arc::new(AtomicU64::new(0));
        let threads = (0..size.max(1))
            .map(|n| {
                let (rx, generation) = (Arc::clone(&rx), Arc::clone(&generation));
                let config = config.clone();
                std::thread::Builder::new()
                    .name(format!("tandem-pg-{n}"))
                    .spawn(move || worker(&rx, &config, &generation))
            })
            .filter_map(Result::ok)
            .collect();
        Self {
            jobs: Mutex::new(Some(tx)),
            threads: Mutex::new(threads),
        }
    }

    /// Runs `f` on one connection and waits for its result.
    pub(crate) fn run<R, F>(&self, op: &'static str, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let result = client.and_then(f);
            // An error without SQLSTATE did not come from the server: the
            // socket broke (a restart, a failover); the client may not have
            // noticed yet, so it is replaced for the next job.
            let broken = matches!(&result, Err(e) if e.code().is_none());
            let _ = tx.send(result);
            broken
        });
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|jobs| jobs.send(job).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(StoreError::Unsupported(
                "the PostgreSQL store is closed".into(),
            ));
        }
        match rx.recv() {
            Ok(result) => result.map_err(|source| StoreError::postgres(op, source)),
            Err(_) => Err(StoreError::Unsupported(
                "a PostgreSQL connection thread stopped".into(),
            )),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends every thread once it finished its job.
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// One connection thread. `generation` counts the broken connections seen
/// by any thread: when one finds the database gone (restarted, failed over),
/// the others' connections are as stale, so every thread reconnects before
/// its next job instead of failing it.
fn worker(rx: &Mutex<mpsc::Receiver<Job>>, config: &postgres::Config, generation: &AtomicU64) {
    let mut client: Option<(Client, u64)> = None;
    loop {
        // The lock is held only while waiting for the next job.
        let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let current = generation.load(Ordering::SeqCst);
        if client
            .as_ref()
            .is_none_or(|(c, seen)| c.is_closed() || *seen != current)
        {
            client = None;
            match config.connect(NoTls) {
                Ok(fresh) => client = Some((fresh, current)),
                Err(e) => {
                    // Unreachable: the other threads' connections are stale too.
                    generation.fetch_add(1, Ordering::SeqCst);
                    job(Err(e));
                    continue;
                }
            }
        }
        if let Some((c, _)) = client.as_mut() {
            if job(Ok(c)) {
                client = None;
                generation.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
