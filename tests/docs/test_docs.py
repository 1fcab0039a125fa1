"""The documentation stays whole: every `kiln` command and every `KILN_*` variable is documented in README.md
or docs/, and every relative link in them (file and heading anchor) resolves."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE_DIRS = tuple(
    sorted(d.name for d in ROOT.iterdir() if (d / "__init__.py").exists() or d.name in ("scripts", "benchmarks"))
)
"""Where variables are read: the packages (tests included) and the scripts."""
INTERNAL_VARIABLES = {
    # set by the verifier for its own warm server process, never by a user
    "KILN_ZYGOTE_PRIVATE",
    "KILN_ZYGOTE_COMPILER_ONLY",
    # a test's own hand-off between its processes
    "KILN_IMPORT_LOG",
}
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
VARIABLE = re.compile(r"\bKILN_[A-Z0-9_]*[A-Z0-9]\b")


def _docs_text() -> str:
    return "\n".join(page.read_text() for page in PAGES)


def _outside_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`|\*\*|\*", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in _outside_code_blocks(page.read_text()).splitlines():
        match = re.match(r"^#{1,6} (.+)$", line)
        if match:
            found.add(slug(match.group(1)))
    return found


def kiln_commands() -> list[str]:
    """Every command path of the `kiln` app: `verify`, `tasks list`, `db upgrade`..."""
    import typer

    from service.cli import app

    def walk(command: object, prefix: str) -> list[str]:
        if getattr(command, "commands", None):
            return [p for name, sub in sorted(command.commands.items()) for p in walk(sub, f"{prefix} {name}")]
        return [prefix.strip()]

    return walk(typer.main.get_command(app), "")


def used_variables() -> set[str]:
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*"):
            shell_script = folder == "scripts" and path.is_file() and not path.suffix  # ensure-docker, ...
            if (path.suffix in (".py", ".sh") or shell_script) and "corpus" not in path.parts:
                names |= set(VARIABLE.findall(path.read_text(errors="replace")))
    for path in (ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "docker" / "compose.yaml"):
        if path.exists():
            names |= set(VARIABLE.findall(path.read_text()))
    return names - INTERNAL_VARIABLES


def test_the_scan_finds_commands_and_variables() -> None:
    """A guard on the two scans below: an empty scan would make them pass for nothing."""
    assert {"verify", "tasks list", "db upgrade", "bench", "regress"} <= set(kiln_commands())
    assert {"KILN_DATABASE_URL", "KILN_SANDBOX", "KILN_REQUIRE_POSTGRES"} <= used_variables()


@pytest.mark.parametrize("command", kiln_commands())
def test_every_kiln_command_is_documented(command: str) -> None:
    assert f"kiln {command}" in _docs_text(), f"`kiln {command}` is documented nowhere in README.md or docs/"


def test_every_variable_is_documented() -> None:
    text = _docs_text()
    missing = sorted(name for name in used_variables() if name not in text)
    assert not missing, f"variables read by the code but documented nowhere in README.md or docs/: {missing}"


def test_every_setting_names_a_documented_variable() -> None:
    """Each field of the service's Settings is read from a `KILN_*` variable that docs/configuration.md lists."""
    import dataclasses
    import inspect

    from service import settings

    source = inspect.getsource(settings.Settings.from_env)
    table = (ROOT / "docs" / "configuration.md").read_text()
    for variable in set(VARIABLE.findall(source)):
        assert f"`{variable}`" in table, f"{variable} (service settings) is not in docs/configuration.md"
    assert len(set(VARIABLE.findall(source))) >= len(dataclasses.fields(settings.Settings)) - 2


def _links() -> list[tuple[str, str]]:
    return [
        (str(page.relative_to(ROOT)), target)
        for page in PAGES
        for target in LINK.findall(_outside_code_blocks(page.read_text()))
        if not re.match(r"^[a-z]+:", target)
    ]


def test_links_were_found() -> None:
    assert len(_links()) >= 10


@pytest.mark.parametrize(("page", "target"), _links())
def test_relative_link_resolves(page: str, target: str) -> None:
    path_part, _, anchor = target.partition("#")
    source = ROOT / page
    destination = (source.parent / path_part).resolve() if path_part else source
    assert destination.exists(), f"{page}: link to {target}: {destination} does not exist"
    if anchor:
        assert destination.suffix == ".md", f"{page}: anchor in a link to a non-Markdown file: {target}"
        assert anchor in anchors(destination), f"{page}: no heading #{anchor} in {destination.relative_to(ROOT)}"


def kiln_options() -> list[tuple[str, str]]:
    """(command, long option) for every option of every `kiln` command."""
    import typer

    from service.cli import app

    found: list[tuple[str, str]] = []

    def walk(command: object, prefix: str) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in sorted(subcommands.items()):
                walk(sub, f"{prefix} {name}")
            return
        for param in getattr(command, "params", []):
            found.extend((prefix.strip(), opt) for opt in getattr(param, "opts", []) if opt.startswith("--"))

    walk(typer.main.get_command(app), "")
    return found


@pytest.mark.parametrize(("command", "option"), kiln_options())
def test_every_kiln_option_is_documented(command: str, option: str) -> None:
    """An option is documented where its command is: docs/, README.md or a package's README."""
    assert option in _docs_and_readmes(), f"`kiln {command} {option}` is documented nowhere"


@functools.cache
def _docs_and_readmes() -> str:
    readmes = [p.read_text() for folder in CODE_DIRS for p in (ROOT / folder).rglob("README.md")]
    return "\n".join([_docs_text(), *readmes])
