"""
# staging_orders: landing CSV files -> `staging.orders` -> `analytics.daily_revenue`

The sample ETL that ships with **tinyctl**. One CSV file per day of orders is dropped into
`$TINYCTL_DATA_DIR/landing/` (default `/opt/airflow/data/landing/`) with the name
`orders_YYYY-MM-DD.csv` and this header:

    order_id,customer_id,order_date,amount,currency,status

## Tasks

1. **ensure_tables** creates `staging.orders` and `analytics.daily_revenue` if they are missing.
2. **find_files** lists the landing files (sorted by day). Trigger with the run conf
   `{"day": "YYYY-MM-DD"}` to process only that day. No file to process: the run ends as a
   *success* with every downstream task *skipped*.
3. **load_file** (one mapped task instance per file), in a single transaction: `COPY` the file
   into a temporary table, validate it (every `order_date` equals the day in the file name,
   no negative amount, `status` in paid/refunded/pending, no duplicate `order_id`, no empty
   value, 3-letter currency codes), then replace that day in `staging.orders`
   (`DELETE` the day, `INSERT` the file's rows with `source_file` = the file name).
   An invalid file fails the task with a message naming the file and the offending row
   counts, and the day's previously loaded rows stay untouched (the transaction rolls back).
4. **build_daily_revenue** recomputes `analytics.daily_revenue` for the days loaded in this
   run (delete + insert, in one transaction): orders, distinct customers, paid revenue and
   refunds converted to EUR with `staging.fx_rates` (seeded by `seeds/fx_rates.sql`).
   A currency without a rate fails the task and names the currency.
5. **archive_files** moves each processed file to `$TINYCTL_DATA_DIR/archive/<day>/<name>`
   (an older archived copy is overwritten). It runs only after the aggregates were built, so
   a failed run leaves its files in `landing/` for the next attempt.

Every step is idempotent: re-running a day replaces that day's rows, it never duplicates them.

## Running it

The DAG has `schedule=None`: it runs on demand, from `tinyctl test-etl`, the Airflow UI
(*Trigger*, optionally with the `day` parameter) or the REST API
(`POST /api/v2/dags/staging_orders/dagRuns` with `{"logical_date": null, "conf": {"day": "2026-11-01"}}`).
To run it on a timetable instead, set e.g. `schedule="*/15 * * * *"` (poll the landing folder
every 15 minutes) or `schedule="@daily"` in the `@dag(...)` call below; `catchup=False` keeps
Airflow from back-filling past intervals and `max_active_runs=1` keeps runs from overlapping.

## Configuration (environment of the Airflow containers)

* `TINYCTL_DATA_DIR`: data folder holding `landing/` and `archive/` (default `/opt/airflow/data`).
* `TINYCTL_WAREHOUSE_CONN_ID`: Airflow connection id of the warehouse database (default
  `warehouse`), logged in as the ETL writer role that owns the `staging` and `analytics` schemas.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from airflow.sdk import Param, dag, get_current_context, task

DEFAULT_DATA_DIR = "/opt/airflow/data"
DEFAULT_CONN_ID = "warehouse"
FILE_RE = re.compile(r"^orders_(\d{4}-\d{2}-\d{2})\.csv$")
EXPECTED_HEADER = ["order_id", "customer_id", "order_date", "amount", "currency", "status"]
STATUSES = ("paid", "refunded", "pending")

CREATE_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS staging.orders (
    order_id    bigint        PRIMARY KEY,
    customer_id int           NOT NULL,
    order_date  date          NOT NULL,
    amount      numeric(12,2) NOT NULL,
    currency    char(3)       NOT NULL,
    status      text          NOT NULL,
    source_file text          NOT NULL,
    loaded_at   timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_order_date_idx ON staging.orders (order_date);
CREATE TABLE IF NOT EXISTS analytics.daily_revenue (
    order_date   date PRIMARY KEY,
    orders       int,
    customers    int,
    revenue_eur  numeric(14,2),
    refunds_eur  numeric(14,2),
    refreshed_at timestamptz
);
"""

# amount stays unconstrained numeric and currency text so that validation sees the raw values.
CREATE_TMP_SQL = """
CREATE TEMP TABLE tmp_orders (
    order_id    bigint,
    customer_id int,
    order_date  date,
    amount      numeric,
    currency    text,
    status      text
) ON COMMIT DROP
"""

