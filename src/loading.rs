//! The pool while its engine loads. Verifying ~120 MB of assets and loading the model take about
//! a second: the constructor starts that on its own thread and returns, so the JS event loop
//! keeps turning. Tasks added meanwhile wait here (their ids checked at once), a `process()`
//! called meanwhile starts its run the moment the engine is ready, and a load error rejects
//! `ready()` and `process()`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use kokoro_engine::{
    Batch, Engine, EngineOptions, Pool, PoolConfig, PoolError, RunCanceller, Task,
};
use napi::bindgen_prelude::{Error, Result, Status};
use tokio::sync::{oneshot, watch};

use crate::{engine_error, pool_error};

pub struct LoadingPool {
    state: Mutex<State>,
    /// `true` once the state is `Ready` or `Failed`.
    loaded: watch::Receiver<bool>,
}

enum State {
    Loading {
        tasks: Vec<Task>,
        /// Their ids, so that adding tasks costs O(tasks added).
        ids: HashSet<String>,
        /// The `process()` that waits for the engine: its run begins as soon as the pool exists.
        waiting_run: Option<WaitingRun>,
    },
    Ready(Arc<Pool>),
    Failed {
        status: Status,
        message: String,
    },
}

struct WaitingRun {
    start: oneshot::Sender<Result<Batch>>,
    cancel: RunCancel,
    /// The tasks queued when `process()` was called: the run's own; later ones wait for the next.
    task_count: usize,
}

/// Cancels one run, and only that one, whether it has begun or still waits for the engine (then
/// it begins cancelled: its tasks end as `cancelled`).
#[derive(Clone, Default)]
pub struct RunCancel(Arc<Mutex<CancelState>>);

#[derive(Default)]
struct CancelState {
    requested: bool,
    begun: Option<RunCanceller>,
}

impl RunCancel {
    fn begun(canceller: RunCanceller) -> RunCancel {
        RunCancel(Arc::new(Mutex::new(CancelState {
            requested: false,
            begun: Some(canceller),
        })))
    }

    fn state(&self) -> MutexGuard<'_, CancelState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn cancel(&self) {
        let mut state = self.state();
        state.requested = true;
        if let Some(run) = &state.begun {
            run.cancel();
        }
    }

    /// The run has begun: a cancel that came first reaches it now.
    fn begin(&self, canceller: RunCanceller) {
        let mut state = self.state();
        if state.requested {
            canceller.cancel();
        }
        state.begun = Some(canceller);
    }
}

/// How a `process()` call gets its run: now, or when the engine is ready.
pub enum RunStart {
    Now(Box<Batch>),
    AfterLoad(oneshot::Receiver<Result<Batch>>, RunCancel),
}

impl RunStart {
    /// Cancels this run only.
    pub fn canceller(&self) -> RunCancel {
        match self {
            RunStart::Now(batch) => RunCancel::begun(batch.canceller()),
            RunStart::AfterLoad(_, cancel) => cancel.clone(),
        }
    }

    pub async fn batch(self) -> Result<Batch> {
        match self {
            RunStart::Now(batch) => Ok(*batch),
            RunStart::AfterLoad(start, _) => start.await.unwrap_or_else(|_| {
                Err(Error::new(
                    Status::GenericFailure,
                    "the engine loader stopped before the run began",
                ))
            }),
        }
    }
}

