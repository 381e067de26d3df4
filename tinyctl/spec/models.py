"""The project spec (`tinyctl.yaml`) as pure pydantic models.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored default.
Checks that need more than one field (duplicate names, ports used twice, files that must exist)
live in `tinyctl.spec.checks`; this module knows nothing of files, YAML or Docker.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from tinyctl.spec.packages import is_requirement, package_problem

DEFAULT_AIRFLOW_VERSION = "3.3.2"
DEFAULT_POSTGRES_VERSION = "17"
DEBIAN_POSTGRES_VERSION = (
    "15"  # what Debian bookworm ships; the only one `images.source: debian` builds
)

# Compose project names: lowercase letters, digits, dashes and underscores, starting with a
# letter or digit (the rule `docker compose` itself enforces).
PROJECT_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# PostgreSQL identifiers tinyctl creates: lowercase, unquoted-safe.
IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
# Airflow ids (connections, pools, users, variables): what Airflow accepts without surprises.
AIRFLOW_ID = r"^[A-Za-z0-9_.-]{1,250}$"
# Python patterns guard input with fullmatch (never `$`, which also matches before a final
# newline). The `pattern=` strings below are run by pydantic's Rust engine, where `$` is the
# end of the text; tests/spec/test_models_hostile.py proves a trailing newline is refused by both.
CONFIG_KEY = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
DURATION = re.compile(r"[ ]*([0-9]{1,30})[ ]*(s|m|h|d)[ ]*")
DELIMITER = r"^[\t !#-~]$"
MAX_DURATION = 366 * 86400  # a year: longer is a typo (and would overflow a timedelta)
# A SQL type name as written in `columns:` (e.g. text, numeric(12,2), timestamp with time zone,
# character varying(20), int[]): words, an optional (precision[, scale]) and [] suffixes.
SQL_TYPE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?: [A-Za-z_][A-Za-z0-9_]*){0,3}(?: ?\( ?[0-9]{1,4} ?(?:, ?[0-9]{1,4} ?)?\))?(?: [A-Za-z_][A-Za-z0-9_]*){0,3}(?:\[\])*"
)
# A container image reference: [registry[:port]/]path[:tag][@sha256:digest].
IMAGE_REF = (
    r"^(?:[a-zA-Z0-9][a-zA-Z0-9.-]*(?::[0-9]{1,5})?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)

# How each pattern reads to a person, for error messages.
PATTERN_HELP = {
    PROJECT_NAME: "a Compose project name: lowercase letters, digits, '-' and '_', starting with a letter or digit",
    IDENTIFIER: "a lowercase SQL identifier: letters, digits and '_', not starting with a digit",
    AIRFLOW_ID: "letters, digits, '_', '.' and '-' only",
    r"^3\.\d+\.\d+$": "an Airflow 3 version such as 3.3.2 (tinyctl runs Airflow 3 only)",
    r"^\d{2}$": "a PostgreSQL major version such as 17",
    DELIMITER: "one ASCII character such as ',', ';', '|' or a tab (not a quote or a line break)",
    IMAGE_REF: "an image name such as postgres:17 or registry.example.com/team/airflow:3.3.2",
}

Identifier = Annotated[str, Field(pattern=IDENTIFIER)]
AirflowId = Annotated[str, Field(pattern=AIRFLOW_ID)]
Port = Annotated[int, Field(ge=1, le=65535, examples=[8080])]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Scalar = str | int | float | bool


def _check_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address (use 127.0.0.1, or 0.0.0.0 for all interfaces)"
        ) from None
    return value


BindAddress = Annotated[str, AfterValidator(_check_address)]


def parse_duration(value: str | int) -> int:
    """'90s', '15m', '2h', '1d' or a number of seconds -> seconds (1 s to a year)."""
    if isinstance(value, bool):
        word = "true" if value else "false"
        raise ValueError(
            f"YAML reads {word} as a yes/no value, not a duration (write 30s, 15m, 2h or 1d)"
        )
    if not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a duration (write 30s, 15m, 2h or 1d)")
    if isinstance(value, int):
        seconds = value
    else:
        match = DURATION.fullmatch(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (write 30s, 15m, 2h or 1d)")
        amount, unit = int(match.group(1)), match.group(2)
        seconds = amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds < 1:
        raise ValueError(f"{value!r} is not a duration: it must be at least 1s (e.g. 30s or 10m)")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than a year; write e.g. 10m, 2h or 7d")
    return seconds


def _duration(value: Any) -> str | int:
    parse_duration(value)
    return value


Duration = Annotated[str | int, BeforeValidator(_duration)]


def _switch(value: Any) -> Any:
    """YAML 1.1 reads a bare on/off as true/false: a switch takes them as the words meant."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


Switch = Annotated[Literal["auto", "on", "off"], BeforeValidator(_switch)]


def _path_part_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if any(ord(c) < 32 or c in "\x7f\u2028\u2029" for c in value):
        return "contains a control character (a line break, a tab or a NUL byte)"
    if any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in value.split("/")):
        return "has a name longer than 255 bytes, which no file system accepts"
    if len(value.encode("utf-8", "surrogatepass")) > 4000:
        return "is longer than 4,000 bytes"
    return None


