"""Synthetic hospital feeds (HL7 v2, FHIR R4, CSV) for the demo, the benchmarks and the tests; see docs/feeds.md."""
