"""Whether and how a re-verification is written back to the store.

One verification is kept per (candidate, reference source, environment, mode). The re-verification is added
when this environment (hardware fingerprint + torch/triton/CUDA versions) or this reference source has
none yet. When one exists it is replaced only if the verdict changed (a kernel that stopped being
accepted here must stop being presented as accepted here, and one that passes again is restored); a
same-verdict re-run is not written, so the recorded timing stays the baseline later runs compare with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.regress.results import StoredAs

if TYPE_CHECKING:
    from kernels_store import Store
    from verifier import Report


def record_rerun(store: Store, candidate_id: int, report: Report) -> StoredAs:
    """Write ``report`` by the rule above; says what happened."""
    existing = store.find_verification(
        candidate_id, report.environment, reference_sha256=report.reference_sha256, mode=report.mode
    )
    if existing is None:
        recorded = store.record_verification(candidate_id, report)
        return "added" if recorded.created else "kept"
    if existing.verdict == report.verdict:
        return "kept"
    store.record_verification(candidate_id, report, replace=True)
    return "replaced"