def _valid_path(value: str) -> str:
    problem = _path_part_problem(value)
    if problem:
        raise ValueError(f"the path {problem}")
    return value


def _repo_path(value: str) -> str:
    """A relative path inside a git repository (not a file on this machine)."""
    return _valid_path(value)


def _mount_path(value: str) -> str:
    _valid_path(value)
    if ":" in value or "," in value:
        raise ValueError(
            "the path is mounted into the containers, where ':' and ',' separate options; rename the folder"
        )
    return value


FilePath = Annotated[str, AfterValidator(_valid_path)]
MountPath = Annotated[str, AfterValidator(_mount_path)]
RepoPath = Annotated[str, AfterValidator(_repo_path)]
ImageRef = Annotated[str, Field(pattern=IMAGE_REF, max_length=255)]


class Strict(BaseModel):
    # strict: YAML already types every value, so `port: true` or `timeout: "5"` is a mistake
    # to report, not a value to coerce (true would become port 1).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


# --------------------------------------------------------------------------- project, images


class Project(Strict):
    """The project; its name is also the Docker Compose project name."""

    name: str = Field(
        pattern=PROJECT_NAME,
        description="Compose project name: lowercase letters, digits, '-' and '_'.",
    )
    state_dir: FilePath = Field(
        ".tinyctl", description="Folder for rendered files, secrets and logs (git-ignored)."
    )


class Images(Strict):
    """Where the stack's container images come from."""

    source: Literal["official", "debian"] = Field(
        "official",
        description="official: apache/airflow and postgres images from a registry; debian: build every "
        "image locally from a debootstrap'd Debian base (no registry needed). "
        "Overridden by the TINYCTL_IMAGES_SOURCE environment variable.",
    )
    ca_bundle: FilePath | None = Field(
        None,
        description="CA bundle handed to image builds as a BuildKit secret (never stored in a layer). "
        "Default: the file named by PIP_CERT, REQUESTS_CA_BUNDLE or SSL_CERT_FILE.",
    )
    pip_index_url: str | None = Field(
        None, description="Python package index used inside image builds."
    )
    debian_mirror: str = Field(
        "http://deb.debian.org/debian", description="Debian mirror for the debian base image."
    )


# --------------------------------------------------------------------------- postgres


class Database(Strict):
    """A warehouse database and the schemas created in it."""

    name: Identifier
    schemas: list[Identifier] = Field(default_factory=lambda: ["staging", "analytics"])
    conn_id: AirflowId | None = Field(
        None,
        description="Airflow connection id tinyctl defines for this database (default: the database name).",
    )

    @property
    def connection_id(self) -> str:
        return self.conn_id or self.name


class Role(Strict):
    """A login role in the warehouse. `write` owns the schemas; `read` may only SELECT."""

    name: Identifier
    access: Literal["write", "read"]
    databases: list[Identifier] | None = Field(
        None, description="Databases it may use (default: all)."
    )


def _default_databases() -> list[Database]:
    return [Database(name="warehouse")]


def _default_roles() -> list[Role]:
    return [Role(name="etl", access="write"), Role(name="analyst", access="read")]


class Postgres(Strict):
    """PostgreSQL: Airflow's metadata database and the warehouse, in one server."""

    version: str = Field(
        DEFAULT_POSTGRES_VERSION, pattern=r"^\d{2}$", description="Major version, e.g. '17'."
    )
    image: ImageRef | None = Field(None, description="Image to run instead of postgres:<version>.")
    port: Port | None = Field(5432, description="Host port; null keeps Postgres unexposed.")
    bind: BindAddress = "127.0.0.1"
    databases: list[Database] = Field(default_factory=_default_databases, min_length=1)
    roles: list[Role] = Field(default_factory=_default_roles)

    @property
    def writer(self) -> Role | None:
        return next((r for r in self.roles if r.access == "write"), None)

    @property
    def default_database(self) -> Database:
        return self.databases[0]


# --------------------------------------------------------------------------- airflow


class User(Strict):
    """A UI/API user of Airflow's simple auth manager; its password is generated."""

    name: AirflowId
    role: Literal["admin", "op", "user", "viewer"] = "admin"


class Connection(Strict):
    """An Airflow connection. Passwords come from the environment, never from the spec."""

    id: AirflowId
    type: str = Field(
        pattern=r"^[A-Za-z0-9_-]+$", description="Connection type, e.g. postgres, http, aws."
    )
    description: str | None = None
    host: str | None = None
    port: Port | None = None
    login: str | None = None
    schema_: str | None = Field(None, alias="schema", description="Database or path.")
    password_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the password.",
    )
    extra: dict[str, Any] = Field(default_factory=dict)
    extra_env: dict[str, EnvName] = Field(
        default_factory=dict,
        description="Secret `extra` keys, each read from an environment variable "
        "(e.g. {token: API_TOKEN}); merged into `extra` when the settings are applied.",
    )


class Pool(Strict):
    name: AirflowId
    slots: int = Field(ge=-1, description="-1 means unlimited.")
    description: str | None = None
    include_deferred: bool = False