COPY_SQL = (
    "COPY tmp_orders (order_id, customer_id, order_date, amount, currency, status) "
    "FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
)

VALIDATE_SQL = """
SELECT
    count(*)                                                            AS total,
    count(*) FILTER (WHERE order_id IS NULL OR customer_id IS NULL OR order_date IS NULL
                        OR amount IS NULL OR currency IS NULL OR status IS NULL)
                                                                        AS missing_values,
    count(*) FILTER (WHERE order_date <> %(day)s)                       AS wrong_date,
    count(*) FILTER (WHERE amount < 0)                                  AS negative_amount,
    count(*) FILTER (WHERE status NOT IN ('paid', 'refunded', 'pending'))
                                                                        AS bad_status,
    count(*) FILTER (WHERE currency !~ '^[A-Z]{3}$')                    AS bad_currency,
    count(*) FILTER (WHERE amount <> round(amount, 2))                  AS too_many_decimals,
    (SELECT coalesce(sum(n), 0) FROM (
        SELECT count(*) AS n FROM tmp_orders
        WHERE order_id IS NOT NULL GROUP BY order_id HAVING count(*) > 1) d)
                                                                        AS duplicate_order_id,
    (SELECT count(*) FROM tmp_orders t JOIN staging.orders o USING (order_id)
        WHERE o.order_date <> %(day)s)                                  AS order_id_of_other_day
FROM tmp_orders
"""

VALIDATION_LABELS = {
    "missing_values": "with an empty value",
    "wrong_date": "with an order_date other than {day}",
    "negative_amount": "with a negative amount",
    "bad_status": "with a status not in paid/refunded/pending",
    "bad_currency": "with a currency that is not a 3-letter upper-case code",
    "too_many_decimals": "with an amount of more than 2 decimals",
    "duplicate_order_id": "sharing an order_id with another row of the file",
    "order_id_of_other_day": "whose order_id is already loaded for another day",
}

REPLACE_DAY_SQL = [
    "DELETE FROM staging.orders WHERE order_date = %(day)s",
    """
    INSERT INTO staging.orders (order_id, customer_id, order_date, amount, currency, status, source_file)
    SELECT order_id, customer_id, order_date, amount, currency, status, %(file)s
    FROM tmp_orders
    ORDER BY order_id
    """,
]

MISSING_RATES_SQL = """
SELECT o.currency, count(*) AS n
FROM staging.orders o
LEFT JOIN staging.fx_rates r ON r.currency = o.currency
WHERE o.order_date = ANY(%(days)s) AND r.currency IS NULL
GROUP BY o.currency
ORDER BY o.currency
"""

REBUILD_SQL = [
    "DELETE FROM analytics.daily_revenue WHERE order_date = ANY(%(days)s)",
    """
    INSERT INTO analytics.daily_revenue
        (order_date, orders, customers, revenue_eur, refunds_eur, refreshed_at)
    SELECT o.order_date,
           count(*),
           count(DISTINCT o.customer_id),
           round(coalesce(sum(o.amount * r.rate_to_eur) FILTER (WHERE o.status = 'paid'), 0), 2),
           round(coalesce(sum(o.amount * r.rate_to_eur) FILTER (WHERE o.status = 'refunded'), 0), 2),
           now()
    FROM staging.orders o
    JOIN staging.fx_rates r ON r.currency = o.currency
    WHERE o.order_date = ANY(%(days)s)
    GROUP BY o.order_date
    """,
    """
    SELECT order_date, orders, customers, revenue_eur, refunds_eur
    FROM analytics.daily_revenue
    WHERE order_date = ANY(%(days)s)
    ORDER BY order_date
    """,
]


# --- helpers (run inside tasks only: nothing here touches the environment at parse time) ---


def _data_dir() -> str:
    import os

    return os.environ.get("TINYCTL_DATA_DIR") or DEFAULT_DATA_DIR


def _landing_dir() -> str:
    import os

    return os.path.join(_data_dir(), "landing")


