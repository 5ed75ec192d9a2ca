# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The README is a front door and the docs site (mkdocs.yml, docs/) holds the rest: the site builds
with `mkdocs build --strict` (every link and anchor resolves), every page is in the nav, and the
generated pages equal what provision/reference_docs.py writes now."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from provision import reference_docs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
QUICKSTART = (
    "bash .ci/setup && .venv/bin/invoke demo",
    "bash .ci/setup && .venv/bin/python -m pytest",
)
FRONT_DOOR_LINES = 150


def nav_pages(nav: list) -> list[str]:
    """Every page file the nav names, sections included."""
    pages: list[str] = []
    for entry in nav:
        target = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(target) if isinstance(target, list) else [target]
    return pages


def test_site_builds_strict(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "options" / "index.html").is_file()


def test_every_page_is_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["strict"] is True
    listed = nav_pages(config["nav"])
    assert len(listed) == len(set(listed)), "a page is listed twice"
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(listed) == pages


def test_generated_pages_are_current() -> None:
    for name, page in reference_docs.PAGES.items():
        assert (DOCS / name).read_text() == page(), f"docs/{name} is stale: run python -m provision.reference_docs"


def test_options_page_lists_every_option() -> None:
    text = (DOCS / "options.md").read_text()
    for flag in ("--gpu-archs", "--build-on", "--max-clocks", "--forks", "--streams"):
        assert f"| `{flag}` |" in text
    for setting in ("dsprov_trt_oss_repo", "dsprov_engine_cache", "dsprov_stall_timeout", "dsprov_l4t_repo"):
        assert f"| `{setting}` |" in text


def test_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in QUICKSTART:
        assert command in readme
    assert len(readme.splitlines()) <= FRONT_DOOR_LINES
    for command in ("dsprov detect --host nano01", "dsprov provision --host nano01 --dry-run",
                    "dsprov provision --host nano01", "dsprov rollback --host nano01",
                    "ansible-playbook -i inventory/ dsprov.deepstream.provision", "mkdocs serve"):
        assert command in readme
    # every relative link of the README names a file of the checkout
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), target


# What a reader copies: the wheel, the collection tarball and the image tag, with the version built now.
VERSIONED = re.compile(r"deepstream_provision-(\d[\w.]*)-py3|dsprov-deepstream-(\d[\w.]*)\.tar\.gz|dsprov-ee:(\d[\w.]*)")


def test_the_docs_name_the_version_the_checkout_builds() -> None:
    from provision import __version__

    collection = ROOT / "playbooks" / "collections" / "ansible_collections" / "dsprov" / "deepstream"
    assert yaml.safe_load((collection / "galaxy.yml").read_text())["version"] == __version__
    texts = [ROOT / "README.md", ROOT / "execution-environment.yml", collection / "README.md", *sorted(DOCS.glob("*.md"))]
    named = {(path.name, "".join(match)) for path in texts for match in VERSIONED.findall(path.read_text())}
    assert named and {version for _, version in named} == {__version__}, sorted(named)
