"""`tinyctl k8s render | image | deploy`: the same spec on Kubernetes, through Airflow's
official Helm chart. Secrets go into secrets.yaml (0600) and are never printed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from tinyctl.cli import output
from tinyctl.cli.app import (
    DEFAULT_SPEC,
    JsonOption,
    SpecOption,
    VerboseOption,
    app,
    handle_errors,
    open_spec,
)
from tinyctl.cli.common import enable_echo
from tinyctl.cli.locks import lock_project

k8s_app = typer.Typer(
    name="k8s",
    help="Kubernetes: render values for Airflow's official Helm chart, bake and push the "
    "project image by digest, deploy with helm.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(k8s_app, name="k8s")


def _render(project):
    """Render the k8s files of `project` (exit 2 on bad input, nothing written then)."""
    from tinyctl.render.k8s import render_k8s  # lazy: the chart's renderer only for k8s commands

    return render_k8s(project)


def _project(spec, verbose: bool):
    from tinyctl.project import Project  # lazy: `tinyctl --help` stays light

    enable_echo(verbose)
    return Project(open_spec(spec))


def _open(spec, verbose: bool, command: str):
    project = _project(spec, verbose)
    lock_project(project, command)
    return project


def _check(project, as_json: bool) -> None:
    from tinyctl.render.k8s import k8s_status  # lazy: the chart's renderer only for k8s commands

    status = k8s_status(project)
    output.exit_with_freshness(status.fresh, status.reasons, as_json=as_json, files="k8s/ files")


@k8s_app.command("render")
@handle_errors
def render(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only report whether the k8s/ files are stale or edited by hand; exit 1 if so.",
        ),
    ] = False,
) -> None:
    """Write values.yaml (official chart 1.19), secrets.yaml (0600) and jobs.yaml into <state>/k8s/."""
    if check:
        _check(_project(spec, verbose), as_json)
    project = _open(spec, verbose, "k8s render")
    result = _render(project)
    inputs = result.inputs
    executor = result.plan.executor
    if as_json:
        output.print_json(
            {
                "folder": str(result.folder),
                "written": result.written,
                "unchanged": result.unchanged,
                "removed": result.removed,
                "executor": executor,
                "image": inputs.image.reference,
                "release": inputs.release,
                "namespace": inputs.namespace,
            }
        )
        return
    for name in result.written:
        output.out.print(f"  [green]wrote[/green]     {escape(name)}")
    output.out.print(
        f"[green]✓[/green] {escape(executor)} release {escape(inputs.release)} "
        f"(namespace {escape(inputs.namespace)}) rendered into {escape(str(result.folder))}"
    )
    if inputs.image.digest is None and inputs.git is None:
        output.out.print(
            "  image: [yellow]not pushed yet[/yellow]; run [cyan]tinyctl k8s image --push "
            "REGISTRY[/cyan] to bake the DAGs in and write its digest"
        )
    elif inputs.image.digest:
        output.out.print(f"  image: {escape(inputs.image.reference)}")
    output.out.print("  secrets.yaml is mode 0600 and git-ignored: never commit it")


@k8s_app.command("image")
@handle_errors
def image(
    spec: SpecOption = DEFAULT_SPEC,
    push: Annotated[
        str | None,
        typer.Option(
            "--push",
            metavar="REGISTRY",
            help="Push to REGISTRY (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com or "
            "localhost:5000) by digest, and write the digest into values.yaml.",
        ),
    ] = None,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
) -> None:
    """Bake DAGs, plugins/, include/ and requirements into the project image, tagged by content digest."""
    # lazy: the chart's renderer (Jinja) and the image bake only for `k8s image`
    from tinyctl.render import render as render_stack
    from tinyctl.render.k8s import check_k8s
    from tinyctl.targets.k8s.bake import bake
    from tinyctl.targets.k8s.image import planned_image

    project = _open(spec, verbose, "k8s image")
    check_k8s(project)  # bad input is refused before a build, not after it
    if planned_image(project.loaded, project.environ).base_built:
        # The project's Airflow image, which the baked one extends, is built like `tinyctl build`.
        render_stack(project)
        project.runtime.build(show_output=verbose)
    result = bake(
        project.loaded, project.environ, project.state.root, registry=push, show_output=verbose
    )
    rendered = _render(project) if push else None
    if as_json:
        output.print_json(
            {
                "image": result.plan.reference,
                "built": result.built,
                "pushed": result.pushed,
                "values": str(rendered.folder / "values.yaml") if rendered else None,
            }
        )
        return
    verb = "built" if result.built else "up to date"
    output.out.print(f"[green]✓[/green] {verb}: {escape(result.plan.reference)}")
    if result.pushed:
        output.out.print(f"[green]✓[/green] pushed: {escape(result.pushed)}")
        output.out.print("  values.yaml now runs that digest (tinyctl k8s deploy applies it)")


@k8s_app.command("deploy")
@handle_errors
def deploy(
    spec: SpecOption = DEFAULT_SPEC,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what would be applied: server-side dry runs when a cluster answers, "
            "else `helm install --dry-run=client` offline. Changes nothing.",
        ),
    ] = False,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
) -> None:
    """Render, then `helm upgrade --install` the release into the current kube context."""
    # lazy: helm's client (yaml) only for `k8s deploy`
    from tinyctl.targets.k8s.deploy import deploy as run_deploy
    from tinyctl.targets.k8s.helm import locate_chart

    project = _open(spec, verbose, "k8s deploy")
    rendered = _render(project)
    inputs = rendered.inputs
    chart = locate_chart(project.spec.k8s.chart, project.environ, project.root)
    result = run_deploy(
        project.state.root,
        release=inputs.release,
        namespace=inputs.namespace,
        chart=chart,
        external_db=not inputs.server.bundled,
        environ=project.environ,
        dry_run=dry_run,
        on_step=None if as_json else lambda text: output.out.print(f"  • {escape(text)}"),
    )
    if as_json:
        output.print_json(
            {
                "context": result.context,
                "dry_run": dry_run,
                "steps": result.steps,
                "manifests": result.manifests,
            }
        )
        return
    if dry_run:
        for name in result.manifests:
            output.out.print(f"    {escape(name)}")
        where = result.context or "no cluster (offline)"
        output.out.print(
            f"[green]✓[/green] dry run of release {escape(inputs.release)} ({len(result.manifests)} "
            f"objects, {escape(where)}); nothing was applied"
        )
        return
    output.out.print(
        f"[green]✓[/green] release {escape(inputs.release)} deployed to {escape(str(result.context))} "
        f"(namespace {escape(inputs.namespace)})"
    )
