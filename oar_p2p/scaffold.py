"""What `oar-p2p init` writes: the files of a new experiment repository, as data.

The templates are package data (`oar_p2p/data/init/`, read with importlib.resources) under
plain names; `TEMPLATES` says where each goes in the new directory. Only `spec.yaml` and
`README.md` are rendered (the experiment name replaces ``__NAME__``); every other file,
the CI recipes included, is copied byte for byte, which is what keeps `examples/ci/` equal
to them (a unit test compares the bytes; `make ci-examples` copies them there).

Nothing here touches the target directory: `workflows/scaffold.py` writes the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

from oar_p2p.errors import ValueParseError

__all__ = [
    "CI_RECIPES",
    "NAME_RULE",
    "TEMPLATES",
    "ScaffoldFile",
    "Template",
    "check_name",
    "experiment_files",
    "experiment_name",
    "template_bytes",
]

PLACEHOLDER = "__NAME__"
NAME_RULE = "1-63 of lowercase letters, digits, '_', '.', '-', starting with a letter or digit"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_DEFAULT_NAME = "experiment"


@dataclass(frozen=True)
class Template:
    """One template file: its package-data name and where it goes in the directory."""

    resource: str
    path: str  # relative, '/'-separated
    rendered: bool = False  # the experiment name replaces __NAME__
    executable: bool = False


@dataclass(frozen=True)
class ScaffoldFile:
    """A file to write: relative path, bytes, permission bits."""

    path: str
    content: bytes
    mode: int = 0o644


TEMPLATES: tuple[Template, ...] = (
    Template("spec.yaml", "spec.yaml", rendered=True),
    Template("latency.txt", "latency.txt"),
    Template("generate.py", "generate.py", executable=True),
    Template("README.md", "README.md", rendered=True),
    Template("gitignore", ".gitignore"),
    Template("github-actions.yml", ".github/workflows/oar-p2p.yml"),
    Template("gitlab-ci.yml", ".gitlab-ci.yml"),
)
# the CI recipes, also published as examples/ci/<resource> (the same bytes)
CI_RECIPES: tuple[str, ...] = ("github-actions.yml", "gitlab-ci.yml")


def template_bytes(resource: str) -> bytes:
    """The bytes of one packaged template."""
    return files("oar_p2p").joinpath("data", "init", resource).read_bytes()


def experiment_name(text: str) -> str:
    """A valid experiment name made from a directory name.

    >>> experiment_name("My Experiment (v2)")
    'my-experiment-v2'
    >>> experiment_name("__tmp")
    'tmp'
    >>> experiment_name("...")
    'experiment'
    """
    name = re.sub(r"[^a-z0-9_.-]+", "-", text.lower())
    name = re.sub(r"^[^a-z0-9]+", "", name)[:63].rstrip("-_.")
    return name or _DEFAULT_NAME


def check_name(name: str) -> str:
    """`--name`: a valid experiment name, else the rule."""
    if not _NAME.fullmatch(name):
        raise ValueParseError(f"invalid --name {name!r}: allowed: {NAME_RULE}")
    return name


def experiment_files(name: str) -> tuple[ScaffoldFile, ...]:
    """Every file of a new experiment named `name` (checked), in writing order."""
    check_name(name)
    out = []
    for t in TEMPLATES:
        data = template_bytes(t.resource)
        if t.rendered:
            data = data.decode("utf-8").replace(PLACEHOLDER, name).encode("utf-8")
        out.append(ScaffoldFile(t.path, data, 0o755 if t.executable else 0o644))
    return tuple(out)
