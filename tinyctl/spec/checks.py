"""Cross-field checks: the second pass over a spec that already matches the models.

Each check returns `SpecProblem`s located at the YAML node they concern. Errors stop the load;
warnings are reported by `tinyctl validate` but let the spec through.
"""

from __future__ import annotations

import ast
import difflib
import ipaddress
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tinyctl.errors import SpecProblem
from tinyctl.spec.image_inputs import read_image_inputs
from tinyctl.spec.loaded import LoadedSpec, format_path
from tinyctl.spec.models import CONFIG_KEY, DEBIAN_POSTGRES_VERSION, Spec
from tinyctl.spec.places import (
    EITHER,
    FILE,
    FOLDER,
    Place,
    blocking_part,
    fits,
    found_kind,
    spec_places,
)
from tinyctl.spec.reserved import INTERNAL_USER, READER_ROLE
from tinyctl.spec.yaml_positions import KEY_MARK

# Settings tinyctl derives from the spec itself; overriding them would break the stack.
MANAGED_CONFIG = {
    "core.executor": "set airflow.executor instead",
    "core.fernet_key": "it is generated into the state folder; override it with TINYCTL_SECRET_FERNET_KEY",
    "core.auth_manager": "tinyctl runs Airflow's simple auth manager with the users in airflow.users",
    "core.simple_auth_manager_users": "list users in airflow.users",
    "core.simple_auth_manager_passwords_file": "passwords are generated into the state folder",
    "core.execution_api_server_url": "tinyctl points it at the stack's api-server",
    "core.dags_folder": "set dags.path instead",
    "core.plugins_folder": "set plugins.path instead",
    "database.sql_alchemy_conn": "tinyctl creates and owns Airflow's metadata database",
    "api_auth.jwt_secret": "it is generated; override it with TINYCTL_SECRET_JWT_SECRET",
    "api.secret_key": "it is generated; override it with TINYCTL_SECRET_API_SECRET_KEY",
    "api.port": "set airflow.port instead",
    "celery.broker_url": "tinyctl runs Redis as the broker",
    "celery.result_backend": "tinyctl stores Celery results in the metadata database",
}
RESERVED_DATABASES = {"postgres", "airflow", "template0", "template1"}
RESERVED_ROLES = {"postgres", "airflow", "public", "none", READER_ROLE}
STATE_WHERE = ("project", "state_dir")
STATE_NEEDS = (
    "tinyctl needs a folder of its own there, apart from the project's files, for rendered "
    "files and secrets: name another folder (default .tinyctl)"
)


def image_source(spec: Spec, environ: Mapping[str, str]) -> str:
    """The effective image source: TINYCTL_IMAGES_SOURCE overrides the spec."""
    return environ.get("TINYCTL_IMAGES_SOURCE") or spec.images.source


def path_escape(root: Path, relative: str, *, subfolder: bool = False) -> str | None:
    """Why `relative` (a path written in the spec) is not inside `root`, or None when it is."""
    hint = "write a path inside the project folder, relative to tinyctl.yaml"
    try:
        written = Path(relative)
        if written.is_absolute() or relative.startswith("~"):
            return f"is absolute; {hint}"
        resolved_root = root.resolve()
        target = (root / written).resolve()
    except (ValueError, OSError, RuntimeError):
        return f"is not a usable path; {hint}"
    if not target.is_relative_to(resolved_root):
        how = "with '..'" if ".." in written.parts else "through a symlink"
        return f"leaves the project folder ({how}); {hint}"
    if subfolder and target == resolved_root:
        return "is the project folder itself; name a folder inside it (default .tinyctl)"
    return None


