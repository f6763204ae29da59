"""The optional MLLP listeners: one Deployment + Service per hospital feed running `hds mllp`."""

from __future__ import annotations

import pytest
from helm_python import Chart
from helm_python.errors import HelmRenderError

from helm_kit import MINIMAL_PRODUCTION, WITH_MLLP, Release, container, env_of, merged, render

NAMES = {("st-luke", "adt"): "city-hds-mllp-st-luke-adt", ("st-luke", "lab_csv"): "city-hds-mllp-st-luke-lab-csv"}


def test_mllp_is_off_by_default(minimal: Release, dev: Release) -> None:
    for release in (minimal, dev):
        assert [m["metadata"]["name"] for m in release.manifests if "mllp" in m["metadata"]["name"]] == []


@pytest.mark.parametrize(("hospital", "feed", "port"), [("st-luke", "adt", 2575), ("st-luke", "lab_csv", 2576)])
def test_each_listener_runs_hds_mllp_for_its_feed(with_mllp: Release, hospital: str, feed: str, port: int) -> None:
    c = container(with_mllp.get("Deployment", NAMES[hospital, feed]), "mllp")
    assert c["args"] == ["mllp", "--hospital", hospital, "--feed", feed, "--port", str(port),
                         "--host", "0.0.0.0", "--health-port", "8081"]
    assert c["ports"] == [{"name": "mllp", "containerPort": port, "protocol": "TCP"},
                          {"name": "health", "containerPort": 8081, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "health"}
    env = env_of(c)
    assert env["HDS_KAFKA_BOOTSTRAP"]["value"] == "kafka-0.kafka:9092,kafka-1.kafka:9092"
    assert "HDS_DEID_KEYS" not in env and "HDS_KEYCLOAK_ADMIN_CLIENT_SECRET" not in env


def test_the_rendered_arguments_parse_with_the_hds_command_line(with_mllp: Release) -> None:
    from catalog.cli.main import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    if "mllp" not in commands:
        pytest.skip("`hds mllp` is not in this checkout yet (the chart follows the contract in ARCHITECTURE.md)")
    c = container(with_mllp.get("Deployment", NAMES["st-luke", "lab_csv"]), "mllp")
    args = parser.parse_args(c["args"])
    assert (args.hospital, args.feed, args.port, args.host, args.health_port) == ("st-luke", "lab_csv", 2576, "0.0.0.0", 8081)


def test_each_service_routes_only_to_its_own_listener(with_mllp: Release) -> None:
    pods = {name: with_mllp.get("Deployment", name)["spec"]["template"]["metadata"]["labels"] for name in NAMES.values()}
    for name in NAMES.values():
        selector = with_mllp.get("Service", name)["spec"]["selector"]
        selected = [pod for pod, labels in pods.items() if selector.items() <= labels.items()]
        assert selected == [name]


def test_listeners_are_in_the_restricted_zone(with_mllp: Release) -> None:
    for name in NAMES.values():
        assert with_mllp.get("Deployment", name)["spec"]["template"]["metadata"]["labels"]["hds.city/zone"] == "restricted"


def test_a_listener_with_several_replicas_gets_a_disruption_budget(with_mllp: Release) -> None:
    assert with_mllp.get("Deployment", NAMES["st-luke", "lab_csv"])["spec"]["replicas"] == 2
    pdbs = {p["metadata"]["name"] for p in with_mllp.all("PodDisruptionBudget")}
    assert NAMES["st-luke", "lab_csv"] in pdbs and NAMES["st-luke", "adt"] not in pdbs


def test_listener_network_policy_admits_only_the_senders_on_the_listener_ports(chart: Chart) -> None:
    senders = [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    release = render(chart, merged(WITH_MLLP, {"mllp": {"allowFrom": senders}}))
    policy = release.get("NetworkPolicy", "city-hds-mllp")
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 2575, "protocol": "TCP"}, {"port": 2576, "protocol": "TCP"}]
    assert rule["from"] == senders
    assert {p["port"] for r in policy["spec"]["egress"] for p in r["ports"]} == {53, 9092}


@pytest.mark.parametrize(
    ("mllp", "message"),
    [
        ({"enabled": True}, "mllp.enabled needs at least one entry in mllp.listeners"),
        ({"enabled": True, "listeners": [{"hospital": "a", "feed": "adt"}, {"hospital": "a", "feed": "adt", "port": 3000}]},
         "mllp.listeners has a/adt twice"),
    ],
)
def test_given_bad_listeners_then_render_is_refused(chart: Chart, mllp: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(HelmRenderError, match=message):
        render(chart, merged(MINIMAL_PRODUCTION, {"mllp": mllp}))


def test_install_notes_list_each_listener_and_its_topic(with_mllp: Release) -> None:
    assert "st-luke/lab_csv: city-hds-mllp-st-luke-lab-csv:2576 -> hds.raw.st-luke.lab_csv" in with_mllp.notes
