"""Benchmark of `tinyctl test-etl --no-run` against `dbt test` (dbt-postgres 1.9) running the
sample project's generic expectations as dbt source tests on the same tables, interleaved, with
the verdicts of both compared on correct and on corrupted data. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from _common import (
    ENV,
    PYTHON,
    RESULTS_DIR,
    Figure,
    Project,
    Psql,
    Report,
    create_project,
    finish_project,
    log,
    main_wrapper,
    parser,
    ratio_figure,
    run,
    run_measured,
    start_warehouse,
    workspace,
)

SCRIPT = "bench_dbt"
RATIO_TARGET = 0.5
SAMPLE_TEST = "orders_2026_11_01"  # the scaffolded test whose generic expectations are used
TEST = "bench_dbt_generic"
KINDS = ("not_null", "unique", "accepted_values", "relationships")
DBT_REQUIREMENTS = ("dbt-postgres~=1.9.0", "dbt-core~=1.9.0")  # dbt 1.10+ fetches from GitHub
DBT_VENV = RESULTS_DIR / "cache" / "dbt-venv"
DBT_ENV = {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
FIXTURE = "tests/fixtures/landing/orders_2026-11-01.csv"
# staging.orders as the sample DAG creates it (dags/staging_orders.py), without its primary key
# and NOT NULL constraints: those would refuse the duplicate and the NULL planted on purpose.
ORDERS = (
    "CREATE TABLE staging.orders (order_id bigint, customer_id int, order_date date,"
    " amount numeric(12,2), currency char(3), status text, source_file text,"
    " loaded_at timestamptz DEFAULT now())"
)
CORRUPT = (  # each breaks exactly one check (fixture rows 1001..1014, customers 1..8)
    "INSERT INTO staging.orders SELECT * FROM staging.orders WHERE order_id = 1001",  # duplicate
    "UPDATE staging.orders SET amount = NULL WHERE order_id = 1005",  # a null
    "UPDATE staging.orders SET status = 'shipped' WHERE order_id = 1006",  # a bad status
    "UPDATE staging.orders SET customer_id = 999 WHERE order_id = 1007",  # an orphan key
)


# --------------------------------------------------------------------------- the checks


def generic_checks(spec_file: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The sample test's expectations of the four generic kinds, one check per column (dbt's
    not_null and unique take one column each): [{name, kind, table, column, ...}], and what
    was left out and why."""
    spec = yaml.safe_load(spec_file.read_text())
    test = next(t for t in spec["tests"] if t["name"] == SAMPLE_TEST)
    checks: list[dict[str, Any]] = []
    left: list[str] = []
    for expectation in test["expect"]:
        kind = next((k for k in KINDS if k in expectation), None)
        if kind is None:
            continue
        body = expectation[kind]
        if any(k in expectation for k in ("severity", "warn_if", "error_if")):
            left.append(
                f"{expectation.get('name', kind)} ({kind} with a threshold): dbt's accepted_values "
                "counts distinct values, tinyctl's counts rows, so a threshold on the count means "
                "different things"
            )
            continue
        columns = body.get("columns") or [body["column"]]
        for column in columns:
            check = {"name": f"{kind}_{column}", "kind": kind, "table": body["table"]}
            check["column"] = column
            if kind == "accepted_values":
                check["values"] = list(body["values"])
            if kind == "relationships":
                check["to"] = body["to"]
            checks.append(check)
    return checks, left


def tinyctl_test_block(checks: list[dict[str, Any]]) -> str:
    """The same checks as one tinyctl test (one expectation each, named like the dbt test)."""
    lines = [f"  - name: {TEST}", "    dag: staging_orders", "    expect:"]
    for c in checks:
        kind, table, column = c["kind"], c["table"], c["column"]
        if kind in ("not_null", "unique"):
            body = {"table": table, "columns": [column]}
        elif kind == "accepted_values":
            body = {"table": table, "column": column, "values": c["values"]}
        else:
            body = {"table": table, "column": column, "to": c["to"]}
        lines.append(f"      - name: {c['name']}")
        lines.append(f"        {kind}: {json.dumps(body)}")
    return "\n".join(lines) + "\n"


