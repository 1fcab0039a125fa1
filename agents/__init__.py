"""Kernel Kiln's generators: a template compiler (no LLM) and an LLM loop for OpenAI-compatible endpoints.

Public API::

    import agents
    request = agents.GenerationRequest(reference=agents.reference_for_task("conv1d.long_causal", "cpu"),
                                       task_id="conv1d.long_causal", proposer="template")
    result = agents.generate(request, on_event=print)     # GenerationResult
    result.best                                           # a verifier-accepted CandidateResult, or None

Every candidate goes through ``verifier.verify`` against a reference prepared once per job; nothing
unverified is ever returned as a result. This package uses the verifier's public API and the task
suite only; it never imports the service or the store, and never runs request content in-process
(the reference is recognised from its sandboxed trace, or read with ``ast``).
"""

from agents.generate import generate
from agents.llm.client import ChatClient, EndpointUnavailable, LLMError
from agents.ranking import better, pick_best, ranked
from agents.references import reference_for_task
from agents.types import Budget, CandidateResult, GenerationRequest, GenerationResult

__all__ = [
    "Budget",
    "CandidateResult",
    "ChatClient",
    "EndpointUnavailable",
    "GenerationRequest",
    "GenerationResult",
    "LLMError",
    "better",
    "generate",
    "pick_best",
    "ranked",
    "reference_for_task",
]
