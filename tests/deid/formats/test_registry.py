"""Every record format is one registered adapter, and each passes the same contract."""

from __future__ import annotations

from typing import Any

import pytest

from deid import formats
from deid.formats.registry import FormatAdapter, register
from deid.operators import RecordRejected
from deid.profile import FORMATS


def test_given_the_registry_then_every_profile_format_has_exactly_one_adapter() -> None:
    assert sorted(formats.names()) == sorted(FORMATS)
    for name in FORMATS:
        adapter = formats.adapter_for(name)
        assert isinstance(adapter, FormatAdapter) and adapter.name == name
    assert formats.adapter_for("x12") is None


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("wrong", [42, None, ["a", "b"], 3.5])
def test_given_a_record_of_the_wrong_kind_then_each_adapter_rejects_it_as_a_value(name: str, wrong: Any) -> None:
    adapter = formats.adapter_for(name)
    assert adapter is not None
    with pytest.raises(RecordRejected) as info:
        adapter.coerce(wrong)
    assert info.value.reason.startswith(("hl7_", "fhir_", "csv_"))


def test_given_a_second_adapter_under_a_taken_name_then_registration_refuses() -> None:
    class Again(FormatAdapter):
        name = "csv"

        def compile(self, profile):  # type: ignore[no-untyped-def]
            return None

        def coerce(self, payload):  # type: ignore[no-untyped-def]
            return payload

        def deidentify(self, payload, compiled, env):  # type: ignore[no-untyped-def]
            return payload, None

    with pytest.raises(ValueError, match="registered twice"):
        register(Again())
    assert type(formats.adapter_for("csv")).__name__ == "CsvRowFormat"
