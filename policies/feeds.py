"""The feed registry (policies/feeds.yaml): which hospital feeds exist, their format, profile and dataset.

Parsed into validated models at start-up; a bad file stops the service with a message naming file and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from policies.topics import check_name, deid_topic, raw_topic

Format = Literal["hl7v2", "fhir", "csv"]


class FeedRegistryError(ValueError):
    pass


class _Hospital(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class _Feed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Format
    profile: str = Field(min_length=1)
    dataset: str
    hospitals: list[str] = Field(default_factory=lambda: ["*"])
    message_types: list[str] = Field(default_factory=list)  # HL7 v2: "ADT^A01" or "ADT" (any event); none: any
    required_segments: list[str] = Field(default_factory=list)  # HL7 v2: segments every message must carry

    @field_validator("message_types")
    @classmethod
    def _message_types(cls, v: list[str]) -> list[str]:
        for t in v:
            if not re.fullmatch(r"[A-Z0-9]{3}(\^[A-Z0-9]{3})?", t):
                raise ValueError("message types look like ADT or ADT^A01")
        return v

    @field_validator("required_segments")
    @classmethod
    def _segments(cls, v: list[str]) -> list[str]:
        for name in v:
            if not re.fullmatch(r"[A-Z][A-Z0-9]{2}", name):
                raise ValueError("segment names are three upper-case letters or digits, e.g. PID")
        return v

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, v: str) -> str:
        if not v.replace("_", "a").isalnum() or not v[0].isalpha() or v != v.lower():
            raise ValueError("dataset ids are lowercase letters, digits and '_' and start with a letter")
        return v


class _Dataset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    description: str = ""


class _Registry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hospitals: dict[str, _Hospital]
    feeds: dict[str, _Feed]
    datasets: dict[str, _Dataset] = Field(default_factory=dict)


@dataclass(frozen=True)
class FeedConfig:
    hospital: str
    feed: str
    format: str
    profile: str
    dataset: str
    message_types: tuple[str, ...] = ()
    required_segments: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    title: str
    description: str


class FeedRegistry:
    def __init__(self, model: _Registry) -> None:
        self._m = model

    @classmethod
    def load(cls, path: Path) -> "FeedRegistry":
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FeedRegistryError(f"{path}: feed registry file not found") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise FeedRegistryError(f"{path}:{where} invalid YAML") from None
        try:
            model = _Registry.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise FeedRegistryError(f"{path}: field '{field}': {first['msg']}") from None
        for name in list(model.hospitals) + list(model.feeds):
            try:
                check_name("hospital/feed", name)
            except ValueError as exc:
                raise FeedRegistryError(f"{path}: {exc}") from None
        for fname, feed in model.feeds.items():
            if feed.format != "hl7v2" and (feed.message_types or feed.required_segments):
                raise FeedRegistryError(f"{path}: field 'feeds.{fname}.message_types': only HL7 v2 feeds declare "
                                        "message types and required segments")
            for h in feed.hospitals:
                if h != "*" and h not in model.hospitals:
                    raise FeedRegistryError(f"{path}: field 'feeds.{fname}.hospitals': unknown hospital")
        return cls(model)

    def lookup(self, hospital: str, feed: str) -> FeedConfig | None:
        f = self._m.feeds.get(feed)
        if f is None or hospital not in self._m.hospitals:
            return None
        if "*" not in f.hospitals and hospital not in f.hospitals:
            return None
        return FeedConfig(hospital, feed, f.format, f.profile, f.dataset, tuple(f.message_types),
                          tuple(f.required_segments))

    @property
    def hospitals(self) -> list[str]:
        return list(self._m.hospitals)

    def hospital_name(self, hospital: str) -> str | None:
        h = self._m.hospitals.get(hospital)
        return h.name if h else None

    @property
    def feeds(self) -> list[str]:
        return list(self._m.feeds)

    def profiles(self) -> set[str]:
        return {f.profile for f in self._m.feeds.values()}

    def dataset(self, dataset_id: str) -> DatasetInfo | None:
        d = self._m.datasets.get(dataset_id)
        if d is None:
            if dataset_id in {f.dataset for f in self._m.feeds.values()}:
                return DatasetInfo(dataset_id, dataset_id, "")
            return None
        return DatasetInfo(dataset_id, d.title, d.description)

    def dataset_ids(self) -> list[str]:
        ids = list(self._m.datasets)
        for f in self._m.feeds.values():
            if f.dataset not in ids:
                ids.append(f.dataset)
        return ids

    def raw_topics(self) -> list[str]:
        return [raw_topic(h, f) for f, cfg in self._m.feeds.items() for h in self._m.hospitals
                if "*" in cfg.hospitals or h in cfg.hospitals]

    def deid_topics(self) -> list[str]:
        return [deid_topic(d) for d in self.dataset_ids()]

    def feeds_of_dataset(self, dataset_id: str) -> list[str]:
        return [name for name, f in self._m.feeds.items() if f.dataset == dataset_id]
