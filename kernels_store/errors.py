"""The store's exceptions. Every one derives from ``StoreError``; bad arguments raise ``ValueError``."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the store's own errors."""


class NotFoundError(StoreError, LookupError):
    """A task, candidate or job named by id does not exist."""


class TaskSourceChangedError(StoreError):
    """A task id is already stored with a different reference source (see ``Store.put_task``)."""

    def __init__(self, task_id: str, stored_sha256: str, new_sha256: str) -> None:
        super().__init__(
            f"task {task_id!r} is stored with reference source sha256 {stored_sha256[:12]}…, "
            f"not {new_sha256[:12]}…: its reference source changed"
        )
        self.task_id = task_id
        self.stored_sha256 = stored_sha256
        self.new_sha256 = new_sha256


class LeaseLostError(StoreError):
    """The worker no longer holds this job: it was reclaimed after its lease expired, or it finished."""


class ActiveJobLimitError(StoreError):
    """The owner already has ``active`` jobs queued or running, the most ``create_job`` was allowed."""

    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"{active} jobs of this owner are queued or running; the limit is {limit}")
        self.active = active
        self.limit = limit


class SchemaNotCurrentError(StoreError):
    """The database's schema is not at the migrations' head and was not upgraded automatically."""


class BundleError(StoreError):
    """A store bundle cannot be imported; ``line`` is the 1-based line at fault (0: the file as a whole)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message
