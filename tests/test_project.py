"""The project's own promises: dependencies in sync, notebooks stripped, no dataset in git."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_pip_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= set(extra)
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    listed = {line.strip()[2:].split("#")[0].strip() for line in pip_section.splitlines()
              if line.strip().startswith("- ") and not line.strip().startswith("- -e")}
    assert {_name(r): r for r in listed} == {_name(r): r for r in wanted}


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make tutorial" in readme and "make test" in readme
    assert "FOLKRNN_DATA_URL" in readme
