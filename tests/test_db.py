from __future__ import annotations

import pytest

from tinyctl.db import split_statements


def test_semicolons_inside_quotes_comments_and_bodies_do_not_split() -> None:
    text = (
        "-- header; with a semicolon\n"
        "CREATE TABLE a (x text default 'a;b');\n"
        "/* block ; comment */ INSERT INTO a VALUES ('it''s; fine');\n"
        "\n"
        "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\n"
        "SELECT E'back\\'slash;';\n"
        'SELECT "we;ird" FROM a\n'
    )
    assert split_statements(text) == [
        (2, "CREATE TABLE a (x text default 'a;b')"),
        (3, "INSERT INTO a VALUES ('it''s; fine')"),
        (
            5,
            "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql",
        ),
        (6, "SELECT E'back\\'slash;'"),
        (7, 'SELECT "we;ird" FROM a'),
    ]


def test_empty_statements_and_trailing_comments_are_dropped() -> None:
    assert split_statements(";;\n-- only a comment\n") == []
    assert split_statements("SELECT 1; /* a /* nested */ comment */") == [(1, "SELECT 1")]


@pytest.mark.engine
def test_a_refused_password_gets_advice_that_keeps_the_data(engine: None) -> None:
    """A real PostgreSQL refusing tinyctl's password: the advice re-renders, never deletes."""
    import subprocess
    import time

    from conftest import free_port

    from tinyctl.db import Dsn, connect
    from tinyctl.errors import EnvironmentProblem

    port = free_port()
    name = f"tinyctl-authtest-{port}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=right",
         "-p", f"127.0.0.1:{port}:5432", "tinyctl/postgres:15-debian"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with connect(Dsn("127.0.0.1", port, "postgres", "postgres", "right")):
                    break
            except EnvironmentProblem:
                assert time.monotonic() < deadline, "postgres did not start"
                time.sleep(1)
        wrong = Dsn("127.0.0.1", port, "postgres", "postgres", "wrong")
        with pytest.raises(EnvironmentProblem) as caught, connect(wrong):
            pass
        assert "refused the password of role postgres" in caught.value.message
        hint = caught.value.hint or ""
        assert "tinyctl up" in hint and "data is kept" in hint
        assert "--volumes" not in hint and "delete" not in hint.lower()
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