def _requirement(item: str) -> str:
    if not is_requirement(item):
        raise ValueError(
            f"{item!r} is not a requirement (write e.g. 'pandas==2.2.3'; pip options are not allowed)"
        )
    return item


def _package(value: str) -> str:
    if (problem := package_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _input_file(value: str) -> str:
    """A string where a list is also allowed names a file: refuse what is clearly not a path."""
    if not value.strip() or "\n" in value or any(c in value for c in "=<>;[]$`|&"):
        raise ValueError(
            f"{value!r} is not a file name: write a list ([{value}]) "
            "or the path of a file with one entry per line"
        )
    return value


PipRequirement = Annotated[str, AfterValidator(_requirement)]
DebianPackage = Annotated[str, AfterValidator(_package)]
InputFile = Annotated[str, AfterValidator(_valid_path), AfterValidator(_input_file)]
T = TypeVar("T")
# A list written in the spec, or the path of a file holding one entry per line
# (tinyctl.spec.image_inputs reads it). The tags are the names the loader already drops from
# error locations, so errors point at list items.
ListOrFile = Annotated[
    Annotated[list[T], Tag("list[str]")] | Annotated[InputFile, Tag("str")],
    Discriminator(lambda value: "str" if isinstance(value, str) else "list[str]"),
]


class Airflow(Strict):
    """Apache Airflow 3: its image, executor, ports, users and settings."""

    version: str = Field(
        DEFAULT_AIRFLOW_VERSION, pattern=r"^3\.\d+\.\d+$", description="Airflow 3.x version."
    )
    image: ImageRef | None = Field(
        None, description="Image to run instead of apache/airflow:<version>."
    )
    executor: Literal["LocalExecutor", "CeleryExecutor"] = "LocalExecutor"
    workers: int | None = Field(
        None, ge=1, le=32, description="Celery workers (CeleryExecutor only; default 1)."
    )
    port: Port = 8080
    bind: BindAddress = "127.0.0.1"
    start_timeout: Duration = Field("10m", description="How long `up` waits for a healthy stack.")
    triggerer: Switch = Field(
        "on",
        description="Run Airflow's triggerer (what deferred tasks wait in): on, off, or auto "
        "(only when the DAG, plugin or include code uses deferrable operators or triggers).",
    )
    users: list[User] = Field(
        default_factory=lambda: [User(name="admin", role="admin")], min_length=1
    )
    config: dict[str, Scalar] = Field(
        default_factory=dict,
        description="Airflow settings as 'section.key: value', rendered to AIRFLOW__SECTION__KEY.",
    )
    connections: list[Connection] = Field(default_factory=list)
    variables: dict[Annotated[str, Field(pattern=AIRFLOW_ID)], Any] = Field(default_factory=dict)
    pools: list[Pool] = Field(default_factory=list)
    requirements: ListOrFile[PipRequirement] = Field(
        default_factory=list,
        description="Extra pip requirements: a list of PEP 508 requirements, or the path of a "
        "requirements file (e.g. requirements.txt) relative to the spec file. They imply a "
        "custom image build, rebuilt when they change.",
    )
    system_packages: ListOrFile[DebianPackage] = Field(
        default_factory=list,
        description="Debian packages installed into the Airflow image (e.g. [jq, unixodbc]): a "
        "list, or the path of a file with one package per line (e.g. packages.txt). They imply a "
        "custom image build.",
    )

    @property
    def worker_count(self) -> int:
        return (self.workers or 1) if self.executor == "CeleryExecutor" else 0


class Dags(Strict):
    path: FilePath = Field("dags", description="Folder of DAG files, relative to the spec file.")


class Plugins(Strict):
    path: FilePath = Field(
        "plugins",
        description="Folder of Airflow plugins (timetables, priority weight strategies, macros, "
        "listeners, UI plugins), relative to the spec file. Loaded by every Airflow component at "
        "start: `tinyctl up` or `tinyctl restart` picks up a change.",
    )


class Include(Strict):
    path: FilePath = Field(
        "include",
        description="Folder of code and files shared by DAGs and plugins, relative to the spec "
        "file; importable as the package `include` (from include.helpers import ...). Deployed "
        "with the DAGs.",
    )


class Data(Strict):
    path: MountPath = Field(
        "data",
        description="Project data folder mounted into Airflow at /opt/airflow/data "
        "(landing files in landing/, archived files in archive/).",
    )


# --------------------------------------------------------------------------- seeds


def _sql_type(value: str) -> str:
    if not SQL_TYPE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a SQL type name (write e.g. text, integer, numeric(12,2), date or timestamptz)"
        )
    return value