class _Checker:
    def __init__(self, loaded: LoadedSpec, environ: Mapping[str, str], check_files: bool):
        self.loaded = loaded
        self.spec = loaded.spec
        self.environ = environ
        self.check_files = check_files
        self.problems: list[SpecProblem] = []
        self.places = spec_places(loaded)

    def report(self, path: tuple[Any, ...], message: str, *, severity: str = "error") -> None:
        line, col = self.loaded.positions.get(path) or self.loaded.locate(*path)
        shown = path[:-1] if path and path[-1] == KEY_MARK else path
        self.problems.append(
            SpecProblem(self.loaded.file, line, col, format_path(shown), message, severity)
        )

    def warn(self, path: tuple[Any, ...], message: str) -> None:
        self.report(path, message, severity="warning")

    def duplicates(self, section: tuple[Any, ...], names: Iterable[str], field: str) -> None:
        seen: dict[str, int] = {}
        for index, name in enumerate(names):
            if name in seen:
                self.report(
                    (*section, index, field),
                    f"duplicate {field} {name!r} (also at {format_path((*section, seen[name]))})",
                )
            else:
                seen[name] = index

    def contained(
        self, path: tuple[Any, ...], relative: str, *, what: str, subfolder: bool = False
    ) -> bool:
        """Report a path written in the spec that leaves the project folder (absolute, '..' out
        of it, or a symlink pointing out); `subfolder`: the project folder itself is refused too."""
        problem = path_escape(self.loaded.root, relative, subfolder=subfolder)
        if problem:
            self.report(path, f"{what} {relative!r} {problem}")
            return False
        return True

    def file(
        self,
        path: tuple[Any, ...],
        relative: str,
        *,
        what: str = "file",
        needs: str = "a file",
        want: str = FILE,
        contained: bool = True,
    ) -> Path | None:
        """The existing file (or folder: `want`) `relative` names, or None after reporting why
        it cannot serve: outside the project, something of another kind, or nothing there."""
        if contained and not self.contained(path, relative, what=what):
            return None
        if not self.check_files:
            return None
        if not self.kind(path, relative, what=what, want=want, needs=needs):
            return None
        try:
            target = self.loaded.path(relative)
            exists = target.exists()
        except (OSError, RuntimeError, ValueError) as error:  # e.g. a symlink loop
            reason = getattr(error, "strerror", None) or "it cannot be resolved"
            self.report(path, f"{what} {relative!r} cannot be used: {reason}")
            return None
        if not exists:
            self.report(path, f"{what} {relative!r} does not exist (looked for {target})")
            return None
        return target

    def kind(
        self, path: tuple[Any, ...], relative: str, *, what: str, want: str, needs: str
    ) -> bool:
        """Report a place holding something of the wrong kind (a file where a folder is needed,
        a folder where a file is), or below a file; True when it fits or nothing is there yet.
        `needs` says what tinyctl needs there, e.g. "a folder of DAG files"."""
        blocked = blocking_part(self.loaded.root, relative)
        if blocked is not None:
            part, kind = blocked
            self.report(
                path,
                f"{what} {relative!r} cannot be made or found: {part!r} is "
                f"{self.role_of(part, kind, path)}, and tinyctl needs a folder at {part!r}",
            )
            return False
        kind = found_kind(self.loaded.root / relative)
        if fits(kind, want):
            return True
        self.report(path, f"{what} {relative!r} is {self.role_of(relative, kind, path)}; {needs}")
        return False

    def role_of(self, relative: str, kind: str, path: tuple[Any, ...]) -> str:
        """What is at `relative`, in the project's words: another place the spec names (not the
        one at `path`), something in one of the spec's folders, or else just its kind."""
        target = self._resolved(relative)
        others = [(p, self._resolved(p.relative)) for p in self.places if p.where != path]
        for place, other in others:
            if other is not None and other == target:
                return place.describe(with_path=False)
        for place, other in others:
            inside = other is not None and target is not None and target.is_relative_to(other)
            if place.want == FOLDER and inside:
                return f"{kind} in {place.describe()}"
        return kind

    def _resolved(self, relative: str) -> Path | None:
        try:
            return self.loaded.path(relative)
        except (OSError, RuntimeError, ValueError):  # e.g. a symlink loop
            return None

    def _reported(self, path: tuple[Any, ...]) -> bool:
        shown = format_path(path)
        return any(p.path == shown and p.severity == "error" for p in self.problems)

    # ------------------------------------------------------------------ the checks

    def run(self) -> list[SpecProblem]:
        self.folders()
        self.postgres()
        self.airflow()
        self.ports()
        self.dags()
        self.extensions()
        self.seeds()
        self.tests()
        self.images()
        self.env_file()
        self.state_apart()
        return self.problems

    def folders(self) -> None:
        """Everything tinyctl writes or mounts stays inside the project folder, and is a folder
        (or nothing yet: tinyctl creates them)."""
        state, data = self.spec.project.state_dir, self.spec.data.path
        contained = self.contained(STATE_WHERE, state, what="state folder", subfolder=True)
        if contained and self.check_files:
            self.kind(STATE_WHERE, state, what="state folder", want=FOLDER, needs=STATE_NEEDS)
        if self.contained(("data", "path"), data, what="data folder") and self.check_files:
            self.kind(
                ("data", "path"),
                data,
                what="data folder",
                want=FOLDER,
                needs="tinyctl needs a folder there (mounted into Airflow at /opt/airflow/data)",
            )

    def postgres(self) -> None:
        pg = self.spec.postgres
        self.duplicates(("postgres", "databases"), (d.name for d in pg.databases), "name")
        self.duplicates(("postgres", "roles"), (r.name for r in pg.roles), "name")
        db_names = [d.name for d in pg.databases]
        for i, db in enumerate(pg.databases):
            if db.name in RESERVED_DATABASES:
                self.report(
                    ("postgres", "databases", i, "name"),
                    f"{db.name!r} is reserved (Airflow's metadata or a Postgres system database)",
                )
            for j, schema in enumerate(db.schemas):
                if db.schemas.index(schema) != j:
                    self.report(
                        ("postgres", "databases", i, "schemas", j), f"duplicate schema {schema!r}"
                    )
                if schema.startswith("pg_") or schema == "information_schema":
                    self.report(
                        ("postgres", "databases", i, "schemas", j),
                        f"{schema!r} is a system schema name",
                    )
        for i, role in enumerate(pg.roles):
            if role.name in RESERVED_ROLES:
                self.report(
                    ("postgres", "roles", i, "name"),
                    f"{role.name!r} is reserved for tinyctl's own use",
                )
            elif role.name.startswith("pg_"):
                self.report(
                    ("postgres", "roles", i, "name"),
                    f"{role.name!r}: PostgreSQL reserves role names starting with pg_; choose another name",
                )
            for j, name in enumerate(role.databases or []):
                if name not in db_names:
                    self.report(
                        ("postgres", "roles", i, "databases", j),
                        self._unknown("database", name, db_names),
                    )
        if pg.writer is None:
            self.report(
                ("postgres", "roles"),
                "needs a role with `access: write`: it owns the warehouse schemas and is the role Airflow's DAGs connect as",
            )
        debian = image_source(self.spec, self.environ) == "debian" and pg.image is None
        if debian and "version" in pg.model_fields_set and pg.version != DEBIAN_POSTGRES_VERSION:
            self.report(
                ("postgres", "version"),
                f"images.source debian builds PostgreSQL {DEBIAN_POSTGRES_VERSION} (Debian bookworm's); "
                f'set version: "{DEBIAN_POSTGRES_VERSION}" or leave it out',
            )

    def airflow(self) -> None:
        af = self.spec.airflow
        self.duplicates(("airflow", "users"), (u.name for u in af.users), "name")
        self.duplicates(("airflow", "connections"), (c.id for c in af.connections), "id")
        self.duplicates(("airflow", "pools"), (p.name for p in af.pools), "name")
        for i, user in enumerate(af.users):
            if user.name == INTERNAL_USER and user.role != "admin":
                self.report(
                    ("airflow", "users", i, "role"),
                    f"the user {INTERNAL_USER!r} is tinyctl's own API user and must be an admin",
                )
        if af.workers is not None and af.executor != "CeleryExecutor":
            self.report(
                ("airflow", "workers"),
                "workers only apply to executor: CeleryExecutor (LocalExecutor runs tasks in the scheduler)",
            )
        managed = {db.connection_id for db in self.spec.postgres.databases}
        for i, conn in enumerate(af.connections):
            if conn.id in managed:
                self.report(
                    ("airflow", "connections", i, "id"),
                    f"{conn.id!r} is the warehouse connection tinyctl defines from postgres.databases",
                )
        for key, value in af.config.items():
            where = ("airflow", "config", key, KEY_MARK)
            if not CONFIG_KEY.fullmatch(key):
                self.report(
                    where,
                    f"write config keys as 'section.key' in lowercase (e.g. core.parallelism), not {key!r}",
                )
            elif key in MANAGED_CONFIG:
                self.report(where, f"{key} is managed by tinyctl: {MANAGED_CONFIG[key]}")
            elif (base := key.removesuffix("_cmd").removesuffix("_secret")) in MANAGED_CONFIG:
                self.report(
                    where,
                    f"{key} would replace how tinyctl passes {base} (a read-only secret file); "
                    f"{MANAGED_CONFIG[base]}",
                )
            if isinstance(value, str) and any(
                c == "'" or ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in value
            ):
                self.report(
                    ("airflow", "config", key),
                    "a config value may not contain a single quote, a line break or another control character",
                )
            elif isinstance(value, str) and value.endswith("\\"):
                self.report(
                    ("airflow", "config", key),
                    "a config value may not end with a backslash (Compose's env files read \\' as an escaped quote)",
                )
        refresh = af.config.get("dag_processor.refresh_interval")
        if isinstance(refresh, int | float) and not isinstance(refresh, bool) and refresh > 30:
            self.warn(
                ("airflow", "config", "dag_processor.refresh_interval"),
                f"new DAG files will take up to {refresh} s to appear; deploy-dags reports them as pending",
            )
        if af.bind != "127.0.0.1" and af.bind != "::1":
            self.warn(
                ("airflow", "bind"),
                f"the Airflow UI will be reachable from other machines on {af.bind}",
            )

    def _bind_warnings(self) -> None:
        pg = self.spec.postgres
        if pg.port is not None and not ipaddress.ip_address(pg.bind).is_loopback:
            self.warn(
                ("postgres", "bind"),
                f"PostgreSQL will accept connections from other machines on {pg.bind}:{pg.port} "
                "(password logins to the warehouse and Airflow's metadata); use 127.0.0.1 unless you mean it",
            )

    def ports(self) -> None:
        self._bind_warnings()
        pg, af = self.spec.postgres, self.spec.airflow
        if pg.port is not None and pg.port == af.port:
            self.report(
                ("airflow", "port"),
                f"port {af.port} is also postgres.port; give each service its own host port",
            )

    def dags(self) -> None:
        self.file(
            ("dags", "path"),
            self.spec.dags.path,
            what="DAG folder",
            want=FOLDER,
            needs="tinyctl needs a folder of DAG files there",
        )

    def extensions(self) -> None:
        """Plugins and include folders, requirement and package files (tinyctl.spec.image_inputs)."""
        for section in ("plugins", "include"):
            relative = getattr(self.spec, section).path
            where = (section, "path")
            if not self.check_files:
                continue
            what = f"{section} folder"
            held = "Airflow plugins" if section == "plugins" else "code shared by DAGs and plugins"
            needs = f"tinyctl needs a folder of {held} there"
            if not self.kind(where, relative, what=what, want=FOLDER, needs=needs):
                continue
            folder = self.loaded.path(relative)
            if not folder.exists() and section in self.spec.model_fields_set:
                self.report(
                    where,
                    f"{section} folder {relative!r} does not exist (looked for {folder}); "
                    f"create it, or remove `{section}:` from the spec",
                )
        if self.check_files:
            _inputs, problems = read_image_inputs(self.loaded)
            self.problems += problems

    def seeds(self) -> None:
        self.duplicates(("seeds",), (s.name for s in self.spec.seeds), "name")
        db_names = [d.name for d in self.spec.postgres.databases]
        for i, seed in enumerate(self.spec.seeds):
            if seed.database and seed.database not in db_names:
                self.report(
                    ("seeds", i, "database"), self._unknown("database", seed.database, db_names)
                )
            if seed.csv is not None:
                if not (seed.csv.endswith(".csv") or seed.csv.endswith(".csv.gz")):
                    self.report(("seeds", i, "csv"), "a CSV seed file ends in .csv or .csv.gz")
                self.file(("seeds", i, "csv"), seed.csv, needs="tinyctl needs a CSV file there")
                self._schema_known(("seeds", i, "table"), seed.table or "", seed.database)
            for j, sql in enumerate(seed.sql_files):
                self.file(
                    ("seeds", i, "sql", j) if isinstance(seed.sql, list) else ("seeds", i, "sql"),
                    sql,
                    needs="tinyctl needs an SQL file there",
                )

    def tests(self) -> None:
        self.duplicates(("tests",), (t.name for t in self.spec.tests), "name")
        seed_names = [s.name for s in self.spec.seeds]
        db_names = [d.name for d in self.spec.postgres.databases]
        wanted = {t.dag for t in self.spec.tests}
        known_dags = self._dag_ids(wanted) if self.check_files and wanted else None
        for i, test in enumerate(self.spec.tests):
            for j, name in enumerate(test.seeds):
                if name not in seed_names:
                    self.report(("tests", i, "seeds", j), self._unknown("seed", name, seed_names))
            if test.database and test.database not in db_names:
                self.report(
                    ("tests", i, "database"), self._unknown("database", test.database, db_names)
                )
            for j, fixture in enumerate(test.files):
                self._fixture(("tests", i, "files", j), fixture.source, fixture.target)
            if known_dags is not None and test.dag not in known_dags:
                self.warn(
                    ("tests", i, "dag"),
                    self._unknown("DAG", test.dag, sorted(known_dags))
                    + f" (not found in {self.spec.dags.path}/)",
                )

    def _fixture(self, where: tuple[Any, ...], source: str, target: str) -> None:
        self.file(
            (*where, "from"),
            source,
            want=EITHER,
            needs="tinyctl needs a file or a folder there (copied into the data folder)",
        )
        if Path(target).is_absolute() or ".." in Path(target).parts:
            self.report(
                (*where, "to"),
                "`to` is a folder inside the data folder (no absolute path, no '..')",
            )
        elif self.check_files and not self._reported(("data", "path")):
            self.kind(
                (*where, "to"),
                str(Path(self.spec.data.path) / target),
                what="fixture folder",
                want=FOLDER,
                needs="tinyctl needs a folder there (inside the data folder, the fixture is copied into it)",
            )

    def env_file(self) -> None:
        """The dotenv file, when named: a file inside the project, or nothing there yet (a
        fresh clone has no git-ignored .env: a warning, since its variables may be exported)."""
        relative = self.spec.env_file
        if relative is None or not self.check_files:
            return
        if not self.contained(("env_file",), relative, what="env file"):
            return
        where = ("env_file",)
        needs = "tinyctl needs a dotenv file (KEY=value lines) there"
        if self.loaded.path(relative) == self.loaded.file:
            self.report(where, f"env file {relative!r} is the spec itself; {needs}")
        elif (
            self.kind(where, relative, what="env file", want=FILE, needs=needs)
            and not self.loaded.path(relative).exists()
        ):
            self.warn(
                where,
                f"env file {relative!r} does not exist: only the environment's variables are read",
            )

    def images(self) -> None:
        """The CA bundle, when named: a file (it may live outside the project, e.g. in /etc)."""
        bundle = self.spec.images.ca_bundle
        if bundle is not None:
            self.file(
                ("images", "ca_bundle"),
                bundle,
                what="CA bundle",
                needs="tinyctl needs a file of PEM certificates there",
                contained=False,
            )

    def state_apart(self) -> None:
        """The state folder is tinyctl's own: it is none of the project's inputs (the spec, the
        DAG, plugins, include, data and seeds folders, seed, fixture and image input files),
        holds none of them, and lies in none of their folders. The line blamed is the state
        folder's when the spec writes it, else the other place's."""
        if self._reported(STATE_WHERE):
            return
        state = self._resolved(self.spec.project.state_dir)
        if state is None:
            return
        blame_state = "state_dir" in self.spec.project.model_fields_set
        for place in (p for p in self.places if p.where != STATE_WHERE):
            target = self._resolved(place.relative)
            # A seeds folder is named by no line of its own: only the state's line is blamed,
            # and one that is the project folder (written 'dags/../x.sql') holds every state.
            derived = bool(place.note) and (not blame_state or target == self.loaded.root.resolve())
            skip = self._reported(place.where) or derived
            if target is None or skip:
                continue
            relation = _relation(state, target, place)
            if relation is None:
                continue
            if blame_state or not place.where:
                self._state_overlap(relation, place)
                return
            self._place_overlap(relation, place)

    def _state_overlap(self, relation: str, place: Place) -> None:
        state = self.spec.project.state_dir
        described = place.describe(with_path=relation != "is")  # "is" names the same path
        self.report(STATE_WHERE, f"state folder {state!r} {relation} {described}; {STATE_NEEDS}")

    def _place_overlap(self, relation: str, place: Place) -> None:
        state = self.spec.project.state_dir
        # Seen from the place: the state folder `holds` it, or it holds the state folder.
        seen = {"is": "is", "holds": "is inside", "is inside": "holds"}[relation]
        self.report(
            place.where,
            f"{place.relative!r} ({place.role}) {seen} the state folder {state!r} (project.state_dir), "
            "which tinyctl owns and rewrites: keep the two apart (move it, or set "
            "project.state_dir to another folder)",
        )

    # ------------------------------------------------------------------ helpers

    def _schema_known(self, path: tuple[Any, ...], table: str, database: str | None) -> None:
        if "." not in table:
            return
        schema = table.split(".", 1)[0]
        dbs = self.spec.postgres.databases
        db = next((d for d in dbs if d.name == database), dbs[0])
        if schema not in (*db.schemas, "public"):
            self.warn(
                path,
                f"schema {schema!r} is not one of {db.name}'s schemas ({', '.join(db.schemas)}); it must exist before seeding",
            )

    @staticmethod
    def _unknown(what: str, name: str, known: list[str]) -> str:
        message = f"unknown {what} {name!r}"
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            return f"{message}; did you mean {close[0]!r}?"
        return f"{message} (known: {', '.join(known) or 'none'})"

    def _dag_ids(self, wanted: set[str]) -> set[str] | None:
        try:
            folder = self.loaded.path(self.spec.dags.path)
            if not folder.is_dir():
                return None
        except (OSError, RuntimeError, ValueError):
            return None
        return scan_dag_ids(folder, wanted)