def dbt_sources(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """The same checks as dbt source tests (`data_tests`, custom names) in one sources file."""
    tables: dict[str, dict[str, list[Any]]] = {}
    for c in checks:
        schema, table = c["table"].split(".")
        name = c["name"]
        if c["kind"] in ("not_null", "unique"):
            test: Any = {c["kind"]: {"name": name}}
        elif c["kind"] == "accepted_values":
            test = {"accepted_values": {"name": name, "values": c["values"]}}
        else:
            parent, _, field = c["to"].rpartition(".")
            parent_schema, parent_table = parent.split(".")
            tables.setdefault(f"{parent_schema}.{parent_table}", {})
            test = {
                "relationships": {
                    "name": name,
                    "to": f"source('{parent_schema}', '{parent_table}')",
                    "field": field,
                }
            }
        tables.setdefault(f"{schema}.{table}", {}).setdefault(c["column"], []).append(test)
    sources: dict[str, dict[str, Any]] = {}
    for qualified, columns in tables.items():
        schema, table = qualified.split(".")
        source = sources.setdefault(schema, {"name": schema, "schema": schema, "tables": []})
        entry: dict[str, Any] = {"name": table}
        if columns:
            entry["columns"] = [
                {"name": col, "data_tests": tests} for col, tests in columns.items()
            ]
        source["tables"].append(entry)
    return {"version": 2, "sources": list(sources.values())}


# --------------------------------------------------------------------------- dbt


def dbt_executable(venv: Path) -> Path:
    """dbt in its own virtual environment (made once, untimed: `pip install` of the pins)."""
    dbt = venv / "bin" / "dbt"
    if dbt.is_file():
        return dbt
    log(f"installing {' '.join(DBT_REQUIREMENTS)} into {venv} (once; untimed)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", *DBT_REQUIREMENTS],
        check=True,
        timeout=1800,
    )
    return dbt


def write_dbt_project(folder: Path, project: Project, checks: list[dict[str, Any]]) -> None:
    """A dbt project with only sources; its profile logs in as tinyctl's read-only role (the
    role `test-etl` checks as), 4 threads (dbt's usual setting)."""
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "dbt_project.yml").write_text(
        "name: tinyctl_bench\nversion: '1.0'\nconfig-version: 2\nprofile: tinyctl_bench\n"
    )
    profile = {
        "tinyctl_bench": {
            "target": "warehouse",
            "outputs": {
                "warehouse": {
                    "type": "postgres",
                    "host": "127.0.0.1",
                    "port": project.postgres_port,
                    "user": "tinyctl_reader",
                    "password": "{{ env_var('TINYCTL_BENCH_DBT_PASSWORD') }}",
                    "dbname": "warehouse",
                    "schema": "analytics",
                    "threads": 4,
                }
            },
        }
    }
    (folder / "profiles.yml").write_text(yaml.safe_dump(profile, sort_keys=False))
    (folder / "models" / "sources.yml").write_text(
        yaml.safe_dump(dbt_sources(checks), sort_keys=False)
    )


# --------------------------------------------------------------------------- verdicts


def tinyctl_verdicts(stdout: str) -> dict[str, tuple[bool, int]]:
    data = json.loads(stdout)
    expectations = data["tests"][0]["expectations"]
    return {e["name"]: (bool(e["passed"]), int(e["failures"])) for e in expectations}


def dbt_verdicts(folder: Path) -> dict[str, tuple[bool, int]]:
    results = json.loads((folder / "target" / "run_results.json").read_text())["results"]
    verdicts = {}
    for r in results:
        name = r["unique_id"].split(".")[2]  # test.<project>.<name>.<hash>
        if r["status"] == "error":
            raise RuntimeError(f"dbt test {name} errored: {r.get('message')}")
        verdicts[name] = (r["status"] == "pass", int(r.get("failures") or 0))
    return verdicts


def compare(
    label: str, ours: dict[str, tuple[bool, int]], theirs: dict[str, tuple[bool, int]]
) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name), theirs.get(name)
        rows.append(
            {
                "data": label,
                "check": name,
                "tinyctl": None if a is None else {"passed": a[0], "failures": a[1]},
                "dbt": None if b is None else {"passed": b[0], "failures": b[1]},
                "same": a == b,
            }
        )
    return rows