def _connect():
    """Open a new connection to the warehouse (autocommit off: one transaction per task)."""
    import os

    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn_id = os.environ.get("TINYCTL_WAREHOUSE_CONN_ID") or DEFAULT_CONN_ID
    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    conn.autocommit = False
    return conn


def _run_in_transaction(work):
    """Run ``work(cursor)`` in one transaction: commit on success, roll back on any error."""
    conn = _connect()
    try:
        cur = conn.cursor()
        try:
            result = work(cur)
        finally:
            cur.close()
        conn.commit()
        return result
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def _copy_from_file(cur, sql: str, fileobj) -> None:
    """COPY ... FROM STDIN from a binary file object, with psycopg2 or psycopg 3.

    The Postgres provider's PostgresHook hands out a psycopg 3 connection when psycopg 3 and
    SQLAlchemy 2 are installed (the case with apache-airflow 3.3 and provider 7.x), and a
    psycopg2 one otherwise; ``PostgresHook.copy_expert`` itself cannot be used here because
    it opens and commits its own connection, outside this task's transaction.
    """
    if hasattr(cur, "copy_expert"):  # psycopg2
        cur.copy_expert(sql, fileobj)
    else:  # psycopg 3
        with cur.copy(sql) as copy:
            while chunk := fileobj.read(1 << 16):
                copy.write(chunk)


def _day_of(file_name: str):
    from datetime import date

    match = FILE_RE.match(file_name)
    if not match:
        raise ValueError(f"{file_name}: not a landing file name (orders_YYYY-MM-DD.csv)")
    return date.fromisoformat(match.group(1))


# --- the DAG --------------------------------------------------------------------------------


