"""deploy_dags' state machine against a fake runtime and dag-processor (no engine): live, a
broken edit rolled back to the good version, a syntax error never deployed, the DAG folder
where the runtime says it is."""

from __future__ import annotations

from pathlib import Path

from fakes import FakeDagProcessor, FakeRuntime, with_runtime

from tinyctl.dags.deploy import deploy_dags
from tinyctl.project import Project

GOOD = 'from airflow.sdk import dag\n\n@dag(dag_id="good_one")\ndef good_one():\n    pass\n\ngood_one()\n'
BROKEN = GOOD.replace("pass", 'raise RuntimeError("RAISE")').replace("good_one()\n", "", 1)


def test_live_then_a_broken_edit_is_rolled_back_and_a_syntax_error_never_lands(
    project: Path,
) -> None:
    opened = Project.open(project / "tinyctl.yaml")
    fake = with_runtime(opened, lambda p: FakeRuntime(p))
    airflow = FakeDagProcessor(fake.dag_folder(), fake.airflow_dag_folder())
    source = project / "dags"
    for old in source.glob("*.py"):
        old.unlink()
    (source / "good.py").write_text(GOOD)

    first = deploy_dags(opened, airflow, timeout=5, unpause=True)
    [result] = first.results
    assert (result.file, result.status) == ("good.py", "live")
    assert [d.dag_id for d in result.dags] == ["good_one"] and not result.dags[0].paused
    assert (fake.dag_folder() / "good.py").read_text() == GOOD
    # --json says where the seconds went (no in-service parse here: the fake has none)
    assert {"local", "confirm"} <= set(first.as_dict()["timings"])

    (source / "good.py").write_text(BROKEN)
    (source / "bad.py").write_text("def (:\n")
    second = deploy_dags(opened, airflow, timeout=5)
    by_file = {r.file: r for r in second.results}
    assert by_file["good.py"].status == "import_error" and by_file["good.py"].previous_live
    assert by_file["good.py"].line == 3
    assert (fake.dag_folder() / "good.py").read_text() == GOOD, "the good version is back"
    assert by_file["bad.py"].status == "syntax_error"
    assert not (fake.dag_folder() / "bad.py").exists()
    assert {r.file for r in second.failed} == {"good.py", "bad.py"}