class Seed(Strict):
    """Data loaded by `tinyctl seed`: SQL files run in order, or a CSV file loaded with COPY."""

    name: AirflowId
    database: Identifier | None = Field(
        None, description="Warehouse database (default: the first)."
    )
    sql: FilePath | list[FilePath] | None = Field(
        None, description="SQL file(s), each run in one transaction, in order."
    )
    csv: FilePath | None = Field(None, description="CSV file (.csv or .csv.gz) loaded with COPY.")
    table: str | None = Field(
        None, pattern=r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$", description="schema.table"
    )
    columns: dict[Identifier, Annotated[str, AfterValidator(_sql_type)]] | None = Field(
        None, description="Column name -> SQL type; creates the table when it does not exist."
    )
    mode: Literal["replace", "append", "upsert"] = "replace"
    key: list[Identifier] | None = Field(None, description="Key columns for mode: upsert.")
    header: bool = True
    delimiter: str = Field(
        ",",
        min_length=1,
        max_length=1,
        pattern=DELIMITER,
        description="One ASCII character, e.g. ',', ';', '|' or a tab.",
    )
    null: str = Field(
        "",
        validation_alias=AliasChoices("null_text", "null"),
        serialization_alias="null_text",
        max_length=100,
        pattern=r"^[^\r\n\x00]*$",
        description='The text that means NULL in the CSV (also accepted as "null", quoted).',
    )

    @model_validator(mode="after")
    def _one_source(self) -> Seed:
        if (self.sql is None) == (self.csv is None):
            raise ValueError("a seed has exactly one of `sql` or `csv`")
        if self.csv is not None and not self.table:
            raise ValueError("a csv seed needs `table` (schema.table)")
        if self.sql is not None and (self.table or self.columns or self.key):
            raise ValueError("`table`, `columns` and `key` belong to csv seeds")
        if self.mode == "upsert" and not self.key:
            raise ValueError("mode: upsert needs `key` (the columns that identify a row)")
        if (
            self.key
            and self.columns
            and (missing := [k for k in self.key if k not in self.columns])
        ):
            raise ValueError(f"key column(s) {', '.join(missing)} are not in `columns`")
        return self

    @property
    def sql_files(self) -> list[str]:
        if self.sql is None:
            return []
        return [self.sql] if isinstance(self.sql, str) else list(self.sql)


# --------------------------------------------------------------------------- ETL tests

