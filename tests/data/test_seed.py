"""`tinyctl seed` (tinyctl/data/seed.py, tinyctl/db.py) on the shared live stack.

The extra seeds live in a second spec file next to tinyctl.yaml with the same project name
(`-s tinyctl-seedtest.yaml`), so they load into the same stack without touching the project's
spec. Their tables are `staging.tt_seed_*`; everything is removed afterwards.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import yaml
from conftest import Stack, plain

pytestmark = pytest.mark.stack
# the seed modes and their errors: the same code on every runtime (test_seeding_twice runs on each)
one_runtime = pytest.mark.one_runtime

SPEC_NAME = "tinyctl-seedtest.yaml"
FOLDER = "seeds/tt_seed"
COLUMNS = {"id": "integer", "name": "text", "amount": "numeric"}
TABLES = (
    "tt_seed_rows",
    "tt_seed_append",
    "tt_seed_upsert",
    "tt_seed_gz",
    "tt_seed_sqlfail",
    "tt_seed_sqldup",
)

GOOD = "id,name,amount\n1,alpha,1.50\n2,beta,2.50\n3,gamma,3.50\n"
FILES = {
    "good.csv": GOOD,
    # line 4 (the header is line 1) has two fields instead of three
    "badcount.csv": "id,name,amount\n10,a,1\n11,b,2\n12,c\n13,d,4\n",
    # line 3 has a fourth field
    "extracol.csv": "id,name,amount\n10,a,1\n11,b,2,surplus\n",
    # line 5, column amount, is not a number
    "badtype.csv": "id,name,amount\n10,a,1\n11,b,2\n12,c,3\n13,d,notanumber\n14,e,5\n",
    "append.csv": "id,name,amount\n1,x,10\n2,y,20\n",
    "upsert.csv": "id,name,amount\n1,one,1\n2,two,2\n3,three,3\n",
    "upsert_dup.csv": "id,name,amount\n1,one,1\n2,two,2\n2,again,2\n",
    "fail.sql": (
        "-- creates a table, then fails on line 5\n"
        "CREATE TABLE staging.tt_seed_sqlfail (id int);\n"
        "INSERT INTO staging.tt_seed_sqlfail VALUES (1);\n"
        "\n"
        "SELECT * FROM staging.tt_seed_no_such_table;\n"
        "INSERT INTO staging.tt_seed_sqlfail VALUES (2);\n"
    ),
    "dup.sql": (
        "CREATE TABLE staging.tt_seed_sqldup (id int PRIMARY KEY);\n"
        "INSERT INTO staging.tt_seed_sqldup VALUES (1);\n"
        "\n"
        "INSERT INTO staging.tt_seed_sqldup VALUES (1);\n"
    ),
}


def csv_seed(name: str, file: str, table: str, **extra) -> dict:
    return {
        "name": name,
        "csv": f"{FOLDER}/{file}",
        "table": f"staging.{table}",
        "columns": dict(COLUMNS),
        **extra,
    }


SEEDS = [
    csv_seed("tt_seed_good", "good.csv", "tt_seed_rows"),
    csv_seed("tt_seed_badcount", "badcount.csv", "tt_seed_rows"),
    csv_seed("tt_seed_extracol", "extracol.csv", "tt_seed_rows"),
    csv_seed("tt_seed_badtype", "badtype.csv", "tt_seed_rows"),
    csv_seed("tt_seed_append", "append.csv", "tt_seed_append", mode="append"),
    csv_seed("tt_seed_upsert", "upsert.csv", "tt_seed_upsert", mode="upsert", key=["id"]),
    csv_seed("tt_seed_upsert_dup", "upsert_dup.csv", "tt_seed_upsert", mode="upsert", key=["id"]),
    csv_seed("tt_seed_gz", "gz.csv.gz", "tt_seed_gz"),
    {"name": "tt_seed_sqlfail", "sql": f"{FOLDER}/fail.sql"},
    {"name": "tt_seed_sqldup", "sql": f"{FOLDER}/dup.sql"},
]


def scalar(s: Stack, sql: str) -> str:
    """The single value a query returns, read from `tinyctl psql -c` output."""
    out = s.psql(sql)
    lines = [line.strip() for line in out.splitlines()]
    # psql's aligned format: header, ----- rule, the value, (1 row)
    rule = next(
        i for i, line in enumerate(lines) if set(line) == {"-"} or re.fullmatch(r"-+(\+-+)*", line)
    )
    return lines[rule + 1]


def count(s: Stack, table: str) -> int:
    return int(scalar(s, f"SELECT count(*) FROM {table}"))


def exists(s: Stack, table: str) -> bool:
    return scalar(s, f"SELECT to_regclass('{table}') IS NOT NULL") == "t"


def contents(s: Stack, table: str) -> str:
    return scalar(
        s, f"SELECT string_agg(id || ':' || name || ':' || amount, ' ' ORDER BY id) FROM {table}"
    )


@pytest.fixture(scope="module")
def seeding(live_stack: Stack) -> Iterator[Stack]:
    folder = live_stack.root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(text)
    with gzip.open(folder / "gz.csv.gz", "wt") as handle:
        handle.write("id,name,amount\n" + "".join(f"{i},name {i},{i}.25\n" for i in range(1, 1001)))
    spec = yaml.safe_load((live_stack.root / "tinyctl.yaml").read_text())
    spec["seeds"] = [*spec.get("seeds", []), *SEEDS]
    (live_stack.root / SPEC_NAME).write_text(yaml.safe_dump(spec, sort_keys=False))
    try:
        yield live_stack
    finally:
        (live_stack.root / SPEC_NAME).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        live_stack.psql("; ".join(f"DROP TABLE IF EXISTS staging.{t}" for t in TABLES))


def seed(s: Stack, *only: str) -> subprocess.CompletedProcess[str]:
    args = [arg for name in only for arg in ("--only", name)]
    return s.run("seed", "-s", SPEC_NAME, *args)


def seed_json(s: Stack, *only: str) -> list[dict]:
    args = [arg for name in only for arg in ("--only", name)]
    result = s.run("seed", "-s", SPEC_NAME, *args, "--json")
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def test_seeding_twice_gives_the_same_row_counts(live_stack: Stack) -> None:
    expected_customers = (
        len((live_stack.root / "seeds" / "customers.csv").read_text().strip().splitlines()) - 1
    )
    counts = []
    for _ in range(2):
        outcomes = live_stack.json("seed")
        assert [(o["name"], o["kind"]) for o in outcomes] == [
            ("fx_rates", "sql"),
            ("customers", "csv"),
        ]
        assert (
            outcomes[1]["rows"] == expected_customers
            and outcomes[1]["target"] == "staging.customers"
        )
        counts.append(
            (count(live_stack, "staging.fx_rates"), count(live_stack, "staging.customers"))
        )
    assert counts[0] == counts[1] == (3, expected_customers)


@one_runtime
def test_only_loads_the_named_seed(live_stack: Stack) -> None:
    outcomes = live_stack.json("seed", "--only", "customers")
    assert [o["name"] for o in outcomes] == ["customers"]
    result = live_stack.run("seed", "--only", "tt_seed_nope")
    assert result.returncode == 2
    message = plain(result.stderr)
    assert "unknown seed(s): tt_seed_nope" in message and "fx_rates, customers" in message


@pytest.mark.parametrize(
    ("name", "where", "column", "fragment"),
    [
        ("tt_seed_badcount", "badcount.csv:4", None, "missing data for column"),
        ("tt_seed_extracol", "extracol.csv:3", None, "extra data after last expected column"),
        ("tt_seed_badtype", "badtype.csv:5", "amount", "invalid input syntax for type numeric"),
    ],
)
@one_runtime
def test_a_bad_csv_row_is_located_and_the_table_keeps_its_rows(
    seeding: Stack, name: str, where: str, column: str | None, fragment: str
) -> None:
    assert seed_json(seeding, "tt_seed_good")[0]["rows"] == 3
    before = contents(seeding, "staging.tt_seed_rows")
    assert before == "1:alpha:1.50 2:beta:2.50 3:gamma:3.50"
    result = seed(seeding, name)
    assert result.returncode == 2, result.stdout + result.stderr
    message = plain(result.stderr)
    assert f"seed {name}:" in message
    assert f"{FOLDER}/{where}" in message, message
    if column:
        assert f"{where}, column {column}:" in message, message
    assert fragment in message
    assert "staging.tt_seed_rows was left exactly as it was" in message
    assert contents(seeding, "staging.tt_seed_rows") == before


@one_runtime
def test_an_append_seed_twice_doubles_the_rows(seeding: Stack) -> None:
    seeding.psql("DROP TABLE IF EXISTS staging.tt_seed_append")
    assert seed_json(seeding, "tt_seed_append")[0]["rows"] == 2
    assert count(seeding, "staging.tt_seed_append") == 2
    assert seed_json(seeding, "tt_seed_append")[0]["rows"] == 2
    assert count(seeding, "staging.tt_seed_append") == 4
    assert contents(seeding, "staging.tt_seed_append").split() == [
        "1:x:10",
        "1:x:10",
        "2:y:20",
        "2:y:20",
    ]


@one_runtime
def test_an_upsert_seed_twice_keeps_the_rows_and_updates_a_changed_value(seeding: Stack) -> None:
    seeding.psql("DROP TABLE IF EXISTS staging.tt_seed_upsert")
    seed_json(seeding, "tt_seed_upsert")
    first = contents(seeding, "staging.tt_seed_upsert")
    assert first == "1:one:1 2:two:2 3:three:3"
    seed_json(seeding, "tt_seed_upsert")
    assert contents(seeding, "staging.tt_seed_upsert") == first
    path = seeding.root / FOLDER / "upsert.csv"
    original = path.read_text()
    try:
        path.write_text("id,name,amount\n2,TWO,22\n4,four,4\n")
        assert seed_json(seeding, "tt_seed_upsert")[0]["rows"] == 2
        assert contents(seeding, "staging.tt_seed_upsert") == "1:one:1 2:TWO:22 3:three:3 4:four:4"
    finally:
        path.write_text(original)
    # The primary key tinyctl created from `key` is there.
    assert (
        scalar(
            seeding,
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'tt_seed_upsert' AND indexdef LIKE '%(id)%'",
        )
        == "1"
    )


@one_runtime
def test_an_upsert_file_with_a_duplicate_key_names_the_file_and_changes_nothing(
    seeding: Stack,
) -> None:
    seed_json(seeding, "tt_seed_upsert")
    before = contents(seeding, "staging.tt_seed_upsert")
    result = seed(seeding, "tt_seed_upsert_dup")
    assert result.returncode == 2, result.stdout + result.stderr
    message = plain(result.stderr)
    assert "(id) = (2) appears 2 times" in message
    assert contents(seeding, "staging.tt_seed_upsert") == before
    assert "upsert_dup.csv" in message and "tt_seed_upsert_dup" in message, (
        f"the message names neither the seed nor its file: {message}"
    )


@one_runtime
def test_a_gzipped_csv_seed_loads(seeding: Stack) -> None:
    outcomes = seed_json(seeding, "tt_seed_gz")
    assert outcomes[0]["rows"] == 1000 and outcomes[0]["kind"] == "csv"
    assert outcomes[0]["bytes"] > (seeding.root / FOLDER / "gz.csv.gz").stat().st_size, (
        "bytes counts the uncompressed data"
    )
    assert count(seeding, "staging.tt_seed_gz") == 1000
    assert scalar(seeding, "SELECT sum(amount) FROM staging.tt_seed_gz") == "500750.00"


@one_runtime
def test_a_sql_seed_error_names_file_and_line_and_rolls_the_file_back(seeding: Stack) -> None:
    result = seed(seeding, "tt_seed_sqlfail")
    assert result.returncode == 2, result.stdout + result.stderr
    message = plain(result.stderr)
    assert f"seed tt_seed_sqlfail: {seeding.root}/{FOLDER}/fail.sql:5:" in message, message
    assert 'relation "staging.tt_seed_no_such_table" does not exist' in message
    assert "rolled back" in message
    assert not exists(seeding, "staging.tt_seed_sqlfail"), (
        "the table created on line 2 was rolled back"
    )


@one_runtime
def test_a_sql_seed_constraint_violation_names_its_line(seeding: Stack) -> None:
    result = seed(seeding, "tt_seed_sqldup")
    assert result.returncode == 2, result.stdout + result.stderr
    message = plain(result.stderr)
    assert "duplicate key value violates unique constraint" in message
    assert not exists(seeding, "staging.tt_seed_sqldup"), "the file was rolled back"
    assert f"{FOLDER}/dup.sql:4:" in message, (
        f"the failing statement's line is not named: {message}"
    )


@one_runtime
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_gzip_exits_2_and_the_table_keeps_its_rows(seeding: Stack, damage: str) -> None:
    path = seeding.root / FOLDER / "gz.csv.gz"
    good = path.read_bytes()
    assert seed_json(seeding, "tt_seed_gz")[0]["rows"] == 1000
    if damage == "truncated":
        bad = good[: len(good) // 2]
    else:  # a flipped byte in the deflate stream: a zlib error or a CRC mismatch at the end
        middle = len(good) // 2
        bad = good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :]
    path.write_bytes(bad)
    try:
        result = seed(seeding, "tt_seed_gz")
    finally:
        path.write_bytes(good)
    assert result.returncode == 2, result.stdout + result.stderr
    message = plain(result.stderr)
    assert "gz.csv.gz could not be read" in message
    assert "staging.tt_seed_gz was left exactly as it was" in message
    assert count(seeding, "staging.tt_seed_gz") == 1000
