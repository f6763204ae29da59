"""Feed formats: how files and bodies become messages, and what each feed accepts (see ``base``)."""

from gateway.formats import csv, fhir, hl7v2  # noqa: F401 - each module registers its format
from gateway.formats.base import FeedFormat, FeedMessage, FeedReadError, Rejection, message_id
from gateway.formats.registry import all_formats, format_for, names, register

__all__ = ["FeedFormat", "FeedMessage", "FeedReadError", "Rejection", "all_formats", "format_for", "message_id",
           "names", "register"]
