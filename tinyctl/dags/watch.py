"""`tinyctl deploy-dags --watch`: redeploy DAG files as they are saved.

watchfiles (Rust `notify`: inotify, FSEvents, ReadDirectoryChangesW) reports changes in the DAG
folder in batches (debounced, so an editor's write-rename-chmod dance is one change); each batch
goes through the same `deploy_dags` as a one-off deploy, so the report is the same, and a broken
edit keeps the previous version live. A file deleted from the source is removed from the stack.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tinyctl.dags.deploy import FileResult, deploy_dags, wanted

if TYPE_CHECKING:
    from tinyctl.airflow import AirflowClient
    from tinyctl.project import Project

DEBOUNCE_MS = 300


@dataclass
class Batch:
    """One round of changes: what changed and what deploying it gave."""

    changed: list[str]
    removed: list[str]
    results: list[FileResult]

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.failed]


class Watcher:
    """Watch the DAG folder; `busy` is True while a batch is being deployed (Ctrl-C then
    interrupts work in flight, which the CLI reports as exit 130 rather than a clean stop)."""

    def __init__(self, project: Project, client: AirflowClient | None, *, timeout: float = 60.0):
        self.project = project
        self.client = client
        self.timeout = timeout
        self.root = project.path(project.spec.dags.path)
        self.target_root = project.state.dags_dir
        self.busy = False
        self.batches = 0

    def _relative(self, raw: str) -> str | None:
        path = Path(raw)
        try:
            rel = path.relative_to(self.root.absolute())
        except ValueError:
            try:
                rel = path.resolve().relative_to(self.root.resolve())
            except ValueError:
                return None
        return rel.as_posix() if wanted(rel) else None

    def deploy_batch(
        self, changes: set[tuple[object, str]], on_result: Callable[[FileResult], None]
    ) -> Batch | None:
        changed: list[str] = []
        removed: list[str] = []
        for _kind, raw in sorted(changes, key=lambda c: c[1]):
            rel = self._relative(raw)
            if rel is None:
                continue
            source = self.root / rel
            if source.is_file():
                changed.append(rel)
            elif not source.exists() and (self.target_root / rel).is_file():
                removed.append(rel)
        changed = list(dict.fromkeys(changed))
        removed = list(dict.fromkeys(removed))
        if not changed and not removed:
            return None
        self.busy = True
        try:
            results: list[FileResult] = []
            for rel in removed:
                (self.target_root / rel).unlink(missing_ok=True)
                result = FileResult(
                    rel, "removed", message="deleted from the source: removed from the stack"
                )
                results.append(result)
                on_result(result)
            if changed:
                assert self.client is not None
                report = deploy_dags(
                    self.project,
                    self.client,
                    paths=[self.root / rel for rel in changed],
                    timeout=self.timeout,
                    on_result=on_result,
                )
                results += report.results
            self.batches += 1
            return Batch(changed, removed, results)
        finally:
            self.busy = False

    def run(
        self,
        on_result: Callable[[FileResult], None],
        on_batch: Callable[[Batch], None],
        *,
        stop: threading.Event | None = None,
    ) -> None:
        """Deploy each batch of changes until `stop` is set or Ctrl-C (KeyboardInterrupt).

        SIGINT is how a watcher is stopped, so it raises KeyboardInterrupt here even when this
        process inherited it ignored (started with `&` by a non-interactive shell, as CI
        runners and test harnesses do): Python then never installs its handler, and a
        `kill -INT` would be lost while the watch runs on forever."""
        # lazy: watchfiles only while --watch runs
        from watchfiles import watch

        with _sigint_raises():
            for changes in watch(
                self.root,
                debounce=DEBOUNCE_MS,
                step=50,
                stop_event=stop,
                raise_interrupt=True,
                yield_on_timeout=False,
            ):
                batch = self.deploy_batch(changes, on_result)
                if batch is not None:
                    on_batch(batch)


@contextlib.contextmanager
def _sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt meanwhile (the previous handler is put back after).
    Signal handlers can only be set from the main thread: elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