def _relation(state: Path, target: Path, place: Place) -> str | None:
    """How the state folder stands to a place: it `is` it, `holds` it, `is inside` it (a
    folder, or a fixture that is a folder), or None when they are apart."""
    if target == state:
        return "is"
    if target.is_relative_to(state):
        return "holds"
    if state.is_relative_to(target) and (place.want == FOLDER or _is_folder(target)):
        return "is inside"
    return None


def _is_folder(target: Path) -> bool:
    try:
        return target.is_dir()
    except OSError:
        return False


# `validate` reads DAG files only to suggest DAG names: it stays fast on a huge or odd tree.
SCAN_MAX_FILES = 2000
SCAN_MAX_BYTES = 1 << 20
SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".tinyctl"}


def _python_files(folder: Path) -> Iterator[Path]:
    """*.py files under `folder`, at most SCAN_MAX_FILES; unreadable parts are skipped."""
    count = 0
    for root, dirs, files in os.walk(folder, onerror=lambda _error: None):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".py"):
                count += 1
                if count > SCAN_MAX_FILES:
                    return
                yield Path(root) / name


def scan_dag_ids(folder: Path, wanted: Collection[str] = ()) -> set[str]:
    """DAG ids a folder of DAG files defines, read statically (nothing is imported).

    With `wanted`, files that mention none of those ids are parsed only if one of them is not
    found in the others (then every id is needed, for the suggestions): the answer is the same
    for what is asked, and a command checking its spec parses one file per test DAG instead of
    the whole folder (a parse costs milliseconds per file, on every command).
    """
    needles = [name.encode() for name in wanted]
    found: set[str] = set()
    later: list[Path] = []
    for file in _python_files(folder):
        data = _dag_source(file)
        if data is None:
            continue
        if not needles or any(needle in data for needle in needles):
            found.update(_parsed_dag_ids(file, data))
        else:
            later.append(file)
    if not set(wanted) <= found:
        for file in later:
            if (data := _dag_source(file)) is not None:
                found.update(_parsed_dag_ids(file, data))
    return found