def print_verdicts(rows: list[dict[str, Any]]) -> None:
    def shown(v: dict[str, Any] | None) -> str:
        if v is None:
            return "missing"
        return "pass" if v["passed"] else f"FAIL ({v['failures']})"

    headers = ("data", "check", "tinyctl", "dbt", "same")
    table = [
        (r["data"], r["check"], shown(r["tinyctl"]), shown(r["dbt"]), "yes" if r["same"] else "NO")
        for r in rows
    ]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
    print("\nverdicts per check (failing count in brackets)")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for t in table:
        print("  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)))


# --------------------------------------------------------------------------- the bench


def load_orders(psql: Psql, project: Project, rows: int) -> None:
    """Untimed: staging.orders with the sample day's 14 landing rows, plus `rows` more valid
    ones (customers 1..8, accepted statuses), analysed."""
    psql("DROP TABLE IF EXISTS staging.orders", ORDERS)
    path = project.root / FIXTURE
    psql(
        "\\copy staging.orders (order_id, customer_id, order_date, amount, currency, status)"
        f" FROM '{path}' WITH (FORMAT csv, HEADER true)"
    )
    if rows:
        psql(
            "INSERT INTO staging.orders (order_id, customer_id, order_date, amount, currency,"
            " status, source_file) SELECT 100000 + g, 1 + g % 8, date '2026-10-01' + g % 30,"
            " (g % 1000) + 0.5, 'EUR', (ARRAY['paid', 'refunded', 'pending'])[1 + g % 3],"
            f" 'bench' FROM generate_series(1, {rows}) AS g"
        )
    psql(
        "UPDATE staging.orders SET source_file = 'orders_2026-11-01.csv' WHERE source_file IS NULL"
    )
    psql("VACUUM ANALYZE staging.orders")


def body(args: argparse.Namespace, report: Report) -> None:
    size = f"{14 + args.rows:,} orders rows" + (f" ({args.rows:,} added)" if args.rows else "")
    sections = {
        "correct": report.section(f"correct data: the sample's tables ({size})"),
        "corrupted": report.section(
            "corrupted on purpose (a duplicate id, a null, a bad status, an orphan key)"
        ),
    }
    figures: dict[str, dict[str, Figure]] = {}
    for data in sections:
        figures[data] = {
            "tinyctl": Figure(
                f"{data}_tinyctl_s",
                f"tinyctl test-etl --no-run -k {TEST} (CLI, process start to end)",
                "s",
            ),
            "dbt": Figure(
                f"{data}_dbt_s",
                "dbt test (dbt-postgres 1.9, 4 threads, partial parse warm)",
                "s",
            ),
            "tinyctl_rss": Figure(f"{data}_tinyctl_rss_mib", "  peak RSS: tinyctl", "MiB"),
            "dbt_rss": Figure(f"{data}_dbt_rss_mib", "  peak RSS: dbt", "MiB"),
            "same": Figure(f"{data}_same_verdicts", "checks with the same verdict and count", ""),
        }
    verdict_rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    loads: list[float] = []  # the 1-minute load average before each timed sample
    project: Project | None = None
    with workspace(args, "dbt") as base:
        try:
            dbt = dbt_executable(args.dbt_venv)
            version = run([str(dbt), "--version"], env={**ENV, **DBT_ENV}, check=False).stdout
            report.extra["dbt_version"] = version.strip().splitlines()[:8]
            project = create_project(base, "bd")
            log(f"Postgres only (no Airflow) for {project.name}")
            start_warehouse(project)
            project.tinyctl("seed")  # the sample's seeds: fx_rates, customers
            psql = Psql(project)
            load_orders(psql, project, args.rows)
            checks, left_out = generic_checks(project.spec_file)
            report.extra["checks"] = checks
            report.notes.extend(f"left out: {text}" for text in left_out)
            text = project.spec_file.read_text()
            text = text.replace("\ntests:\n", "\ntests:\n" + tinyctl_test_block(checks), 1)
            project.spec_file.write_text(text)
            folder = base / "dbt"
            write_dbt_project(folder, project, checks)
            password = project.secrets()["role_tinyctl_reader_password"]
            dbt_env = {**ENV, **DBT_ENV, "TINYCTL_BENCH_DBT_PASSWORD": password}
            tinyctl_argv = [PYTHON, "-m", "tinyctl", "test-etl", "--no-run", "-k", TEST, "--json"]
            dbt_argv = [
                str(dbt),
                "test",
                "--profiles-dir",
                str(folder),
                "--project-dir",
                str(folder),
            ]
            last: dict[str, dict[str, tuple[bool, int]]] = {}

            def tinyctl(data: str, exits: int) -> None:
                result = run_measured(tinyctl_argv, cwd=project.root)
                if result.returncode != exits:
                    raise RuntimeError(f"test-etl exited {result.returncode}: {result.describe()}")
                last["tinyctl"] = tinyctl_verdicts(result.stdout)
                figures[data]["tinyctl"].samples.append(result.seconds)
                figures[data]["tinyctl_rss"].samples.append(result.peak_rss_mib)

            def dbt_test(data: str, exits: int) -> None:
                result = run_measured(dbt_argv, cwd=folder, env=dbt_env)
                if result.returncode != exits:
                    raise RuntimeError(f"dbt test exited {result.returncode}: {result.describe()}")
                last["dbt"] = dbt_verdicts(folder)
                figures[data]["dbt"].samples.append(result.seconds)
                figures[data]["dbt_rss"].samples.append(result.peak_rss_mib)

            for data, exits in (("correct", 0), ("corrupted", 1)):
                if data == "corrupted":
                    psql(*CORRUPT)
                log(f"{data}: warm-up (untimed), one of each")
                tinyctl(data, exits)
                dbt_test(data, exits)
                for figure in figures[data].values():
                    figure.samples.clear()
                sides = [("tinyctl", tinyctl), ("dbt", dbt_test)]
                for i in range(args.repeat):
                    for name, measure in sides if i % 2 == 0 else list(reversed(sides)):
                        log(f"{data} {i + 1}/{args.repeat}: {name}")
                        loads.append(os.getloadavg()[0])
                        measure(data, exits)
                rows = compare(data, last["tinyctl"], last["dbt"])
                verdict_rows.extend(rows)
                same = figures[data]["same"]
                same.value_override = sum(r["same"] for r in rows)
                same.display_override = f"{sum(r['same'] for r in rows)} of {len(rows)}"
                same.target = (">=", len(rows))
                same.target_text = f"all {len(rows)}"
        finally:
            if loads:
                report.extra["load_average_1min"] = [round(x, 2) for x in loads]
                report.notes.append(
                    f"1-minute load average before the timed samples: {min(loads):.1f} .. "
                    f"{max(loads):.1f} on {os.cpu_count()} cores"
                )
            for data, section in sections.items():
                f = figures[data]
                for key in ("tinyctl", "dbt"):
                    report.add(section, f[key])
                report.add(
                    section,
                    ratio_figure(
                        f"{data}_ratio_tinyctl_vs_dbt",
                        "ratio tinyctl / dbt (medians)",
                        f["tinyctl"],
                        f["dbt"],
                        target=("<=", RATIO_TARGET) if data == "correct" else None,
                    ),
                )
                for key in ("tinyctl_rss", "dbt_rss", "same"):
                    report.add(section, f[key])
            report.extra["verdicts"] = verdict_rows
            if verdict_rows:
                print_verdicts(verdict_rows)
            report.notes.append(
                "both are processes timed start to end, interleaved (the order alternating every "
                "repeat) after one untimed warm-up each (dbt's partial parse file and tinyctl's "
                "run history exist before the first timed run); both log in as tinyctl's "
                "read-only role"
            )
            report.notes.append(
                "Postgres only: the project's own postgres + db-setup services from the compose "
                "file tinyctl rendered (no Airflow); seeds by `tinyctl seed`; staging.orders made "
                "with the sample DAG's columns, without its primary key and NOT NULL (they would "
                "refuse the planted duplicate and null), and the sample day's landing file"
            )
            finish_project(project, args)


def main() -> int:
    p = parser(SCRIPT, __doc__.splitlines()[0], repeat=5)
    p.add_argument(
        "--rows",
        type=int,
        default=0,
        help="valid orders rows added to the sample's 14 (default 0: the sample as it is)",
    )
    p.add_argument(
        "--dbt-venv",
        type=Path,
        default=DBT_VENV,
        help=f"virtual environment with dbt (made there when missing; default {DBT_VENV})",
    )
    args = p.parse_args()
    if args.rows < 0:
        raise SystemExit("--rows must be 0 or more")
    return main_wrapper(body, args, SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
