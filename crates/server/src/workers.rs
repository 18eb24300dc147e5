//! The worker threads (`-t`): each runs its own single-threaded tokio runtime, and every
//! connection lives on one of them from accept to close, as in memcached.
//!
//! Why not one multi-threaded runtime: its work stealing moves a connection's task between
//! threads, so one request may be served on one core and the next on the other, away from
//! the cache lines its socket and task last used. With it the server's CPU per request on
//! this 2-core machine was bimodal (about 10.5 or 12.3 µs in scenario 1, from run to run),
//! with the same system calls in both modes. Stealing was the suspect: with the connections
//! pinned the CPU per request stays at the lower figure in most runs (5 of 6; bench/RESULTS.md,
//! History, "late night"). The price is memcached's: a thread's connections wait while it is
//! busy or descheduled, even when the other thread is idle (scenario 5's p99 got worse).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

pub(crate) struct Workers {
    handles: Vec<Handle>,
    /// Round robin, as memcached hands out new connections.
    next: AtomicUsize,
    /// Each worker thread runs until this is cancelled (by `stop`, or by dropping `Workers`,
    /// which `run`'s future does when it is dropped); its runtime, and any task still on it,
    /// then goes.
    done: CancellationToken,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Workers {
    /// Starts `n` worker threads (at least one). On an error the threads already started end.
    pub(crate) fn start(n: usize) -> std::io::Result<Workers> {
        let done = CancellationToken::new();
        // Ends the threads started so far if a later one fails (disarmed on success).
        let on_error = done.clone().drop_guard();
        let mut handles = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            // The runtime is built, run and dropped on its own thread: dropped here, inside
            // `run`'s async context, it would panic.
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let until = done.clone();
            let thread = std::thread::Builder::new()
                // Linux keeps 15 bytes of a thread's name (`top -H`, `ps -L`).
                .name(format!("fc-worker-{i}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    match runtime {
                        Ok(runtime) => {
                            let _ = tx.send(Ok(runtime.handle().clone()));
                            runtime.block_on(async {
                                tokio::spawn(crate::alloc::return_memory_when_idle());
                                until.cancelled().await
                            });
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                })
                .map_err(|e| {
                    std::io::Error::new(e.kind(), format!("can't create worker thread {i}: {e}"))
                })?;
            threads.push(thread);
            let handle = rx.recv().map_err(|_| {
                std::io::Error::other("a worker thread ended before its runtime was built")
            })??;
            handles.push(handle);
        }
        on_error.disarm();
        Ok(Workers {
            handles,
            next: AtomicUsize::new(0),
            done,
            threads: Mutex::new(threads),
        })
    }

    /// The runtime of the worker that takes the next connection.
    pub(crate) fn next(&self) -> &Handle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[i]
    }

    /// Ends the worker threads and waits for them; returns how many ended. Call once no
    /// connection is left.
    pub(crate) async fn stop(&self) -> usize {
        self.done.cancel();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        tokio::task::spawn_blocking(move || join_all(threads))
            .await
            .unwrap_or(0)
    }
}

/// Waits for `threads` to end; returns how many ended without a panic.
fn join_all(threads: Vec<JoinHandle<()>>) -> usize {
    threads.into_iter().filter_map(|t| t.join().ok()).count()
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.done.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn connections_go_round_robin_and_stop_ends_the_threads() {
        let workers = Workers::start(3).unwrap();
        let mut names = Vec::new();
        for _ in 0..6 {
            let name = workers
                .next()
                .spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .unwrap();
            names.push(name.unwrap());
        }
        assert_eq!(names, [0, 1, 2, 0, 1, 2].map(|i| format!("fc-worker-{i}")));
        let ended = tokio::time::timeout(Duration::from_secs(10), workers.stop())
            .await
            .expect("the worker threads end");
        assert_eq!(ended, 3);
        // A stopped worker takes no more tasks: the spawned task is dropped unrun.
        let ran = workers.next().spawn(async {}).await;
        assert!(ran.is_err());
    }

    #[test]
    fn dropping_the_workers_ends_their_threads() {
        let workers = Workers::start(2).unwrap();
        let threads = std::mem::take(&mut *workers.threads.lock().unwrap());
        drop(workers);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(join_all(threads));
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(2));
    }

    #[test]
    fn at_least_one_worker() {
        let workers = Workers::start(0).unwrap();
        assert_eq!(workers.handles.len(), 1);
    }
}
