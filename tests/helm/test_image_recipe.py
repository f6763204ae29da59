"""The image recipes: the mirror comes from apt's own configuration, and both recipes build the same layout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from helm_kit import CHART_DIR, REPO_ROOT

MIRROR = REPO_ROOT / "helm" / "image" / "apt-mirror.sh"
BUILD = REPO_ROOT / "helm" / "image" / "build.sh"
CONTAINERFILE = REPO_ROOT / "Containerfile"


def _mirror(etc: Path, suite: str = "bookworm") -> str | None:
    proc = subprocess.run(["bash", str(MIRROR), suite, str(etc)], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _etc(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


DEB822 = """Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main

# a disabled stanza for the suite comes first
Types: deb
URIs: http://disabled.example.org/debian
Suites: bookworm bookworm-updates
Enabled: no

Types: deb-src deb
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
"""


def test_given_deb822_sources_then_the_enabled_deb_stanza_of_the_suite_is_used(tmp_path: Path) -> None:
    etc = _etc(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert _mirror(etc) == "http://mirror.example.org/debian"
    assert _mirror(etc, "bookworm-security") == "http://mirror.example.org/debian-security"


def test_given_one_line_sources_with_options_then_the_uri_after_them_is_used(tmp_path: Path) -> None:
    etc = _etc(tmp_path, {"sources.list": "# comment\ndeb-src http://src.example.org/debian bookworm main\n"
                                          "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example.org/debian bookworm main\n"})
    assert _mirror(etc) == "http://one.example.org/debian"


def test_files_apt_ignores_are_ignored_and_no_match_fails(tmp_path: Path) -> None:
    etc = _etc(tmp_path, {"sources.list.d/other.sources.disabled": DEB822,
                          "sources.list.d/node.sources": "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"})
    assert _mirror(etc) is None


def test_no_mirror_host_is_written_into_the_recipes() -> None:
    for path in (BUILD, MIRROR):
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        assert re.findall(r"https?://[^\s\"']+", text) == [], path.name


def test_the_image_tag_is_the_package_version_and_the_chart_app_version() -> None:
    import tomllib

    import yaml

    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"] == version
    assert 'image="$name:$tag"' in BUILD.read_text()


@pytest.mark.parametrize("expected", [
    "/opt/hds/venv/bin/hds",      # the entry point
    "10001",                      # the non-root user
    "/var/lib/hds",               # the data volume (HDS_DATA_DIR)
    "requirements.lock",          # the pinned package list
    "debian-packages.txt",
    "XDG_CACHE_HOME=/tmp/.cache",
])
def test_both_recipes_build_the_same_layout(expected: str) -> None:
    assert expected in BUILD.read_text() and expected in CONTAINERFILE.read_text()


def test_both_recipes_declare_only_the_data_directory_and_tmp_as_volumes() -> None:
    assert """VOLUME ["/var/lib/hds", "/tmp"]""" in CONTAINERFILE.read_text()
    assert """'VOLUME ["/var/lib/hds", "/tmp"]'""" in BUILD.read_text()


DIGEST = REPO_ROOT / "helm" / "image" / "source-digest.sh"


def _digest(root: Path) -> str:
    return subprocess.run(["bash", str(root / "helm" / "image" / "source-digest.sh")], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_the_source_digest_changes_with_any_packaged_file_and_ignores_caches(tmp_path: Path) -> None:
    """The kube smoke rebuilds an image whose source-digest label differs from the checkout: a stale image (same
    version, older code) must never be played. So the digest must move with every packaged file and nothing else."""
    import shutil

    root = tmp_path / "repo"
    (root / "helm" / "image").mkdir(parents=True)
    shutil.copy(DIGEST, root / "helm" / "image" / "source-digest.sh")
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    for package in ("gateway", "catalog", "deid", "policies"):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text(f"# {package}\n")
    first = _digest(root)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    (root / "deid" / "__pycache__").mkdir()
    (root / "deid" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert _digest(root) == first  # caches are not code
    (root / "policies" / "feeds.yaml").write_text("feeds: []\n")
    second = _digest(root)
    assert second != first  # a new policy file
    (root / "policies" / "feeds.yaml").write_text("feeds: [x]\n")
    assert _digest(root) not in {first, second}  # an edited one
    assert "org.hds.source-digest=$digest" in BUILD.read_text()
