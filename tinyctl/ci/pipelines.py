"""`tinyctl ci init`: write a thin Jenkins, GitLab CI or GitHub Actions pipeline.

Every pipeline runs the same three commands (make a venv, install tinyctl, `tinyctl ci run`);
all the logic is in `tinyctl ci run`, where it is tested. The templates live in
`templates/ci/` and ship inside the package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from tinyctl import __version__
from tinyctl.errors import BadInput
from tinyctl.resources import templates_dir
from tinyctl.state.fsutil import write_atomic

DEFAULT_OUT = "ci-reports"
VENV = ".tinyctl-ci"
DEFAULT_PACKAGE = f"tinyctl=={__version__}"


@dataclass(frozen=True)
class Provider:
    name: str
    template: str
    target: str  # relative to the repository root
    product: str


PROVIDERS = {
    p.name: p
    for p in (
        Provider("jenkins", "Jenkinsfile.j2", "Jenkinsfile", "Jenkins"),
        Provider("gitlab", "gitlab-ci.yml.j2", ".gitlab-ci.yml", "GitLab CI"),
        Provider(
            "github", "github-workflow.yml.j2", ".github/workflows/tinyctl.yml", "GitHub Actions"
        ),
    )
}
# What a pipeline leaves in the checkout; `ci init` adds them to .gitignore.
IGNORED = (f"{VENV}/", f"{DEFAULT_OUT}/")

# Shell words that stay one word, unquoted, in sh, YAML and a Groovy '...' string.
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")
_UNSAFE_PACKAGE = re.compile(r"[\"'`$\\\x00-\x1f]")


@dataclass(frozen=True)
class PipelineCommands:
    install: tuple[str, ...]
    run: str

    @property
    def all(self) -> list[str]:
        return [*self.install, self.run]


def pipeline_commands(spec: str | None = None, out: str = DEFAULT_OUT) -> PipelineCommands:
    """The commands every pipeline runs, from the repository root."""
    for value, what in ((spec, "--spec"), (out, "--out")):
        if value is not None and not _SAFE_PATH.match(value):
            raise BadInput(
                f"{what} {value!r} cannot be written into a pipeline file",
                hint="Use a relative path of letters, digits, '.', '_', '-' and '/'.",
            )
    spec_arg = f" --spec {spec}" if spec else ""
    return PipelineCommands(
        install=(
            f"python3 -m venv {VENV}",
            f'{VENV}/bin/pip install --quiet "$TINYCTL_PACKAGE"',
        ),
        run=f"{VENV}/bin/tinyctl ci run{spec_arg} --out {out}",
    )


@dataclass(frozen=True)
class DeployStage:
    """`--deploy k8s`: after `tinyctl ci run` passed, on main only: push the image, deploy."""

    commands: tuple[str, ...]
    secrets: tuple[str, ...]  # variables the CI's secret store provides


DEPLOY_TARGETS = ("k8s",)
# The registry and its login; the kube context comes as a kubeconfig file from the store too.
DEPLOY_SECRETS = ("TINYCTL_REGISTRY", "REGISTRY_USER", "REGISTRY_PASSWORD")


def deploy_stage(target: str, spec: str | None, spec_secrets: tuple[str, ...] = ()) -> DeployStage:
    if target not in DEPLOY_TARGETS:
        raise BadInput(
            f"unknown deploy target {target!r}", hint="Choose: " + ", ".join(DEPLOY_TARGETS) + "."
        )
    spec_arg = f" --spec {spec}" if spec else ""
    return DeployStage(
        commands=(
            'echo "$REGISTRY_PASSWORD" | docker login "$TINYCTL_REGISTRY" --username "$REGISTRY_USER" --password-stdin',
            "helm repo add apache-airflow https://airflow.apache.org && helm repo update apache-airflow",
            f'{VENV}/bin/tinyctl k8s image{spec_arg} --push "$TINYCTL_REGISTRY"',
            f"{VENV}/bin/tinyctl k8s deploy{spec_arg}",
        ),
        secrets=(*DEPLOY_SECRETS, *spec_secrets),
    )


def render_pipeline(
    provider: str,
    *,
    package: str = DEFAULT_PACKAGE,
    spec: str | None = None,
    deploy: DeployStage | None = None,
) -> str:
    """The text of one provider's pipeline file."""
    chosen = _provider(provider)
    if not package.strip() or _UNSAFE_PACKAGE.search(package):
        raise BadInput(
            f"--package {package!r} cannot be written into a pipeline file",
            hint="Give a pip requirement without quotes, '$', '`' or backslashes, e.g. tinyctl==0.1.0 "
            "or a URL of a wheel.",
        )
    commands = pipeline_commands(spec)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "ci")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template(chosen.template).render(
        version=__version__,
        package=package.strip(),
        install=list(commands.install),
        run=commands.run,
        out=DEFAULT_OUT,
        deploy=deploy,
    )


