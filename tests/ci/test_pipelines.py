"""`tinyctl ci init`: the three pipeline files, validated against GitLab's and GitHub's published
JSON Schemas (check-jsonschema ships them, offline), and one set of commands in all three."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tinyctl.ci.pipelines import PROVIDERS, pipeline_commands, render_pipeline
from tinyctl.cli import app, load_commands
from tinyctl.errors import BadInput

load_commands()  # the whole app, as `tinyctl --help` sees it

runner = CliRunner()


def invoke(*args: str, cwd: Path):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def check_jsonschema(schema: str, file: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert binary, "check-jsonschema is in the dev extra: pip install -e '.[dev]'"
    return subprocess.run(
        [binary, "--builtin-schema", schema, str(file)], capture_output=True, text=True
    )


SCHEMAS = {"gitlab": "vendor.gitlab-ci", "github": "vendor.github-workflows"}


@pytest.mark.parametrize("system", ["gitlab", "github"])
def test_generated_files_validate_against_the_published_schemas(project: Path, system: str) -> None:
    result = invoke("ci", "init", system, cwd=project)
    assert result.exit_code == 0, result.output
    target = project / PROVIDERS[system].target
    checked = check_jsonschema(SCHEMAS[system], target)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The validator is not a rubber stamp: a wrong value in the same file is rejected.
    broken = target.with_name("broken" + target.suffix)
    text = target.read_text()
    broken.write_text(
        text.replace("when: always", "when: sometimes")
        if system == "gitlab"
        else text.replace("runs-on: ubuntu-latest", "runs-on: [[]]")
    )
    assert text != broken.read_text()
    assert check_jsonschema(SCHEMAS[system], broken).returncode != 0


def test_the_gitlab_pipeline_publishes_the_junit_report_always(project: Path) -> None:
    data = yaml.safe_load(render_pipeline("gitlab"))
    job = data["etl-tests"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "ci-reports/junit.xml"


def test_the_github_workflow_uploads_the_reports_always() -> None:
    data = yaml.safe_load(render_pipeline("github"))
    steps = data["jobs"]["etl-tests"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "ci-reports/"


def _gitlab_commands(text: str) -> list[str]:
    return list(yaml.safe_load(text)["etl-tests"]["script"])


def _github_commands(text: str) -> list[str]:
    steps = yaml.safe_load(text)["jobs"]["etl-tests"]["steps"]
    return [line for s in steps if "run" in s for line in s["run"].splitlines() if line.strip()]


def _jenkins_commands(text: str) -> list[str]:
    return re.findall(r"^\s*sh '([^']*)'\s*$", text, flags=re.MULTILINE)


def test_every_pipeline_runs_exactly_the_same_commands() -> None:
    """The Jenkinsfile cannot run here: it is proven by running the same commands as the others."""
    expected = pipeline_commands().all
    assert expected[-1] == ".tinyctl-ci/bin/tinyctl ci run --out ci-reports"
    assert _gitlab_commands(render_pipeline("gitlab")) == expected
    assert _github_commands(render_pipeline("github")) == expected
    assert _jenkins_commands(render_pipeline("jenkins")) == expected


def test_the_jenkinsfile_is_declarative_and_publishes_in_post_always() -> None:
    text = render_pipeline("jenkins")
    assert text.count("{") == text.count("}")
    assert re.search(r"^pipeline \{", text, flags=re.MULTILINE)
    post = text[text.index("post {") :]
    always = post[post.index("always {") :]
    assert "junit allowEmptyResults: true, testResults: 'ci-reports/junit.xml'" in always
    assert "archiveArtifacts artifacts: 'ci-reports/**'" in always
    for stage in ("Checkout", "Install tinyctl", "tinyctl ci run"):
        assert f"stage('{stage}')" in text
    assert "checkout scm" in text


def test_refuses_to_overwrite_without_force(project: Path) -> None:
    target = project / "Jenkinsfile"
    target.write_text("// mine\n")
    result = invoke("ci", "init", "jenkins", cwd=project)
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert target.read_text() == "// mine\n"
    result = invoke("ci", "init", "jenkins", "--force", cwd=project)
    assert result.exit_code == 0, result.output
    assert "replaced" in result.output
    assert _jenkins_commands(target.read_text()) == pipeline_commands().all


def test_outputs_are_git_ignored_once(project: Path) -> None:
    for system in ("gitlab", "github"):
        assert invoke("ci", "init", system, cwd=project).exit_code == 0
    lines = (project / ".gitignore").read_text().splitlines()
    assert lines.count(".tinyctl-ci/") == 1 and lines.count("ci-reports/") == 1


def test_a_project_in_a_subfolder_of_the_repository(tmp_path: Path) -> None:
    from tinyctl.scaffold import init_project

    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    init_project(repo / "platform", name="platform")
    result = invoke("ci", "init", "gitlab", "--spec", "platform/tinyctl.yaml", cwd=repo)
    assert result.exit_code == 0, result.output
    script = _gitlab_commands((repo / ".gitlab-ci.yml").read_text())
    assert (
        script[-1] == ".tinyctl-ci/bin/tinyctl ci run --spec platform/tinyctl.yaml --out ci-reports"
    )


@pytest.mark.parametrize("package", ["tinyctl'; rm -rf /", 'a"b', "$(id)", ""])
def test_a_package_that_cannot_be_written_safely_is_refused(project: Path, package: str) -> None:
    result = invoke("ci", "init", "gitlab", "--package", package, cwd=project)
    assert result.exit_code == 2
    assert not (project / ".gitlab-ci.yml").exists()


def test_without_a_spec_it_says_to_init_first(tmp_path: Path) -> None:
    result = invoke("ci", "init", "github", cwd=tmp_path)
    assert result.exit_code == 2 and "tinyctl init" in result.output
    assert not (tmp_path / ".github").exists()


def test_deploy_stage_runs_after_ci_run_on_main_only(tmp_path):
    from tinyctl.ci.pipelines import deploy_stage

    stage = deploy_stage("k8s", None, ("WAREHOUSE_URL", "TINYCTL_SECRET_FERNET_KEY"))
    github = yaml.safe_load(render_pipeline("github", deploy=stage))
    job = github["jobs"]["deploy"]
    assert job["needs"] == "etl-tests"
    assert "refs/heads/main" in job["if"]
    assert job["env"]["TINYCTL_SECRET_FERNET_KEY"] == "${{ secrets.TINYCTL_SECRET_FERNET_KEY }}"
    runs = [step.get("run", "") for step in job["steps"]]
    assert any("k8s image --push" in r for r in runs) and any("k8s deploy" in r for r in runs)
    gitlab = yaml.safe_load(render_pipeline("gitlab", deploy=stage))
    assert gitlab["stages"] == ["test", "deploy"]
    assert gitlab["deploy-k8s"]["needs"] == ["etl-tests"]
    assert gitlab["deploy-k8s"]["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"'}]
    jenkins = render_pipeline("jenkins", deploy=stage)
    assert "when { branch 'main' }" in jenkins
    assert jenkins.index("stage('tinyctl ci run')") < jenkins.index("stage('Deploy to Kubernetes')")
    assert "string(credentialsId: 'WAREHOUSE_URL', variable: 'WAREHOUSE_URL')" in jenkins
    with pytest.raises(BadInput):
        deploy_stage("nomad", None)
