"""The two sides of an upgrade compared (tinyctl/upgrade/compare.py), on hand-made parses."""

from __future__ import annotations

from tinyctl.dags.parse import ParsedFile, ParseReport
from tinyctl.upgrade.compare import compare_parses, diff_packages, shape_differences


def _report(version: str, *files: ParsedFile) -> ParseReport:
    return ParseReport(list(files), version, True, 1.0, 1.0)


def _shape(tasks: dict, cron: str = "0 0 * * *") -> dict:
    return {
        "tasks": tasks,
        "schedule": {"type": "CronTriggerTimetable", "value": {"expression": cron}},
    }


def test_packages_added_removed_changed_with_normalised_names():
    diff = diff_packages(
        {"apache-airflow": "3.2.2", "Old_Pkg": "1.0", "same": "1"},
        {"apache_airflow": "3.3.2", "new-pkg": "2.0", "same": "1"},
    )
    assert diff.changed == {"apache_airflow": ("3.2.2", "3.3.2")}
    assert diff.added == {"new-pkg": "2.0"} and diff.removed == {"Old_Pkg": "1.0"}


def test_stops_and_starts_importing():
    ok = ParsedFile("a.py", "ok", ["a"], shapes={"a": _shape({"t": []})})
    bad = ParsedFile("a.py", "error", error="ImportError: gone")
    [stop] = compare_parses(_report("3.2.2", ok), _report("3.3.2", bad))
    assert stop.kind == "stops_importing" and stop.breaking and stop.error == "ImportError: gone"
    [start] = compare_parses(_report("3.2.2", bad), _report("3.3.2", ok))
    assert start.kind == "starts_importing" and not start.breaking


def test_shape_changes_tasks_dependencies_schedule():
    old = _shape({"extract": ["load"], "load": []})
    new = _shape({"extract": [], "load": [], "check": []}, cron="0 6 * * *")
    words = shape_differences(old, new)
    assert "tasks added: check" in words
    assert "dependencies removed: extract >> load" in words
    assert any(w.startswith("schedule CronTriggerTimetable(") for w in words)
    assert shape_differences(old, old) == []


def test_failing_on_both_sides_is_no_change():
    bad = ParsedFile("a.py", "error", error="TypeError")
    assert compare_parses(_report("3.2.2", bad), _report("3.3.2", bad)) == []