def _provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise BadInput(
            f"unknown CI system {name!r}", hint="Choose one of: " + ", ".join(PROVIDERS) + "."
        ) from None


def repository_root(start: Path) -> Path:
    """The git checkout that holds `start` (where CI systems look for pipeline files), else `start`."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


@dataclass(frozen=True)
class InitResult:
    path: Path
    provider: Provider
    overwritten: bool
    gitignore: Path | None  # the .gitignore that got new lines, if any


def init_pipeline(
    provider: str,
    spec_file: Path,
    *,
    package: str = DEFAULT_PACKAGE,
    force: bool = False,
    deploy: str | None = None,
) -> InitResult:
    """Write the provider's pipeline at the root of the repository holding `spec_file`.

    Refuses (BadInput) to overwrite an existing file unless `force`; writes nothing then.
    """
    chosen = _provider(provider)
    spec_file = spec_file.absolute()
    if not spec_file.is_file():
        raise BadInput(
            f"{spec_file} does not exist",
            hint="Run `tinyctl init` first, or point at the spec with --spec PATH.",
        )
    root = repository_root(spec_file.parent)
    relative_spec = spec_file.resolve().relative_to(root).as_posix()
    spec_arg = None if relative_spec == "tinyctl.yaml" else relative_spec
    stage = None
    if deploy is not None:
        stage = deploy_stage(deploy, spec_arg, _deploy_secrets(spec_file))
    text = render_pipeline(chosen.name, package=package, spec=spec_arg, deploy=stage)
    target = root / chosen.target
    exists = target.exists()
    if exists and not force:
        raise BadInput(
            f"{target} already exists; nothing was written",
            hint=f"Pass --force to replace it with tinyctl's {chosen.product} pipeline.",
        )
    write_atomic(target, text.encode())
    return InitResult(target, chosen, exists, _ignore_outputs(root))


def _deploy_secrets(spec_file: Path) -> tuple[str, ...]:
    """What a deploy needs from the secret store besides the registry: the spec's URL and
    password variables, and the stack's own secrets (a CI checkout has no state folder, and a
    fresh one would mean new passwords on every deploy)."""
    # lazy: the spec (pydantic) only when --deploy needs its secret names
    from tinyctl.spec import load_spec
    from tinyctl.state.secrets import env_name, required_names

    spec = load_spec(spec_file).spec
    names = [spec.k8s.database.url_env] if spec.k8s.database.url_env else []
    names += [c.password_env for c in spec.airflow.connections if c.password_env]
    names += [env_name(name) for name in required_names(spec)]
    return tuple(dict.fromkeys(names))


def _ignore_outputs(root: Path) -> Path | None:
    gitignore = root / ".gitignore"
    current = gitignore.read_text(encoding="utf-8") if gitignore.is_file() else ""
    present = {line.strip() for line in current.splitlines()}
    missing = [entry for entry in IGNORED if entry not in present and "/" + entry not in present]
    if not missing:
        return None
    prefix = "" if not current or current.endswith("\n") else "\n"
    block = "# tinyctl ci: the pipeline's venv and reports\n" + "".join(f"{m}\n" for m in missing)
    write_atomic(gitignore, (current + prefix + block).encode())
    return gitignore
