"""An NNI execution engine that trains models in a pool of persistent worker processes.

NNI 3.0 has two engines that run trials locally: the sequential engine (one trial at a time,
in the strategy's process) and the training-service engine (a new process per trial, started
by NNI's Node.js manager: every trial imports torch and NNI again, several seconds of CPU per
trial, which on a small digits trial is as long as the training; results arrive through the
manager's polling). ``PoolExecutionEngine`` is a third :class:`nni.nas.execution.ExecutionEngine`:
``workers`` processes are started once (forked from this one where the trials train on the
CPU, so torch is never imported again; spawned otherwise), each trains one model at a time
with ``threads`` torch threads, and reports through a pipe that a listener thread turns into
NNI's model events (intermediate metric, final metric, training end) on the very model the
strategy submitted, as the training-service engine does. A model is sent as ``nni.dump`` of
the frozen model, which the worker loads and executes as NNI's own trial entry point does.

Between models the engine also runs *side tasks* (``submit_task``: a plain function call,
e.g. a reference architecture trained with the search's budget) on a worker no model is
waiting for, so they fill the idle moments of a generation's end instead of running after the
search.

A worker that dies (killed, out of memory) fails its model and is replaced. Workers ignore
SIGINT: Ctrl-C interrupts the strategy in the main process, and ``shutdown`` stops the
workers (their models stay unfinished, as on the sequential engine). On Linux workers also
die with the main process.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import stat
import threading
import time
import traceback
from concurrent.futures import Future
from multiprocessing.connection import wait as wait_connections
from typing import Any, Callable, Iterable

from nas_sepconv.core.quiet import import_nni

import_nni()  # before NNI loads: quiets its import-time warnings
from nni.nas.execution import ExecutionEngine  # noqa: E402
from nni.nas.experiment import NasExperiment  # noqa: E402

_logger = logging.getLogger(__name__)

#: How long ``shutdown`` waits for an idle worker to exit before killing it (seconds).
STOP_GRACE = 2.0
#: How long a worker stays idle before it takes a side task (seconds): time for the strategy to
#: submit its next model, which goes first.
TASK_GRACE = 1.0


class _PipeChannel:
    """The trial command channel of a worker: the model as its parameter, metrics to the pipe."""

    def __init__(self, conn, parameter_id: int, model: Any) -> None:
        self.conn, self.parameter_id, self.model = conn, parameter_id, model

    def receive_parameter(self):
        from nni.typehint import ParameterRecord

        return ParameterRecord(parameter_id=self.parameter_id, parameters=self.model)

    def send_metric(self, type, parameter_id, trial_job_id, sequence, value) -> None:  # noqa: A002 - NNI's names
        self.conn.send(("metric", self.parameter_id, type, value))


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the process that started it exits."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _close_inherited_directories(keep: int) -> None:
    """Close the directory descriptors a forked worker inherited (other than ``keep``): a run
    directory's ``flock`` (``RunDir.lock``) then ends with the main process, not with its workers."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        try:
            if fd > 2 and fd != keep and stat.S_ISDIR(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass


def _worker_main(conn, threads: int) -> None:
    """Loop of a worker process: run each task received on ``conn`` until ``None`` or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    _close_inherited_directories(conn.fileno())
    import nni
    import torch
    from nni.runtime.trial_command_channel import (
        get_default_trial_command_channel,
        set_default_trial_command_channel,
    )

    torch.set_num_threads(threads)
    standalone = get_default_trial_command_channel()   # side tasks report to it (NNI logs their metrics)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        kind, task_id, payload = task
        try:
            if kind == "model":
                model = nni.load(payload)
                set_default_trial_command_channel(_PipeChannel(conn, task_id, model))
                try:
                    assert nni.get_next_parameter() is model
                    model.execute()
                finally:
                    set_default_trial_command_channel(standalone)
                conn.send(("end", task_id, "trained", None))
            else:
                function, kwargs = payload
                conn.send(("result", task_id, True, function(**kwargs)))
        except Exception:  # noqa: BLE001 - reported to the main process, which decides
            conn.send(("end" if kind == "model" else "result", task_id, "failed" if kind == "model" else False,
                       traceback.format_exc()))


class _Worker:
    def __init__(self, context, threads: int) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, threads), daemon=True,
                                       name="nas-sepconv-pool-worker")
        self.process.start()
        child.close()
        self.task: tuple[str, int] | None = None   # (kind, id) running on this worker
        self.idle_since = time.monotonic()


class PoolExecutionEngine(ExecutionEngine):
    """Trains submitted models in ``workers`` persistent processes, ``threads`` torch threads
    each; ``start_method`` 'fork' (default where the platform has it) or 'spawn' (needed when
    the trials use CUDA). See the module's description."""

    def __init__(self, workers: int, threads: int = 1, *, start_method: str | None = None) -> None:
        super().__init__()
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be >= 1, got {workers} and {threads}")
        methods = multiprocessing.get_all_start_methods()
        method = start_method or ("fork" if "fork" in methods else "spawn")
        self._context = multiprocessing.get_context(method)
        self._threads = threads
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._workers = [_Worker(self._context, threads) for _ in range(workers)]
        self._models: dict[int, Any] = {}         # parameter id -> the submitted model (same instance)
        self._history: list[Any] = []
        self._pending: list[tuple[int, str]] = []  # models waiting for a worker: (id, payload)
        self._tasks: list[tuple[int, Any]] = []    # side tasks waiting: (id, (function, kwargs))
        self._futures: dict[int, Future] = {}
        self._next_id = 0
        self._last_submit = time.monotonic()
        self._stopped = False
        self._listener = threading.Thread(target=self._listen, daemon=True, name="nas-sepconv-pool-listener")
        self._listener.start()
        _logger.info("Pool engine: %d worker processes (%s), %d torch thread(s) each.", workers, method, threads)

    def extra_repr(self) -> str:
        return f"workers={len(self._workers)}, threads={self._threads}"

    # ----- the NNI engine interface -------------------------------------------------------
    def submit_models(self, *models: Any) -> None:
        import nni
        from nni.nas.space import ModelStatus

        for model in models:
            if not model.status.frozen() or model.status.completed():
                raise RuntimeError(f"Model must be frozen before submitting, but got {model}")
            payload = nni.dump(model)
            with self._lock:
                self._check_running()
                model_id = self._new_id()
                self._models[model_id] = model
                self._history.append(model)
                model.status = ModelStatus.Training
                self._pending.append((model_id, payload))
                self._last_submit = time.monotonic()
                self._dispatch()

    def list_models(self, status: Any = None) -> Iterable[Any]:
        with self._lock:
            return [m for m in self._history if status is None or m.status == status]

    def idle_worker_available(self) -> bool:
        with self._lock:
            return not self._stopped and sum(w.task is None for w in self._workers) > len(self._pending)

    def budget_available(self) -> bool:
        return not self._stopped

    def wait_models(self, *models: Any) -> None:
        with self._changed:
            while not self._stopped and any(not m.status.completed() for m in (models or self._history)):
                self._changed.wait(timeout=1.0)

    def shutdown(self) -> None:
        """Stop the workers; a model still training stays unfinished (status interrupted)."""
        from nni.nas.space import ModelStatus

        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._changed.notify_all()
            unfinished = [self._models.pop(i) for i, _ in self._pending]
            unfinished += [self._models.pop(w.task[1]) for w in self._workers if w.task and w.task[0] == "model"]
            futures = [self._futures.pop(i) for i in list(self._futures)]
            self._pending, self._tasks = [], []
        self._listener.join()
        for worker in self._workers:
            if worker.task is None:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in self._workers:
            if worker.task is not None:
                worker.process.kill()
            worker.process.join(STOP_GRACE)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        for model in unfinished:
            model.status = ModelStatus.Interrupted
        for future in futures:
            future.cancel()
        _logger.info("Pool engine stopped.")

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        pass

    # ----- side tasks ---------------------------------------------------------------------
    def submit_task(self, function: Callable[..., Any], **kwargs: Any) -> Future:
        """Run ``function(**kwargs)`` (picklable; a module-level function) on a worker that no
        model is waiting for; the future holds its return value, or a ``RuntimeError`` with the
        worker's traceback. Cancelled by ``shutdown`` if not done by then."""
        future: Future = Future()
        with self._lock:
            self._check_running()
            task_id = self._new_id()
            self._futures[task_id] = future
            self._tasks.append((task_id, (function, kwargs)))
            self._dispatch()
        return future

    # ----- internals ----------------------------------------------------------------------
    def _check_running(self) -> None:
        if self._stopped:
            raise RuntimeError("The engine has been stopped. Cannot take any more action.")

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _dispatch(self) -> None:
        """Under the lock: give idle workers the waiting models first, then side tasks (once the
        strategy submitted a model, to a worker idle for ``TASK_GRACE`` and as long since a model was
        submitted)."""
        now = time.monotonic()
        for worker in self._workers:
            if worker.task is not None:
                continue
            if self._pending:
                (task_id, payload), kind = self._pending.pop(0), "model"
            elif self._tasks and self._history and now - max(worker.idle_since, self._last_submit) >= TASK_GRACE:
                (task_id, payload), kind = self._tasks.pop(0), "task"
            else:
                continue
            worker.task = (kind, task_id)
            if kind == "task":
                _logger.info("[Pool engine] side task %d (%s) started on worker %d.", task_id,
                             getattr(payload[0], "__name__", "?"), worker.process.pid)
            try:
                worker.conn.send((kind, task_id, payload))
            except OSError:  # the worker died: the listener fails this task and replaces it
                pass

    def _listen(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                self._dispatch()               # side tasks wait for a worker idle long enough
                waitables = {w.conn: w for w in self._workers}
                waitables.update({w.process.sentinel: w for w in self._workers})
            for ready in wait_connections(list(waitables), timeout=0.2):
                worker = waitables[ready]
                try:
                    message = worker.conn.recv() if ready is worker.conn else None
                except (EOFError, OSError):
                    message = None
                try:
                    if message is None:
                        self._worker_died(worker)
                        break                  # the worker list changed
                    self._handle(worker, message)
                except Exception:  # noqa: BLE001 - the listener must go on, or every later result is lost
                    _logger.exception("[Pool engine] error while handling a message from a worker")

    def _handle(self, worker: _Worker, message: tuple) -> None:
        from nni.nas.execution.event import FinalMetricEvent, IntermediateMetricEvent, TrainingEndEvent
        from nni.nas.space import ModelStatus

        kind, task_id = message[0], message[1]
        with self._lock:
            if self._stopped:
                return
            model = self._models.get(task_id)
            future = self._futures.pop(task_id, None) if kind == "result" else None
            if kind in ("end", "result"):
                worker.task, worker.idle_since = None, time.monotonic()
                if kind == "end":
                    self._models.pop(task_id, None)
                self._dispatch()
        if kind == "metric" and model is not None:
            event = FinalMetricEvent if message[2] == "FINAL" else IntermediateMetricEvent
            self.dispatch_model_event(event(model, message[3]))
        elif kind == "end" and model is not None:
            if message[3]:
                _logger.error("[Pool engine] a trial raised in its worker:\n%s", message[3].rstrip())
            status = ModelStatus.Trained if message[2] == "trained" else ModelStatus.Failed
            self.dispatch_model_event(TrainingEndEvent(model, status))
        elif future is not None:
            _logger.info("[Pool engine] side task %d %s.", task_id, "done" if message[2] else "raised")
            if message[2]:
                future.set_result(message[3])
            else:
                future.set_exception(RuntimeError(f"a side task raised in its worker:\n{message[3]}"))
        if kind in ("end", "result"):
            with self._changed:
                self._changed.notify_all()

    def _worker_died(self, dead: _Worker) -> None:
        """Fail what the dead worker ran, and put a new worker in its place."""
        from nni.nas.execution.event import TrainingEndEvent
        from nni.nas.space import ModelStatus

        dead.process.join(STOP_GRACE)
        with self._lock:
            if self._stopped:
                return
            code = dead.process.exitcode
            index = self._workers.index(dead)
            self._workers[index] = _Worker(self._context, self._threads)
            dead.conn.close()
            kind, task_id = dead.task or (None, None)
            model = self._models.pop(task_id, None) if kind == "model" else None
            future = self._futures.pop(task_id, None) if kind == "task" else None
            self._dispatch()
        _logger.error("[Pool engine] a worker process died (exit code %s)%s; a new one replaces it.", code,
                      " while training a model" if model is not None else "")
        if model is not None:
            self.dispatch_model_event(TrainingEndEvent(model, ModelStatus.Failed))
        if future is not None:
            future.set_exception(RuntimeError(f"the worker process died (exit code {code})"))
        with self._changed:
            self._changed.notify_all()


class PoolExperiment(NasExperiment):
    """NNI's ``NasExperiment`` running on a given engine (NNI builds one only from its config,
    which has no entry for this engine): configure it as a sequential-engine experiment."""

    def __init__(self, *args: Any, engine: ExecutionEngine, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._given_engine = engine

    def execution_engine_factory(self, config: Any) -> ExecutionEngine:
        return self._given_engine
