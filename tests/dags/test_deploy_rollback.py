"""deploy-dags never leaves an unchecked file live: a parse timeout and Ctrl-C put the previous
version back (or withdraw a new file), and the report says which version is live.

Airflow is replaced by a stand-in that never parses (a timeout cannot be caused on purpose on a
real stack within a test's time) or that is interrupted mid-deploy (Ctrl-C cannot be sent at
an exact point of a real run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyctl.dags.deploy import deploy_dags
from tinyctl.errors import EnvironmentProblem
from tinyctl.project import Project

DAG = 'from airflow.sdk import DAG\nwith DAG("{name}"):\n    pass\n'


class NeverParses:
    def __init__(self, interrupt_after: int | None = None) -> None:
        self.calls = 0
        self.interrupt_after = interrupt_after

    def dags(self) -> list:
        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt
        return []

    def import_errors(self) -> list:
        return []

    def reparse(self, token: str) -> None:
        pass


class NoStack:
    """The runtime's DAG folder without a stack: module discovery reports no stack."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def exec(self, service: str, argv: list[str], **_options):
        raise EnvironmentProblem("no stack")

    def dag_folder(self) -> Path:
        return self.folder

    def airflow_dag_folder(self) -> str:
        return "/opt/airflow/dags"


def _setup(root: Path) -> tuple[Project, Path, Path]:
    project = Project.open(root / "tinyctl.yaml")
    source = project.path(project.spec.dags.path)
    live = project.state.root / "dags"
    live.mkdir(parents=True, exist_ok=True)
    project.__dict__["runtime"] = NoStack(live)  # replaces the cached runtime
    return project, source, live


def test_a_parse_timeout_puts_the_previous_version_back(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tinyctl.dags.deploy.confirm.RESTORE_WAIT", 0.2)
    loaded, source, live = _setup(project)
    (live / "hello.py").write_text(DAG.format(name="hello"))
    (source / "hello.py").write_text(DAG.format(name="hello_v2"))
    (source / "brand_new.py").write_text(DAG.format(name="brand_new"))
    report = deploy_dags(
        loaded,
        NeverParses(),
        paths=[source / "hello.py", source / "brand_new.py"],
        timeout=1.5,  # longer than the 1 s folder refresh: a new file is late, not pending
    )
    by_file = {r.file: r for r in report.results}
    assert by_file["hello.py"].status == "timeout"
    assert by_file["hello.py"].previous_live
    assert "previous version is back" in by_file["hello.py"].message
    assert (live / "hello.py").read_text() == DAG.format(name="hello")
    assert by_file["brand_new.py"].status == "timeout"
    assert not by_file["brand_new.py"].previous_live
    assert "withdrawn" in by_file["brand_new.py"].message
    assert not (live / "brand_new.py").exists()


def test_ctrl_c_during_a_deploy_rolls_back_every_unchecked_file(project: Path) -> None:
    loaded, source, live = _setup(project)
    (live / "hello.py").write_text(DAG.format(name="hello"))
    (source / "hello.py").write_text(DAG.format(name="hello_v2"))
    (source / "brand_new.py").write_text(DAG.format(name="brand_new"))
    seen = []
    with pytest.raises(KeyboardInterrupt):
        deploy_dags(
            loaded,
            NeverParses(interrupt_after=1),
            paths=[source / "hello.py", source / "brand_new.py"],
            timeout=30,
            on_result=seen.append,
        )
    assert (live / "hello.py").read_text() == DAG.format(name="hello")
    assert not (live / "brand_new.py").exists()
    assert {r.file: r.status for r in seen} == {
        "hello.py": "interrupted",
        "brand_new.py": "interrupted",
    }
    assert [r.previous_live for r in seen if r.file == "hello.py"] == [True]
