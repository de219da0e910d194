//! Running Rust work from Python: on a worker thread with the GIL released, so that other
//! Python threads go on, while the calling thread wakes every few milliseconds to forward
//! progress to a Python callback and to run Python's signal handlers (Ctrl-C raises
//! `KeyboardInterrupt` there, which sets the work's interrupt flag: the work stops after its
//! current step and the error is raised when it has returned).

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::errors::panic_error;

/// How often the calling thread wakes to check signals and forward progress.
const POLL: Duration = Duration::from_millis(20);

/// Stack of the worker thread (the CLI's main thread has 8 MiB; the engine recurses little,
/// but the gallery's entries run whole sweeps).
const WORKER_STACK: usize = 16 << 20;

/// What the work and the calling thread share.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Set when the caller is interrupted (Ctrl-C, or the progress callback raised): the work
    /// stops after its current step.
    pub interrupt: AtomicBool,
    /// The latest progress report, taken by the calling thread.
    latest: Mutex<Option<(u64, u64, String)>>,
    /// Set when the work has returned, with `finished` notified.
    done: Mutex<bool>,
    finished: Condvar,
}

impl Control {
    /// Reports `done` of `total` units with a short text (e.g. the risk).
    pub(crate) fn report(&self, done: u64, total: u64, text: impl FnOnce() -> String) {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some((done, total, text()));
        }
    }

    /// Whether the work was asked to stop.
    pub(crate) fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::SeqCst)
    }
}

/// The rayon pool of `threads` threads, built once per count and kept.
fn pool(threads: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    if threads == 0 {
        return Err(PyValueError::new_err(
            "threads = 0: expected None (all cores) or an integer >= 1",
        ));
    }
    let mut pools = POOLS
        .get_or_init(Mutex::default)
        .lock()
        .map_err(|_| PyRuntimeError::new_err("the thread-pool cache is poisoned"))?;
    if let Some(pool) = pools.get(&threads) {
        return Ok(pool.clone());
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start {threads} threads: {e}")))?,
    );
    pools.insert(threads, pool.clone());
    Ok(pool)
}

impl Control {
    /// Waits (the GIL released by the caller) until the work is done or `POLL` has passed;
    /// returns whether it is done.
    fn wait(&self) -> bool {
        let Ok(done) = self.done.lock() else {
            return true;
        };
        self.finished
            .wait_timeout_while(done, POLL, |done| !*done)
            .map_or(true, |(done, _)| *done)
    }

    /// Marks the work done and wakes the waiting caller.
    fn finish(&self) {
        if let Ok(mut done) = self.done.lock() {
            *done = true;
        }
        self.finished.notify_all();
    }
}

/// The outcome of supervised work: its result, and the Python error (`KeyboardInterrupt`, or
/// what the progress callback raised) that stopped it, which the caller raises once it has
/// kept what the work left (a checkpoint, the particles at the step reached).
pub(crate) struct Supervised<R> {
    /// What the work returned.
    pub result: R,
    /// The error that interrupted it, if any.
    pub interrupted_by: Option<PyErr>,
}

/// Runs `work` on a worker thread in the pool of `threads` threads (the global pool: all
/// cores), the GIL released, while this thread forwards `progress(done, total, text)` and runs
/// the signal handlers. A panic of the work is a `RuntimeError`.
pub(crate) fn supervised<R: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    progress: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&Control) -> R + Send,
) -> PyResult<Supervised<R>> {
    let pool = threads.map(pool).transpose()?;
    let control = Control::default();
    std::thread::scope(|scope| {
        let control = &control;
        let handle = std::thread::Builder::new()
            .name("meanfield".into())
            .stack_size(WORKER_STACK)
            .spawn_scoped(scope, move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| match &pool {
                    Some(pool) => pool.install(|| work(control)),
                    None => work(control),
                }));
                control.finish();
                outcome
            })
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start a worker thread: {e}")))?;
        let mut interrupted_by = None;
        loop {
            let finished = py.detach(|| control.wait());
            let report = control.latest.lock().ok().and_then(|mut l| l.take());
            if let (Some(callback), Some((done, total, text))) = (progress, report)
                && interrupted_by.is_none()
                && let Err(e) = callback.call1((done, total, text))
            {
                control.interrupt.store(true, Ordering::SeqCst);
                interrupted_by = Some(e);
            }
            if interrupted_by.is_none()
                && let Err(e) = py.check_signals()
            {
                control.interrupt.store(true, Ordering::SeqCst);
                interrupted_by = Some(e);
            }
            if finished {
                break;
            }
        }
        match handle.join() {
            Ok(Ok(result)) => Ok(Supervised {
                result,
                interrupted_by,
            }),
            Ok(Err(payload)) | Err(payload) => Err(panic_error(&*payload)),
        }
    })
}

/// The number of threads work in the pool of `threads` uses (rayon's, when called from it).
pub(crate) fn current_threads() -> usize {
    rayon::current_num_threads()
}
