"""The one page to look at (`tinyctl report`, `test-etl --html`): the latest result of every
test from the run history, each failure with its diff or offending rows, and trend charts per
test (duration, offending rows, row counts) over the recorded runs.

Static and self-contained: inline CSS and SVG, no network. Without JavaScript every test is
shown and the filters by status and tag still work (radio buttons and CSS :has()); the script
adds the count of tests shown and keeps the filter in the address (#status=failed&tag=daily).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from tinyctl import __version__
from tinyctl.data.test_etl.history import History

STATUSES = ("failed", "error", "passed")
TASK_COLOURS = {
    "success": "#2e9e5b",
    "failed": "#d64545",
    "upstream_failed": "#e08a3c",
    "skipped": "#b5b5c3",
    "running": "#3b82f6",
}
KIND_COLOURS = {"missing": "#d64545", "unexpected": "#c98a00", "changed": "#3b6fd6"}

CSS = """
:root{--fg:#1f2430;--mut:#5b6473;--line:#e3e6eb;--ok:#2e7d4f;--ko:#c0392b;--err:#7b3fc4;--warn:#9a6a00}
*{box-sizing:border-box} body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:var(--fg);background:#f7f8fa}
header{background:#fff;border-bottom:1px solid var(--line);padding:1rem 2rem} main{max-width:1150px;margin:0 auto;padding:1rem 2rem}
h1{font-size:1.4rem;margin:0 0 .25rem} .sub{color:var(--mut)} code{font-family:ui-monospace,monospace;font-size:12px}
.pill{display:inline-block;border-radius:999px;padding:.05rem .6rem;font-weight:600;color:#fff;font-size:12px;text-transform:uppercase}
.passed{background:var(--ok)}.failed{background:var(--ko)}.error{background:var(--err)}
.banner{background:#fff7e0;border:1px solid #f0d68a;border-radius:8px;padding:.5rem .8rem;margin:.75rem 0 0}
.filters{display:flex;flex-wrap:wrap;gap:1.25rem;margin:.75rem 0 0;align-items:center}
.filters fieldset{border:0;margin:0;padding:0;display:flex;gap:.35rem;align-items:center;flex-wrap:wrap}
.filters legend{float:left;margin-right:.4rem;color:var(--mut);font-weight:600}
.filters input{position:absolute;opacity:0;width:1px;height:1px}
.filters label{border:1px solid var(--line);border-radius:999px;padding:.1rem .65rem;cursor:pointer;background:#fff}
.filters input:checked+label{background:var(--fg);color:#fff;border-color:var(--fg)}
.filters input:focus-visible+label{outline:2px solid #3b82f6;outline-offset:2px}
#shown{color:var(--mut)}
section.test{background:#fff;border:1px solid var(--line);border-radius:10px;margin:1rem 0;padding:1rem 1.25rem}
section.test h2{font-size:1.05rem;margin:0 0 .35rem;display:flex;gap:.6rem;align-items:center;flex-wrap:wrap}
.tag{background:#eef1f5;border-radius:4px;padding:0 .4rem;font-size:12px;color:var(--mut)}
table{border-collapse:collapse;width:100%;margin:.4rem 0} td,th{border-bottom:1px solid #eef0f3;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{color:var(--mut);font-weight:600} .mark-pass{color:var(--ok);font-weight:700}.mark-error{color:var(--ko);font-weight:700}.mark-warn{color:var(--warn);font-weight:700}
.diff td,.rows td{font-family:ui-monospace,monospace;font-size:12px} .diff .kind{font-weight:700;text-transform:uppercase;font-size:11px}
.charts{display:flex;gap:1.25rem;flex-wrap:wrap;margin:.5rem 0} figure{margin:0} figcaption{font-size:12px;color:var(--mut)}
svg.chart{background:#fafbfc;border:1px solid #eef0f3;border-radius:6px}
.timeline .row{display:flex;align-items:center;height:20px}
.timeline .name{width:220px;flex:none;font-family:ui-monospace,monospace;font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.timeline .track{position:relative;flex:1;height:12px;background:#f1f2f5;border-radius:4px}
.timeline .bar{position:absolute;top:0;height:12px;border-radius:4px;min-width:2px}
pre{background:#1f2430;color:#e6e6e6;padding:.75rem;border-radius:8px;overflow:auto;font-size:12px}
details>summary{cursor:pointer;color:var(--mut)}
"""

SCRIPT = """
(function(){
  var form=document.getElementById('filters'); if(!form) return;
  var tests=[].slice.call(document.querySelectorAll('section.test'));
  var shown=document.getElementById('shown');
  function value(name){var c=form.querySelector('input[name='+name+']:checked');return c?c.value:'';}
  function update(){
    var status=value('status'),tag=value('tag'),n=0;
    tests.forEach(function(t){
      var ok=(!status||t.dataset.status===status)&&(!tag||(' '+t.dataset.tags+' ').indexOf(' '+tag+' ')>=0);
      t.hidden=!ok; if(ok) n++;
    });
    shown.textContent=n+' of '+tests.length+' test(s) shown';
    var hash=[]; if(status) hash.push('status='+encodeURIComponent(status)); if(tag) hash.push('tag='+encodeURIComponent(tag));
    history.replaceState(null,'',hash.length?'#'+hash.join('&'):location.pathname+location.search);
  }
  location.hash.replace(/^#/,'').split('&').forEach(function(part){
    var kv=part.split('='); if(kv.length!==2) return;
    var input=form.querySelector('input[name='+kv[0]+'][value="'+decodeURIComponent(kv[1]).replace(/"/g,'')+'"]');
    if(input) input.checked=true;
  });
  form.addEventListener('change',update); update();
})();
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def render(project: str, history: History) -> bytes:
    """The page of `project`'s history (the latest result of each test)."""
    latest = history.latest()
    runs = history.runs(limit=1)
    tags = sorted({tag for item in latest for tag in item["tags"]})
    sections = [_section(item, history.trend(item["test"])) for item in _ordered(latest)]
    counts = {s: sum(item["status"] == s for item in latest) for s in STATUSES}
    head = _header(project, runs[0].as_dict() if runs else None, counts, len(latest))
    body = (
        head
        + _filters(tags, counts)
        + "<main>"
        + (
            "".join(sections)
            or "<p class=sub>No test has been recorded yet: run `tinyctl test-etl`.</p>"
        )
        + "</main>"
    )
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>tinyctl ETL tests: {_e(project)}</title><style>{CSS}{_filter_css(tags)}</style></head>"
        f"<body>{body}<script>{SCRIPT}</script></body></html>\n"
    )
    return page.encode()


def _ordered(latest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failures first, then errors, then passing tests; by name within each."""
    rank = {s: i for i, s in enumerate(STATUSES)}
    return sorted(latest, key=lambda item: (rank.get(item["status"], 9), item["test"]))


def _header(project: str, run: dict[str, Any] | None, counts: dict[str, int], total: int) -> str:
    status = "passed" if counts["passed"] == total and total else "failed"
    summary = f"{counts['passed']}/{total} passed" if total else "no tests"
    out = (
        f"<header><h1>ETL tests: {_e(project)} <span class='pill {status}'>{summary}</span></h1>"
        f"<p class=sub>Latest result of each test from the run history · page written "
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} by tinyctl {__version__}</p>"
    )
    if run:
        out += (
            f"<p class=sub>Latest run <code>{_e(run['run_id'])}</code> at {_e(run['started_at'])}: "
            f"{run['passed']} passed, {run['failed']} failed, {run['errors']} errors in {run['seconds']:.1f}s</p>"
        )
        if run["mode"] == "no-run":
            out += (
                "<p class=banner><strong>No DAG ran</strong> in the latest run (<code>test-etl "
                "--no-run</code>): its checks read the warehouse as it was.</p>"
            )
    return out


def _filters(tags: list[str], counts: dict[str, int]) -> str:
    def radio(name: str, index: str, value: str, label: str, checked: bool = False) -> str:
        ident = f"{name}-{index}"
        return (
            f"<input type=radio name={name} id={ident} value='{_e(value)}'{' checked' if checked else ''}>"
            f"<label for={ident}>{_e(label)}</label>"
        )

    statuses = radio("status", "all", "", "all", True) + "".join(
        radio("status", s, s, f"{s} ({counts[s]})") for s in STATUSES
    )
    tag_radios = radio("tag", "all", "", "all", True) + "".join(
        radio("tag", str(i), t, t) for i, t in enumerate(tags)
    )
    return (
        "<header style='padding-top:0'><form id=filters class=filters>"
        f"<fieldset><legend>Status</legend>{statuses}</fieldset>"
        + (f"<fieldset><legend>Tag</legend>{tag_radios}</fieldset>" if tags else "")
        + "<span id=shown></span></form></header>"
    )


def _filter_css(tags: list[str]) -> str:
    """The filters without JavaScript: a checked radio hides the tests it does not match."""
    rules = [
        f"body:has(#status-{s}:checked) section.test:not([data-status={s}]){{display:none}}"
        for s in STATUSES
    ]
    rules += [
        f'body:has(#tag-{i}:checked) section.test:not([data-tags~="{_css_text(t)}"]){{display:none}}'
        for i, t in enumerate(tags)
    ]
    return "".join(rules) + "section.test[hidden]{display:none}"


def _css_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _section(item: dict[str, Any], trend: list[dict[str, Any]]) -> str:
    result = item["result"]
    status = item["status"]
    tags = " ".join(item["tags"])
    mode = " · no DAG run (--no-run)" if item["mode"] == "no-run" else ""
    out = [
        f"<section class=test id='test-{_e(item['test'])}' data-status={status} data-tags='{_e(tags)}'>",
        f"<h2><span class='pill {status}'>{status}</span>{_e(item['test'])}"
        f"<span class=sub>DAG {_e(result.get('dag'))} · {result.get('seconds', 0):.1f}s · "
        f"{_e(item['started_at'])}{mode}</span>"
        + "".join(f"<span class=tag>{_e(t)}</span>" for t in item["tags"])
        + "</h2>",
        f"<p>{_e(result.get('message'))}</p>",
    ]
    if result.get("run_id"):
        out.append(
            f"<p class=sub>DAG run <code>{_e(result['run_id'])}</code> · state {_e(result.get('run_state'))}</p>"
        )
    if result.get("expectations"):
        out.append(_expectations(result["expectations"]))
    if result.get("log_tail"):
        out.append(
            f"<h3>Log tail of {_e(result.get('failed_task'))}</h3><pre>{_e(result['log_tail'])}</pre>"
        )
    out.append(_charts(trend))
    if result.get("tasks"):
        out.append(
            f"<details><summary>Task timeline</summary>{_timeline(result['tasks'])}</details>"
        )
    out.append("</section>")
    return "".join(out)


def _expectations(expectations: list[dict[str, Any]]) -> str:
    rows = []
    for e in expectations:
        mark = {"pass": "✓", "warn": "! warn"}.get(e["status"], "✗")
        detail = ""
        if e["status"] != "pass":
            diff = (e.get("details") or {}).get("diff")
            detail = _diff(diff) if diff else _rows(e.get("columns", []), e.get("rows", []))
            if e.get("stored_in"):
                detail += f"<p class=sub>All offending rows: <code>{_e(e['stored_in'])}</code></p>"
        rows.append(
            f"<tr class='exp exp-{_e(e['status'])}'><td class=mark-{_e(e['status'])}>{mark}</td>"
            f"<td>{_e(e['name'])}<br><span class=sub>{_e(e['kind'])} · {e.get('failures', 0)} offending</span></td>"
            f"<td>{_e(e['message'])}{detail}</td></tr>"
        )
    return (
        "<table><tr><th></th><th>expectation</th><th>result</th></tr>" + "".join(rows) + "</table>"
    )


def _diff(diff: dict[str, Any]) -> str:
    """An expected-output diff: per kind its first rows (key, then the cells), and the rest counted."""
    key = diff.get("key") or []
    head = "<tr><th>diff</th>" + "".join(f"<th>{_e(k)}</th>" for k in key) + "<th>cells</th></tr>"
    body = []
    for kind, entries in diff["rows"].items():
        colour = KIND_COLOURS.get(kind, "#555")
        for entry in entries:
            keys = "".join(f"<td>{_e(entry.get('key', {}).get(k))}</td>" for k in key)
            body.append(
                f"<tr class='diff-{_e(kind)}'><td class=kind style='color:{colour}'>{_e(kind)}</td>"
                f"{keys}<td>{_e(entry['cells'])}</td></tr>"
            )
        more = diff["counts"].get(kind, 0) - len(entries)
        if more > 0:
            body.append(
                f"<tr><td colspan={len(key) + 2} class=sub>… and {more} more {_e(kind)} row(s)</td></tr>"
            )
    return f"<table class=diff>{head}{''.join(body)}</table>"


def _rows(columns: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table class=rows><tr>{head}</tr>{body}</table>"


def _charts(trend: list[dict[str, Any]]) -> str:
    if not trend:
        return ""
    tables = sorted({t for p in trend for t in p["row_counts"]})[:4]
    charts = [
        _chart("duration (s)", trend, [("seconds", [p["seconds"] for p in trend])]),
        _chart("offending rows", trend, [("offending", [p["failures"] for p in trend])]),
    ]
    if tables:
        series = [(t, [p["row_counts"].get(t) for p in trend]) for t in tables]
        charts.append(_chart("row counts", trend, series))
    return f"<div class=charts>{''.join(charts)}</div><p class=sub>{len(trend)} recorded run(s), oldest left.</p>"


SERIES_COLOURS = ("#3b6fd6", "#c98a00", "#2e9e5b", "#8a4fd6")
POINT_COLOURS = {"passed": "#2e9e5b", "failed": "#d64545", "error": "#8a4fd6"}


def _chart(title: str, trend: list[dict[str, Any]], series: list[tuple[str, list[Any]]]) -> str:
    """A small SVG line chart: one line per series, a dot per run coloured by its status, and
    each dot's value in its tooltip (a <title>, no script needed)."""
    width, height, pad = 260, 70, 6
    values = [v for _, vs in series for v in vs if isinstance(v, int | float)]
    low, high = (min(values), max(values)) if values else (0, 1)
    span = (high - low) or 1
    count = len(trend)

    def x(i: int) -> float:
        return pad + (i * (width - 2 * pad) / (count - 1) if count > 1 else (width - 2 * pad) / 2)

    def y(v: float) -> float:
        return height - pad - (v - low) / span * (height - 2 * pad)

    parts = []
    for n, (label, vs) in enumerate(series):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        points = [(x(i), y(v)) for i, v in enumerate(vs) if isinstance(v, int | float)]
        if len(points) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
            parts.append(
                f"<polyline fill=none stroke='{colour}' stroke-width=1.5 points='{path}'/>"
            )
        for i, v in enumerate(vs):
            if not isinstance(v, int | float):
                continue
            dot = POINT_COLOURS.get(trend[i]["status"], colour)
            tip = f"{label}: {v:g} · {trend[i]['started_at']} · {trend[i]['status']}"
            parts.append(
                f"<circle cx='{x(i):.1f}' cy='{y(v):.1f}' r=3 fill='{dot}'><title>{_e(tip)}</title></circle>"
            )
    legend = " · ".join(_e(label) for label, _ in series) if len(series) > 1 else ""
    return (
        f"<figure><svg class=chart width={width} height={height} viewBox='0 0 {width} {height}' "
        f"role=img aria-label='{_e(title)}'>{''.join(parts)}</svg>"
        f"<figcaption>{_e(title)}: {low:g} to {high:g}{' · ' + legend if legend else ''}</figcaption></figure>"
    )


def _timeline(tasks: list[dict[str, Any]]) -> str:
    spans = [t for t in tasks if t.get("start")]
    if not spans:
        return "<p class=sub>No task ran.</p>"
    start = {id(t): datetime.fromisoformat(t["start"]) for t in spans}
    end = {id(t): datetime.fromisoformat(t["end"]) if t.get("end") else start[id(t)] for t in spans}
    begin, finish = min(start.values()), max(end.values())
    total = max((finish - begin).total_seconds(), 0.001)
    rows = []
    for task in sorted(spans, key=lambda t: (start[id(t)], t["task_id"], t.get("map_index", -1))):
        colour = TASK_COLOURS.get(task.get("state"), "#9aa5b1")
        left = (start[id(task)] - begin).total_seconds() / total * 100
        seconds = (end[id(task)] - start[id(task)]).total_seconds()
        width = max(seconds / total * 100, 0.4)
        label = task["task_id"] + (
            f"[{task['map_index']}]" if task.get("map_index", -1) >= 0 else ""
        )
        rows.append(
            f"<div class=row><div class=name title='{_e(label)}'>{_e(label)}</div><div class=track>"
            f"<div class=bar style='left:{left:.2f}%;width:{width:.2f}%;background:{colour}' "
            f"title='{_e(task.get('state'))} {seconds:.2f}s'></div></div></div>"
        )
    return f"<div class=timeline>{''.join(rows)}</div><p class=sub>{total:.1f}s from the first task start to the last task end.</p>"
