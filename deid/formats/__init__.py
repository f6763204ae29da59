"""Format handlers: HL7 v2, FHIR R4 and CSV rows, each driven by a validated profile section."""
