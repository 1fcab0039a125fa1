"""The process-wide ``ast.parse`` lock lives in the verifier (``verifier.parsing``); re-exported here."""

from verifier.parsing import PARSE_LOCK, _original_parse, install, installed, parse

__all__ = ["PARSE_LOCK", "_original_parse", "install", "installed", "parse"]