impl LoadingPool {
    /// Starts loading the engine on its own thread and returns at once.
    pub fn start(engine_options: EngineOptions, config: PoolConfig) -> Arc<LoadingPool> {
        let (done, loaded) = watch::channel(false);
        let pool = Arc::new(LoadingPool {
            state: Mutex::new(State::Loading {
                tasks: Vec::new(),
                ids: HashSet::new(),
                waiting_run: None,
            }),
            loaded,
        });
        let loading = pool.clone();
        std::thread::spawn(move || {
            // A panic must not leave ready() and process() waiting forever.
            let result =
                std::panic::catch_unwind(|| load(&engine_options, config)).unwrap_or_else(|_| {
                    Err(Error::new(
                        Status::GenericFailure,
                        "internal error: the engine loader panicked",
                    ))
                });
            loading.finish(result);
            let _ = done.send(true);
        });
        pool
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves to `Ready` (handing over the waiting tasks and run) or `Failed`.
    fn finish(&self, result: Result<Pool>) {
        let mut state = self.state();
        let State::Loading {
            mut tasks,
            waiting_run,
            ..
        } = std::mem::replace(
            &mut *state,
            State::Loading {
                tasks: Vec::new(),
                ids: HashSet::new(),
                waiting_run: None,
            },
        )
        else {
            return;
        };
        let for_next_run = waiting_run.as_ref().map_or(Vec::new(), |run| {
            tasks.split_off(run.task_count.min(tasks.len()))
        });
        let pool = result.and_then(|pool| {
            // Checked on the way in; only their per-task checks against the voices happen here.
            pool.add_tasks(tasks).map_err(pool_error)?;
            Ok(Arc::new(pool))
        });
        match pool {
            Ok(pool) => {
                if let Some(run) = waiting_run {
                    let batch = pool.begin().map_err(pool_error);
                    if let Ok(batch) = &batch {
                        run.cancel.begin(batch.canceller());
                    }
                    let _ = run.start.send(batch);
                }
                // The same checks the run's own tasks passed; the ids were checked on the way in.
                if let Err(error) = pool.add_tasks(for_next_run).map_err(pool_error) {
                    *state = State::Failed {
                        status: error.status,
                        message: error.reason,
                    };
                    return;
                }
                *state = State::Ready(pool);
            }
            Err(error) => {
                if let Some(run) = waiting_run {
                    let _ = run
                        .start
                        .send(Err(Error::new(error.status, error.reason.clone())));
                }
                *state = State::Failed {
                    status: error.status,
                    message: error.reason,
                };
            }
        }
    }

    /// Resolves when the engine is loaded; rejects with the load error.
    pub async fn ready(&self) -> Result<()> {
        let mut loaded = self.loaded.clone();
        let _ = loaded.wait_for(|loaded| *loaded).await;
        match &*self.state() {
            State::Failed { status, message } => Err(Error::new(*status, message.clone())),
            _ => Ok(()),
        }
    }

    /// Queues tasks; refused (nothing queued) on an empty or duplicate id, as the pool does.
    pub fn add_tasks(&self, new_tasks: Vec<Task>) -> Result<()> {
        match &mut *self.state() {
            State::Loading { tasks, ids, .. } => {
                kokoro_engine::check_ids(|id| ids.contains(id), &new_tasks).map_err(pool_error)?;
                ids.extend(new_tasks.iter().map(|task| task.id.clone()));
                tasks.extend(new_tasks);
                Ok(())
            }
            State::Ready(pool) => pool.add_tasks(new_tasks).map(|_| ()).map_err(pool_error),
            // The load failed: ready() and process() reject with its error, and no task can run.
            State::Failed { .. } => Ok(()),
        }
    }

    /// Takes the queue for a run, or a promise of it while the engine loads.
    pub fn start_run(&self) -> Result<RunStart> {
        match &mut *self.state() {
            State::Ready(pool) => pool
                .begin()
                .map(|batch| RunStart::Now(Box::new(batch)))
                .map_err(pool_error),
            State::Failed { status, message } => Err(Error::new(*status, message.clone())),
            State::Loading {
                tasks, waiting_run, ..
            } => {
                if waiting_run.is_some() {
                    return Err(pool_error(PoolError::AlreadyProcessing));
                }
                let (start, started) = oneshot::channel();
                let cancel = RunCancel::default();
                *waiting_run = Some(WaitingRun {
                    start,
                    cancel: cancel.clone(),
                    task_count: tasks.len(),
                });
                Ok(RunStart::AfterLoad(started, cancel))
            }
        }
    }

    pub fn cancel(&self) {
        match &mut *self.state() {
            State::Ready(pool) => pool.cancel(),
            State::Loading {
                waiting_run: Some(run),
                ..
            } => run.cancel.cancel(),
            _ => {}
        }
    }

    pub fn queue_size(&self) -> usize {
        match &*self.state() {
            State::Loading { tasks, .. } => tasks.len(),
            State::Ready(pool) => pool.queue_size(),
            State::Failed { .. } => 0,
        }
    }

    pub fn active_workers(&self) -> usize {
        match &*self.state() {
            State::Ready(pool) => pool.active_workers(),
            _ => 0,
        }
    }
}

/// Verifies the assets, loads the model and makes the pool. The Japanese dictionary (with the
/// pool's user dictionary) loads at the same time on another thread: the first tasks' text
/// analysis does not wait for it after the model is ready.
fn load(engine_options: &EngineOptions, config: PoolConfig) -> Result<Pool> {
    let engine = Engine::shared_with_analyser(engine_options, config.user_dictionary.as_ref())
        .map_err(engine_error)?;
    Pool::new(engine, config).map_err(pool_error)
}
