"""The optional topic Job creates raw, dead-letter and de-identified topics with partitions per feed."""

from __future__ import annotations

import re

from helm_python import Chart

from helm_kit import MINIMAL_PRODUCTION
from helm_kit import Release, container, merged, render

CREATE = re.compile(r'^\s*create "(?P<topic>[^"]+)" (?P<partitions>\d+) (?P<retention>-?\d+)$', re.MULTILINE)


def _topics(release: Release) -> dict[str, tuple[int, int]]:
    script = container(release.get("Job", "city-hds-kafka-topics"), "kafka-topics")["args"][0]
    return {m["topic"]: (int(m["partitions"]), int(m["retention"])) for m in CREATE.finditer(script)}


def test_topic_job_creates_raw_and_dlq_per_feed_and_deid_per_dataset(full: Release) -> None:
    topics = _topics(full)
    assert topics["hds.raw.st-luke.adt"] == (12, 604800000)
    assert topics["hds.dlq.st-luke.adt"] == (12, 604800000)
    assert topics["hds.raw.north-general.lab"] == (3, 604800000)
    assert topics["hds.deid.admissions"] == (6, -1)
    assert len(topics) == 12


def test_given_feed_without_partitions_then_default_partitions_apply(chart: Chart) -> None:
    values = merged(
        MINIMAL_PRODUCTION,
        {"kafka": {"topics": {"create": True, "defaultPartitions": 4, "feeds": [{"hospital": "riverside", "feed": "adt"}]}}},
    )
    assert _topics(render(chart, values))["hds.raw.riverside.adt"][0] == 4


def test_topic_job_is_an_idempotent_pre_install_hook(full: Release) -> None:
    job = full.get("Job", "city-hds-kafka-topics")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    script = container(job, "kafka-topics")["args"][0]
    assert "--if-not-exists" in script
    assert "--replication-factor 3" in script


def test_given_topic_creation_off_then_no_topic_job(minimal: Release) -> None:
    assert not minimal.has("Job", "city-hds-kafka-topics")
