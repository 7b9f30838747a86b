"""Docs a newcomer can walk: the README stays short, every link and anchor resolves, every command the docs show
runs (its make target exists, its module imports, its sample event is there), and benchmark numbers live only
in bench/RESULTS.md."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest
from conftest import EVENTS, ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"]
TARGETS = set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", strip_code(page.read_text()), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def strip_code(text: str) -> str:
    return re.sub(r"```.*?```", "", text, flags=re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_and_anchor_resolves(page: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if target.startswith("http"):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_make_target_module_and_sample_the_docs_show_exists(page: Path) -> None:
    text = page.read_text()
    shown = [*re.findall(r"```.*?```", text, re.DOTALL), *re.findall(r"`([^`]+)`", strip_code(text))]
    for span in shown:
        for target in re.findall(r"(?:^|[\s;&(])make ([a-z][a-z0-9-]*)", span, re.MULTILINE):
            assert target in TARGETS, f"{page.name}: make {target}"
    for module in re.findall(r"python -m ([a-z_][\w.]*)", text):
        assert importlib.util.find_spec(module) is not None, f"{page.name}: python -m {module}"
    for event in re.findall(r"events/([\w.-]+\.json)", text):
        assert (EVENTS / event).is_file(), f"{page.name}: events/{event}"


def test_every_sample_event_is_in_the_trigger_table() -> None:
    behaviour = (ROOT / "docs" / "behaviour.md").read_text()
    for event in EVENTS.glob("*.json"):
        assert f"events/{event.name}" in behaviour, event.name


def test_the_readme_is_short_and_benchmark_numbers_live_only_in_results() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in PAGES:
        assert "| measure | this function |" not in page.read_text(), page.name
    assert "| measure | this function |" in (ROOT / "bench" / "RESULTS.md").read_text()


@pytest.mark.parametrize("target", ["invoke", "test", "serve", "call", "load", "backfill", "deploy", "destroy"])
def test_the_make_targets_the_docs_name_are_real_recipes(target: str) -> None:
    done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False)
    assert "No rule to make target" not in done.stderr, done.stderr


# What the code, the deploy files and the build files tell a reader: `README.md#anchor`, `docs/page.md#anchor` and
# `make target` must all exist. The older "README, Section" form named sections that no longer exist; it is gone.
REFERRING = [
    *(path for root in ("src", "local", "tools", "emulator", "bench") for path in sorted((ROOT / root).rglob("*.py"))),
    *sorted((ROOT / "deploy").rglob("*.json")),
    ROOT / "Makefile",
    ROOT / "template.yaml",
    ROOT / "serverless.yml",
]
# "make" as an English verb in the code's sentences ("make the call", "make this call", "make it misbehave").
_ENGLISH = {"the", "this", "it", "a", "an", "one", "us", "sure", "every", "turns"}


@pytest.mark.parametrize("path", REFERRING, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_reference_the_code_prints_resolves(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    where = str(path.relative_to(ROOT))
    assert not re.search(r"README,\s", text), f"{where}: name the page and its anchor (README.md#...)"
    for page, anchor in re.findall(r"\b(README\.md|docs/[a-z_-]+\.md)(?:#([a-z0-9-]+))?", text):
        assert (ROOT / page).is_file(), f"{where}: {page}"
        if anchor:
            assert anchor in anchors(ROOT / page), f"{where}: {page}#{anchor}"
    for target in re.findall(r"\bmake ([a-z][a-z0-9-]*)", text):
        assert target in TARGETS or target in _ENGLISH, f"{where}: make {target}"