TableName = Annotated[str, Field(pattern=r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$")]
ColumnName = Annotated[str, Field(pattern=IDENTIFIER)]
SqlType = Annotated[str, AfterValidator(_sql_type)]

NUMBER = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
CONDITION = re.compile(
    rf"\s*(?:(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>{NUMBER})(?P<pct>%)?"
    rf"|between\s+(?P<low>{NUMBER})(?P<lowpct>%)?\s+and\s+(?P<high>{NUMBER})(?P<highpct>%)?)\s*"
)
CHANGE = re.compile(r"\s*<=?\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*")
TOLERANCE = re.compile(rf"\s*({NUMBER[2:]})\s*%\s*")  # a non-negative share, e.g. '0.5%'


def _condition(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a condition (write e.g. '>= 0' or 'between 1 and 9')")
    text = str(value) if not isinstance(value, str) else value
    if isinstance(value, int | float):
        text = f"== {value}"
    if not CONDITION.fullmatch(text):
        raise ValueError(
            f"{value!r} is not a condition: write '>= 0', '< 100', '== 3', '<= 5%' or 'between 1 and 9'"
        )
    return text


def _change(value: Any) -> str:
    if not isinstance(value, str) or not CHANGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a change bound: write a share such as '<=20%'")
    return value


def _tolerance(value: Any) -> int | float | str:
    if isinstance(value, bool):
        raise ValueError("a tolerance is a number (0.01) or a share ('0.5%'), not yes/no")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a tolerance is not negative: {value}")
        return value
    if isinstance(value, str) and TOLERANCE.fullmatch(value):
        return value
    raise ValueError(f"{value!r} is not a tolerance: write an amount (0.01) or a share ('0.5%')")


Condition = Annotated[str | int | float, BeforeValidator(_condition)]
ChangeBound = Annotated[str, BeforeValidator(_change)]
Tolerance = Annotated[int | float | str, BeforeValidator(_tolerance)]


def condition_holds(condition: str, value: float) -> bool:
    """'>= 0', '<= 5%' (a share: 5% is 0.05), 'between 1 and 9' (inclusive) against `value`."""
    match = CONDITION.fullmatch(condition)
    if match is None:
        raise ValueError(f"not a condition: {condition!r}")

    def number(text: str, pct: str | None) -> float:
        return float(text) / 100 if pct else float(text)

    if match.group("op"):
        bound = number(match.group("value"), match.group("pct"))
        return {
            "==": value == bound,
            "!=": value != bound,
            ">=": value >= bound,
            "<=": value <= bound,
            ">": value > bound,
            "<": value < bound,
        }[match.group("op")]
    low = number(match.group("low"), match.group("lowpct"))
    high = number(match.group("high"), match.group("highpct"))
    return low <= value <= high


def change_share(bound: str) -> float:
    """'<=20%' -> 0.2"""
    match = CHANGE.fullmatch(bound)
    if match is None:
        raise ValueError(f"not a change bound: {bound!r}")
    return float(match.group(1)) / 100


def tolerance_of(value: int | float | str) -> tuple[str, float]:
    """('absolute', 0.01) or ('relative', 0.005) for '0.5%'."""
    if isinstance(value, str):
        match = TOLERANCE.fullmatch(value)
        assert match is not None  # validated by the model
        return "relative", float(match.group(1)) / 100
    return "absolute", float(value)


class RowCount(Strict):
    table: TableName
    where: str | None = None
    equals: int | None = Field(None, ge=0)
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    change_vs_previous: ChangeBound | None = Field(
        None,
        description="e.g. '<=20%': the count may differ from the median of the previous "
        "passing runs (run history) by at most this share.",
    )
    previous_runs: int = Field(
        10, ge=1, le=1000, description="Passing runs change_vs_previous reads."
    )

    @model_validator(mode="after")
    def _bounds(self) -> RowCount:
        if (
            self.equals is None
            and self.min is None
            and self.max is None
            and self.change_vs_previous is None
        ):
            raise ValueError("row_count needs `equals`, `min`, `max` or `change_vs_previous`")
        if self.equals is not None and (self.min is not None or self.max is not None):
            raise ValueError("row_count takes `equals` or `min`/`max`, not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("row_count `min` is larger than `max`")
        return self


class NotNull(Strict):
    table: TableName
    columns: list[ColumnName] = Field(min_length=1)
    where: str | None = None


class Unique(Strict):
    table: TableName
    columns: list[ColumnName] = Field(
        min_length=1, description="One column, or several that are unique together."
    )
    where: str | None = None


class AcceptedValues(Strict):
    table: TableName
    column: ColumnName
    values: list[Scalar] = Field(min_length=1)
    where: str | None = None


class Relationships(Strict):
    table: TableName
    column: ColumnName
    to: str = Field(
        pattern=r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$",
        description="schema.table.column every value must be found in.",
    )
    where: str | None = None


class Freshness(Strict):
    table: TableName
    column: ColumnName
    max_age: Duration = Field(description="e.g. 15m, 2h, 1d")


class CustomSql(Strict):
    query: str = Field(min_length=1)
    equals: Scalar | None = Field(
        None, description="Expected single value; without it the query must return no rows."
    )


class ExpectedRows(Strict):
    """A table (or query) compared with expected rows: a CSV file next to the spec, or inline."""

    table: TableName | None = Field(None, description="schema.table compared (or `query`).")
    query: str | None = Field(None, min_length=1, description="A SELECT compared (or `table`).")
    where: str | None = Field(None, description="Compare only the table's rows matching this.")
    file: FilePath | None = Field(
        None, description="CSV file of the expected rows, with a header (relative to the spec)."
    )
    rows: list[dict[ColumnName, Scalar | None]] | None = Field(
        None, min_length=1, description="Inline expected rows (or `file`)."
    )
    key: list[ColumnName] | None = Field(
        None,
        description="Columns identifying a row: diffs name the changed cells. Without a key the "
        "rows are compared as a multiset (missing and unexpected rows only).",
    )
    columns: list[ColumnName] | None = Field(
        None, description="Columns compared (default: every column of the expected rows)."
    )
    tolerance: Tolerance | dict[ColumnName, Tolerance] | None = Field(
        None,
        description="Numeric tolerance: an absolute amount (0.01) or a share of the expected "
        "value ('0.5%'); one for every numeric column, or per column. Needs `key`.",
    )
    null_text: str = Field("", max_length=100, description="The text that means NULL in the CSV.")
    show: int = Field(10, ge=1, le=1000, description="Differences shown of each kind.")

    @model_validator(mode="after")
    def _sources(self) -> ExpectedRows:
        if (self.table is None) == (self.query is None):
            raise ValueError("expected compares exactly one of `table` or `query`")
        if (self.file is None) == (self.rows is None):
            raise ValueError("expected takes exactly one of `file` (a CSV) or `rows` (inline)")
        if self.query is not None and self.where is not None:
            raise ValueError("`where` filters a `table`; put the condition in the `query`")
        if self.tolerance is not None and not self.key:
            raise ValueError(
                "a tolerance pairs expected and actual rows by `key`: add `key` (the columns "
                "that identify a row)"
            )
        if self.key and self.columns and (out := [k for k in self.key if k not in self.columns]):
            raise ValueError(f"key column(s) {', '.join(out)} are not in `columns`")
        if self.rows is not None:
            header = list(self.rows[0])
            for index, row in enumerate(self.rows[1:], start=2):
                if list(row) != header:
                    raise ValueError(
                        f"inline row {index} has the columns {', '.join(row)}; row 1 has "
                        f"{', '.join(header)} (every row names the same columns, in order)"
                    )
        return self


class ColumnSpec(Strict):
    """One column of a schema contract: its type, nullability and optional value ranges."""

    type: SqlType | None = Field(None, description="A Postgres type: int4 and integer are one.")
    nullable: bool | None = Field(None, description="false: the column is declared NOT NULL.")
    min: Condition | None = Field(None, description="Bound on the smallest value, e.g. '>= 0'.")
    max: Condition | None = Field(None, description="Bound on the largest value.")
    mean: Condition | None = Field(None, description="Bound on the mean, e.g. 'between 1 and 9'.")
    null_share: Condition | None = Field(None, description="Bound on the share of NULL, '<= 1%'.")

    @property
    def ranges(self) -> bool:
        return any(v is not None for v in (self.min, self.max, self.mean, self.null_share))


class ColumnsContract(Strict):
    """A table keeps its shape: these columns, with these types and nullability."""

    table: TableName
    mode: Literal["exact", "at_least"] = Field(
        "exact", description="exact: these columns and no other; at_least: others may exist."
    )
    columns: dict[ColumnName, SqlType | ColumnSpec] = Field(
        min_length=1,
        description="Column -> type ('numeric(12,2)'), or {type, nullable, min, max, mean, null_share}.",
    )

    def spec_of(self, column: str) -> ColumnSpec:
        value = self.columns[column]
        return value if isinstance(value, ColumnSpec) else ColumnSpec(type=value)


AGGREGATES = ("sum", "avg", "min", "max", "count", "count_distinct")


class Reconcile(Strict):
    """Two relations agree: row counts, aggregates of columns, distinct keys."""

    source: str = Field(
        alias="from",
        pattern=r"^(fixture|([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*)$",
        description="schema.table, or `fixture`: the test's fixture CSV files as one relation.",
    )
    to: TableName
    from_where: str | None = None
    to_where: str | None = None
    row_count: bool = Field(True, description="Compare the row counts.")
    aggregates: dict[ColumnName, Literal[AGGREGATES] | list[Literal[AGGREGATES]]] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Column -> aggregate(s) compared, e.g. {amount: sum}."
    )
    keys: list[ColumnName] | None = Field(
        None, description="Every distinct key of `from` is found in `to`."
    )
    keys_match: Literal["contained", "equal"] = Field(
        "contained", description="equal: also every key of `to` is found in `from`."
    )
    tolerance: Tolerance = Field(
        0, description="Allowed difference of counts and aggregates: absolute, or '1%' of `from`."
    )

    @property
    def measures(self) -> list[tuple[str, str]]:
        """(aggregate, column) pairs, in the spec's order."""
        pairs = []
        for column, aggregates in self.aggregates.items():
            for aggregate in [aggregates] if isinstance(aggregates, str) else aggregates:
                pairs.append((aggregate, column))
        return pairs


class RelativeCount(Strict):
    """The row count as a share of another relation's."""

    relative_to: TableName
    where: str | None = Field(None, description="Filter of the other relation.")
    ratio: Condition = Field(description="e.g. 'between 0.95 and 1' or '>= 0.99'.")


class Range(Strict):
    """Statistics of a column (and the row count) within bounds, optionally against history."""

    table: TableName
    column: ColumnName | None = None
    where: str | None = None
    min: Condition | None = Field(None, description="Bound on the smallest value, e.g. '>= 0'.")
    max: Condition | None = Field(None, description="Bound on the largest value.")
    mean: Condition | None = Field(None, description="Bound on the mean, e.g. 'between 1 and 9'.")
    null_share: Condition | None = Field(None, description="Bound on the share of NULL, '<= 1%'.")
    row_count: RelativeCount | None = None
    change_vs_previous: ChangeBound | None = Field(
        None,
        description="e.g. '<=20%': each statistic may differ from the median of the previous "
        "passing runs by at most this share.",
    )
    previous_runs: int = Field(
        10, ge=1, le=1000, description="Passing runs change_vs_previous reads."
    )

    @model_validator(mode="after")
    def _something(self) -> Range:
        stats = [self.min, self.max, self.mean, self.null_share]
        if any(s is not None for s in stats) and self.column is None:
            raise ValueError("min, max, mean and null_share bound a `column`: name it")
        if all(s is None for s in stats) and self.row_count is None and not self.change_vs_previous:
            raise ValueError(
                "range needs a bound: min, max, mean, null_share, row_count or change_vs_previous"
            )
        return self


EXPECTATION_KINDS = (
    "row_count",
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "freshness",
    "sql",
    "expected",
    "columns",
    "reconcile",
    "range",
)


THRESHOLD = re.compile(r"^\s*(==|!=|>=|<=|>|<)\s*(\d+)\s*$")


def threshold_holds(condition: str, failures: int) -> bool:
    """dbt's `warn_if` / `error_if`: e.g. ">10" or "!=0" against the number of offending rows."""
    match = THRESHOLD.match(condition)
    if match is None:
        raise ValueError(f"not a threshold: {condition!r}")
    op, bound = match.group(1), int(match.group(2))
    return {
        "==": failures == bound,
        "!=": failures != bound,
        ">=": failures >= bound,
        "<=": failures <= bound,
        ">": failures > bound,
        "<": failures < bound,
    }[op]


Threshold = Annotated[
    str,
    Field(
        pattern=THRESHOLD.pattern,
        description="A condition on the number of offending rows, as in dbt: '!=0', '>10', '>=5'.",
    ),
]


class Expectation(Strict):
    """One assertion on the warehouse after the run. Set exactly one kind.

    As in dbt: `severity: error` (the default) fails the test when `error_if` holds on the number
    of offending rows and warns when only `warn_if` holds; `severity: warn` only ever warns.
    Both thresholds default to "!=0". Checks without rows (row_count, freshness, sql with
    `equals`) count one offending row when they fail."""

    name: str | None = Field(
        None, description="Shown in reports (default: derived from the expectation)."
    )
    severity: Literal["warn", "error"] = Field(
        "error", description="error fails the test; warn reports it and passes."
    )
    warn_if: Threshold = "!=0"
    error_if: Threshold = "!=0"
    row_count: RowCount | None = None
    not_null: NotNull | None = None
    unique: Unique | None = None
    accepted_values: AcceptedValues | None = None
    relationships: Relationships | None = None
    freshness: Freshness | None = None
    sql: CustomSql | None = None
    expected: ExpectedRows | None = None
    columns: ColumnsContract | None = None
    reconcile: Reconcile | None = None
    range: Range | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Expectation:
        kinds = [k for k in EXPECTATION_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"an expectation has exactly one of {', '.join(EXPECTATION_KINDS)}"
                + (f" (found {', '.join(kinds)})" if kinds else "")
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in EXPECTATION_KINDS if getattr(self, k) is not None)

    @property
    def body(self) -> BaseModel:
        return getattr(self, self.kind)


class FileFixture(Strict):
    """A file copied into the project's data folder before the test's run."""

    source: FilePath = Field(alias="from", description="File or folder, relative to the spec file.")
    target: FilePath = Field("landing", alias="to", description="Folder inside the data folder.")


class EtlTest(Strict):
    """A smoke test: seed, run a DAG through the scheduler, then assert on the warehouse."""

    name: AirflowId
    dag: AirflowId
    conf: dict[str, Any] = Field(
        default_factory=dict, description="Run configuration passed to the DAG run."
    )
    seeds: list[AirflowId] = Field(default_factory=list, description="Seeds loaded before the run.")
    files: list[FileFixture] = Field(default_factory=list)
    database: Identifier | None = Field(
        None, description="Database the expectations query (default: the first)."
    )
    timeout: Duration = "10m"
    tags: list[Annotated[str, Field(pattern=AIRFLOW_ID)]] = Field(
        default_factory=list, description="Select tests by tag: `test-etl --select tag:NAME`."
    )
    expect: list[Expectation] = Field(default_factory=list)


class StoreFailures(Strict):
    """Where `test-etl --store-failures` writes the offending rows of each failed expectation."""

    schema_: Identifier = Field(
        "test_failures",
        alias="schema",
        description="A schema of the tests' database, listed in postgres.databases[].schemas.",
    )


# --------------------------------------------------------------------------- Kubernetes

# A DNS-1123 label (namespaces, Helm release names: at most 53 so the chart's suffixes fit).
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
K8S_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"
PATTERN_HELP[DNS_LABEL] = (
    "a Kubernetes name: lowercase letters, digits and '-', starting and ending with a letter "
    "or digit, at most 53 characters"
)
PATTERN_HELP[K8S_QUANTITY] = "a Kubernetes quantity such as 500m, 1, 512Mi or 2Gi"
PATTERN_HELP[r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"] = (
    "an IAM role ARN such as arn:aws:iam::123456789012:role/airflow"
)
PATTERN_HELP[r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"] = "an S3 bucket name such as my-airflow-logs"

Quantity = Annotated[str, Field(pattern=K8S_QUANTITY)]


class K8sResources(Strict):
    """CPU and memory of one component's pods: requests, and limits (default: the requests)."""

    cpu: Quantity | None = Field(None, description="CPU request, e.g. 500m or 1.")
    memory: Quantity | None = Field(None, description="Memory request, e.g. 1Gi.")
    cpu_limit: Quantity | None = None
    memory_limit: Quantity | None = Field(None, description="Memory limit (default: the request).")


class K8sGit(Strict):
    """git-sync: the DAGs come from a Git repository instead of being baked into the image."""

    repo: str = Field(
        pattern=r"^(https://|ssh://|git@)[^\s]+$",
        description="Repository URL, e.g. https://github.com/acme/dags.git or git@github.com:acme/dags.git.",
    )
    branch: str = Field("main", pattern=r"^[A-Za-z0-9._/-]{1,200}$")
    subpath: RepoPath = Field("dags", description="Folder of the DAG files inside the repository.")
    ssh_key_secret: str | None = Field(
        None,
        pattern=DNS_LABEL,
        description="Name of an existing Kubernetes Secret holding the deploy key as `gitSshKey` "
        "(for git@ / ssh:// URLs).",
    )
    credentials_secret: str | None = Field(
        None,
        pattern=DNS_LABEL,
        description="Name of an existing Secret with GIT_SYNC_USERNAME/GIT_SYNC_PASSWORD and "
        "GITSYNC_USERNAME/GITSYNC_PASSWORD (for private https URLs).",
    )
    period: Duration = Field("60s", description="How often git-sync pulls.")


class K8sImage(Strict):
    """Where the baked project image is pushed and how the cluster pulls it."""

    repository: str | None = Field(
        None,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9.-]*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+$",
        description="Image repository without a tag, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/airflow "
        "(default: REGISTRY/<project>-airflow from `tinyctl k8s image --push REGISTRY`).",
    )
    pull_secret: str | None = Field(
        None, pattern=DNS_LABEL, description="An existing docker-registry Secret to pull with."
    )


class K8sDatabase(Strict):
    """The Postgres server on the cluster side: external (RDS, Cloud SQL, an operator) or bundled."""

    url_env: str | None = Field(
        None,
        pattern=ENV_NAME,
        description="Environment variable holding the admin URL of an external PostgreSQL, e.g. "
        "postgresql://admin:PASSWORD@db.example.com:5432/postgres?sslmode=require. Airflow's "
        "metadata database, the warehouse databases and their roles are created there. "
        "Unset: the chart's bundled PostgreSQL (for a dev cluster).",
    )


class K8sEks(Strict):
    """What `profile: eks` needs: the IAM role for service accounts (IRSA) and the log bucket."""

    role_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$",
        description="IAM role the Airflow service accounts assume (IRSA); it needs S3 access to the log bucket.",
    )
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", description="e.g. eu-west-1")
    log_bucket: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="S3 bucket for task logs."
    )
    log_prefix: str = Field("airflow/logs", pattern=r"^[A-Za-z0-9!_.*'()/-]{1,512}$")


class K8sApiServer(Strict):
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    replicas: int = Field(1, ge=1, le=10)


class K8s(Strict):
    """The Kubernetes target (`tinyctl k8s`): Airflow's official Helm chart on a cluster.

    Only cluster settings live here; the rest of the spec (DAGs, config, users, connections,
    warehouse) is shared with the local targets."""

    namespace: str = Field("airflow", pattern=DNS_LABEL)
    release: str | None = Field(
        None, pattern=DNS_LABEL, description="Helm release name (default: the project name)."
    )
    chart: str | None = Field(
        None,
        description="The chart: a folder or a repository reference (default: apache-airflow/airflow "
        "1.19.x; TINYCTL_AIRFLOW_CHART overrides it).",
    )
    executor: Literal["LocalExecutor", "CeleryExecutor", "KubernetesExecutor"] | None = Field(
        None, description="Executor on the cluster (default: airflow.executor)."
    )
    profile: Literal["eks"] | None = Field(
        None, description="eks: IRSA annotations, S3 remote task logs, RDS with sslmode=require."
    )
    dags: Literal["image", "git"] = Field(
        "image", description="image: DAGs baked into the image; git: pulled by git-sync."
    )
    git: K8sGit | None = None
    image: K8sImage = Field(default_factory=K8sImage)
    database: K8sDatabase = Field(default_factory=K8sDatabase)
    eks: K8sEks | None = None
    api_server: K8sApiServer = Field(default_factory=K8sApiServer)
    resources: dict[
        Literal["scheduler", "api_server", "dag_processor", "triggerer", "workers"], K8sResources
    ] = Field(default_factory=dict, description="Requests and limits per component.")


# --------------------------------------------------------------------------- memory limits

MEMORY_LIMIT = r"^[1-9][0-9]{0,6}(Mi|Gi)$"
PATTERN_HELP[MEMORY_LIMIT] = "a size in MiB or GiB such as 512Mi or 2Gi"
MemoryLimit = Annotated[str, Field(pattern=MEMORY_LIMIT)]
LimitedService = Literal[
    "postgres", "redis", "api-server", "scheduler", "dag-processor", "triggerer", "worker"
]


def memory_bytes(limit: str) -> int:
    """Bytes of a `memory:` value (512Mi, 2Gi)."""
    return int(limit[:-2]) * (1 << (20 if limit.endswith("Mi") else 30))


# --------------------------------------------------------------------------- the spec


class Spec(Strict):
    """A tinyctl project: one YAML file is the single source of truth for the whole stack."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "tinyctl.yaml",
        },
    )

    project: Project
    runtime: Literal["auto", "compose", "local"] = Field(
        "auto",
        description="How the stack runs. compose: containers on a Docker engine; local: local "
        "processes (PostgreSQL binaries found on the machine, Airflow in a managed virtual "
        "environment; LocalExecutor only); auto: compose when a Docker engine answers, else local. "
        "Overridden by the TINYCTL_RUNTIME environment variable.",
    )
    env_file: FilePath | None = Field(
        None,
        description="A dotenv file (KEY=value lines, e.g. .env) relative to the spec file, read "
        "for password_env and extra_env values; variables already in the environment win. "
        "Keep it git-ignored.",
    )
    images: Images = Field(default_factory=Images)
    postgres: Postgres = Field(default_factory=Postgres)
    airflow: Airflow = Field(default_factory=Airflow)
    dags: Dags = Field(default_factory=Dags)
    plugins: Plugins = Field(default_factory=Plugins)
    include: Include = Field(default_factory=Include)
    data: Data = Field(default_factory=Data)
    memory: dict[LimitedService, MemoryLimit] = Field(
        default_factory=dict,
        description="A memory limit per service of the stack on Compose, e.g. {scheduler: 2Gi} "
        "(each worker gets the worker's): a service above it is killed by the kernel's OOM killer, "
        "and `tinyctl status` and `up` say so. The local runtime's processes are not limited.",
    )
    seeds: list[Seed] = Field(default_factory=list)
    tests: list[EtlTest] = Field(default_factory=list)
    store_failures: StoreFailures = Field(default_factory=StoreFailures)
    k8s: K8s = Field(
        default_factory=K8s,
        description="The Kubernetes target (`tinyctl k8s render|image|deploy`).",
    )


def json_schema() -> dict[str, Any]:
    return Spec.model_json_schema(by_alias=True)