def _dag_source(file: Path) -> bytes | None:
    """The file's bytes if it may define a DAG: not too big, readable, mentions "dag"."""
    try:
        if file.stat().st_size > SCAN_MAX_BYTES:
            return None
        data = file.read_bytes()
    except OSError:
        return None
    return data if b"dag" in data.lower() else None


def _parsed_dag_ids(file: Path, data: bytes) -> Iterator[str]:
    try:
        tree = ast.parse(data.decode("utf-8"), filename=str(file))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    yield from dag_ids_in(tree)


def dag_ids_in(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node.func) == "DAG":
            yield from _dag_id_argument(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                name = _callee(call.func if call else decorator)
                if name == "dag":
                    ids = list(_dag_id_argument(call)) if call else []
                    yield ids[0] if ids else node.name


def _callee(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _dag_id_argument(call: ast.Call) -> Iterator[str]:
    for keyword in call.keywords:
        if (
            keyword.arg == "dag_id"
            and isinstance(keyword.value, ast.Constant)
            and isinstance(keyword.value.value, str)
        ):
            yield keyword.value.value
            return
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        yield call.args[0].value


def cross_check(
    loaded: LoadedSpec, *, check_files: bool = True, environ: Mapping[str, str] | None = None
) -> list[SpecProblem]:
    return _Checker(loaded, os.environ if environ is None else environ, check_files).run()