@dag(
    dag_id="staging_orders",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["tinyctl", "staging"],
    doc_md=__doc__,
    default_args={"owner": "tinyctl", "retries": 0},
    params={
        "day": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            title="Day",
            description="Process only landing/orders_<day>.csv (YYYY-MM-DD). Empty: every file.",
        )
    },
)
def staging_orders():
    @task
    def ensure_tables() -> None:
        """Create staging.orders and analytics.daily_revenue if they do not exist yet."""

        def work(cur):
            cur.execute(CREATE_TABLES_SQL)

        _run_in_transaction(work)

    @task
    def find_files() -> list[str]:
        """List landing/orders_YYYY-MM-DD.csv file names, sorted; skip downstream if none."""
        import os
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        landing = _landing_dir()
        context = get_current_context()
        day = (context["params"] or {}).get("day")
        if day:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise AirflowFailException(f"run conf 'day' is not a valid date: {day!r}") from None

        if not os.path.isdir(landing):
            raise AirflowSkipException(f"landing folder {landing} does not exist: nothing to load")

        names = sorted(entry.name for entry in os.scandir(landing) if entry.is_file())
        files = []
        for name in names:
            match = FILE_RE.match(name)
            if not match:
                print(f"ignoring {name}: not named orders_YYYY-MM-DD.csv")
                continue
            try:
                _day_of(name)
            except ValueError:
                print(f"ignoring {name}: {match.group(1)} is not a valid date")
                continue
            if day and match.group(1) != day:
                continue
            files.append(name)

        if not files:
            which = f"orders_{day}.csv" if day else "orders_YYYY-MM-DD.csv files"
            raise AirflowSkipException(f"no {which} in {landing}: nothing to load")
        print(f"{len(files)} file(s) to load from {landing}: {', '.join(files)}")
        return files

    @task(map_index_template="{{ file_name }}")
    def load_file(file_name: str) -> dict:
        """COPY one file into a temp table, validate it, replace its day in staging.orders."""
        import os

        from airflow.sdk.exceptions import AirflowFailException

        context = get_current_context()
        context["file_name"] = file_name  # label of this mapped instance in the UI
        day = _day_of(file_name)
        path = os.path.join(_landing_dir(), file_name)

        with open(path, "rb") as fh:
            header = fh.readline().decode("utf-8-sig").strip()
        columns = [c.strip().strip('"').lower() for c in header.split(",")]
        if columns != EXPECTED_HEADER:
            raise AirflowFailException(
                f"{file_name}: unexpected header {header!r}, expected {','.join(EXPECTED_HEADER)}"
            )

        def work(cur):
            cur.execute(CREATE_TMP_SQL)
            with open(path, "rb") as fh:
                try:
                    _copy_from_file(cur, COPY_SQL, fh)
                except Exception as exc:  # malformed CSV / values of the wrong type
                    detail = " ".join(str(exc).split())
                    raise AirflowFailException(f"{file_name}: cannot be read as orders CSV: {detail}") from exc

            cur.execute(VALIDATE_SQL, {"day": day})
            names = [d[0] for d in cur.description]
            stats = dict(zip(names, cur.fetchone()))
            total = stats.pop("total")
            problems = [
                f"{n} row(s) {VALIDATION_LABELS[key].format(day=day)}" for key, n in stats.items() if n
            ]
            if problems:
                raise AirflowFailException(
                    f"{file_name} is invalid ({total} rows; nothing loaded, the rows already in "
                    f"staging.orders for {day} are kept): " + "; ".join(problems)
                )
            if total == 0:
                raise AirflowFailException(
                    f"{file_name} has a header but no rows; refusing to empty {day} in staging.orders"
                )

            cur.execute(REPLACE_DAY_SQL[0], {"day": day})
            replaced = cur.rowcount
            cur.execute(REPLACE_DAY_SQL[1], {"day": day, "file": file_name})
            print(f"{file_name}: loaded {total} rows for {day} (replaced {replaced} rows)")
            return total

        rows = _run_in_transaction(work)
        return {"day": day.isoformat(), "rows": rows, "file": file_name}

    @task
    def build_daily_revenue(loaded) -> list[dict]:
        """Recompute analytics.daily_revenue for the days loaded by this run."""
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        loaded = loaded[:]  # one slice request (iterating probes past the end and logs a 404)
        days = sorted({date.fromisoformat(item["day"]) for item in loaded})

        def work(cur):
            cur.execute("SELECT to_regclass('staging.fx_rates') IS NOT NULL")
            if not cur.fetchone()[0]:
                raise AirflowFailException(
                    "staging.fx_rates does not exist: load seeds/fx_rates.sql into the warehouse"
                )
            cur.execute(MISSING_RATES_SQL, {"days": days})
            missing = cur.fetchall()
            if missing:
                listed = ", ".join(f"{cur_code.strip()} ({n} rows)" for cur_code, n in missing)
                raise AirflowFailException(
                    f"no exchange rate in staging.fx_rates for currency {listed} "
                    f"in staging.orders for {', '.join(d.isoformat() for d in days)}; "
                    "add the rate (seeds/fx_rates.sql) and re-run"
                )
            for sql in REBUILD_SQL:
                cur.execute(sql, {"days": days})
            return cur.fetchall()

        rows = _run_in_transaction(work)
        summary = [
            {
                "day": d.isoformat(),
                "orders": orders,
                "customers": customers,
                "revenue_eur": str(revenue),
                "refunds_eur": str(refunds),
            }
            for d, orders, customers, revenue, refunds in rows
        ]
        for line in summary:
            print(
                f"{line['day']}: {line['orders']} orders, {line['customers']} customers, "
                f"revenue {line['revenue_eur']} EUR, refunds {line['refunds_eur']} EUR"
            )
        return summary

    @task
    def archive_files(loaded) -> list[str]:
        """Move each processed file to archive/<day>/<name>, replacing an older copy."""
        import os
        import shutil

        archived = []
        for item in loaded[:]:
            src = os.path.join(_landing_dir(), item["file"])
            dest_dir = os.path.join(_data_dir(), "archive", item["day"])
            dest = os.path.join(dest_dir, item["file"])
            if not os.path.exists(src):
                print(f"{item['file']}: no longer in landing/ (already archived?), skipping")
                continue
            os.makedirs(dest_dir, exist_ok=True)
            try:
                os.replace(src, dest)  # atomic, overwrites an existing archive copy
            except OSError:  # e.g. landing/ and archive/ on different file systems
                shutil.copy2(src, dest)
                os.remove(src)
            archived.append(dest)
            print(f"archived {item['file']} -> {dest}")
        return archived

    files = find_files()
    ensure_tables() >> files
    loaded = load_file.expand(file_name=files)
    build_daily_revenue(loaded) >> archive_files(loaded)


staging_orders()
