"""Every hds container's command line is one the `hds` of this checkout accepts (the image's entry point)."""

from __future__ import annotations

import shlex

import pytest

from helm_kit import Release


def _hds_containers(*releases: Release) -> list[tuple[str, list[str]]]:
    found = []
    for release in releases:
        for kind in ("Deployment", "StatefulSet", "Job"):
            for w in release.all(kind):
                for c in w["spec"]["template"]["spec"]["containers"]:
                    if c["image"].startswith(("ghcr.io/city-health/hds:", "localhost/hds:")) and "command" not in c:
                        found.append((w["metadata"]["name"], c["args"]))
    return found


def _commands(parser) -> set[str]:  # type: ignore[no-untyped-def]
    return set(parser._subparsers._group_actions[0].choices)


def test_every_hds_container_runs_a_subcommand_the_cli_accepts(full: Release, dev: Release, with_mllp: Release) -> None:
    from catalog.cli.main import build_parser

    parser = build_parser()
    checked = 0
    for name, args in _hds_containers(full, dev, with_mllp):
        if args[0] not in _commands(parser):
            assert args[0] == "mllp", name  # the only subcommand the chart may run ahead of its arrival
            continue
        parser.parse_args(args)  # SystemExit (and the usage error) if the chart passes what the CLI refuses
        checked += 1
    assert checked >= 4  # gateway, catalog serve, keycloak bootstrap (full) and their dev twins


def test_the_synthetic_feeds_job_runs_hds_commands_the_cli_accepts(dev: Release) -> None:
    from catalog.cli.main import build_parser

    parser = build_parser()
    [script] = dev.get("Job", "city-hds-synthetic-feeds")["spec"]["template"]["spec"]["containers"][0]["args"]
    lines = [shlex.split(line.strip()) for line in script.splitlines() if line.strip().startswith("hds ")]
    assert [words[1] for words in lines] == ["synth", "publish"]
    synth = parser.parse_args(lines[0][1:])
    assert (synth.out, synth.seed, synth.patients) == ("/tmp/feeds", 7, 60)
    publish = parser.parse_args(lines[1][1:])  # shell words as the CLI sees them before expansion
    assert (publish.hospital, publish.feed, publish.files) == ("$hospital", "${name%%.*}", ["$file"])


def test_the_broker_runs_tansu_from_the_image() -> None:
    from gateway.broker import tansu_binary

    try:
        binary = tansu_binary()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"tansu is not installed here ({type(exc).__name__})")
    assert binary.name == "tansu"  # what build.sh and the Containerfile link as /usr/local/bin/tansu
