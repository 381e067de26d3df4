"""Taking back a stack this folder started under an identity its state folder lost (the folder
deleted and made again while the stack ran): `up --adopt` and `down --orphaned`."""

from __future__ import annotations

from tinyctl.errors import EnvironmentProblem, WorkFailed
from tinyctl.project import Project
from tinyctl.render import render
from tinyctl.targets.base import POSTGRES


def adopt_orphaned(project: Project) -> str | None:
    """Make this project the owner of its folder's orphaned stack, and render its files with
    that identity. Returns the id taken over; None when there is no such stack (then nothing
    changes). Another folder's stack is never taken: `check_ownership` still refuses it."""
    project.ensure_identity()
    found = project.runtime.orphaned_ids()
    if not found:
        return None
    if len(found) > 1:
        raise EnvironmentProblem(
            f"{len(found)} stacks of this folder under lost identities: {', '.join(found)}",
            hint="Remove the containers and volumes labelled io.tinyctl.project-id with "
            "`docker rm -f` and `docker volume rm`, keeping the one to adopt.",
        )
    project.take_identity(found[0])
    render(project)
    _give_superuser_this_password(project)
    return found[0]


def _give_superuser_this_password(project: Project) -> None:
    """The lost state folder held the secrets the stack's database was made with; this folder
    has new ones. Set the superuser's password to this folder's (the bootstrap sets every other
    role's on each start), through the container's local socket; the password goes on stdin,
    never on a command line. A stack whose Postgres is not running is left as it is."""
    if not any(s.service == POSTGRES and s.running for s in project.runtime.services()):
        return
    boot = project.plan.bootstrap
    password = project.secrets[boot.superuser_secret].replace("'", "''")
    role = boot.superuser.replace('"', '""')
    sql = f"ALTER ROLE \"{role}\" WITH PASSWORD '{password}';\n"
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", boot.superuser, "-d", "postgres"]
    code, text = project.runtime.exec(POSTGRES, argv, input=sql.encode())
    if code != 0:
        raise WorkFailed(f"could not give the adopted database this folder's password: {text}")
