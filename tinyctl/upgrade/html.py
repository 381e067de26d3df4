"""The upgrade-test report as one self-contained HTML page."""

from __future__ import annotations

from html import escape

from tinyctl.upgrade.run import UpgradeReport

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:left;vertical-align:top}.bad{color:#b00020}.good{color:#1b5e20}code{font-size:90%}"
)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def to_html(report: UpgradeReport) -> str:
    verdict = (
        '<p class="good">No DAG stops importing or changes shape.</p>'
        if report.ok
        else f'<p class="bad">{len(report.breaking)} DAG change(s) break the upgrade.</p>'
    )
    dags = [
        [
            escape(c.file),
            escape(c.dag_id or ""),
            escape(c.kind.replace("_", " ")),
            escape(c.detail) + (f"<br><code>{escape(c.error)}</code>" if c.error else ""),
        ]
        for c in report.dags
    ]
    findings = [
        [
            f"{escape(f.file)}:{f.line}:{f.column}",
            escape(f.code),
            escape(f.message),
            escape(f.fix or "") + (" (safe fix: --fix)" if f.fixable else ""),
        ]
        for f in report.findings
    ]
    pk = report.packages
    packages = (
        [[escape(n), "added", "", escape(v)] for n, v in pk.added.items()]
        + [[escape(n), "removed", escape(v), ""] for n, v in pk.removed.items()]
        + [[escape(n), "changed", escape(a), escape(b)] for n, (a, b) in pk.changed.items()]
    )
    title = f"Airflow {escape(report.current)} → {escape(report.target)}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body><h1>Upgrade test: {title}</h1>{verdict}"
        f"<h2>DAGs</h2>{_table(['file', 'DAG', 'change', 'detail'], dags)}"
        f"<h2>Airflow 3 migration (ruff AIR3xx)</h2>"
        f"{_table(['where', 'rule', 'finding', 'fix'], findings)}"
        f"<h2>Packages</h2>{_table(['package', 'change', 'current', 'target'], packages)}"
        "</body></html>\n"
    )
