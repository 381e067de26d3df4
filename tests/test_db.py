from __future__ import annotations

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
