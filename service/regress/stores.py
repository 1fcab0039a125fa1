"""The store a run checks: a live database, or a bundle imported into a temporary SQLite store.

A missing SQLite file is an error (``open_store`` would create an empty one, and an empty store has
nothing to fail). A bundle's store lives in a temporary directory removed after the run: what the run
records there is discarded with it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kernels_store import Store
from service.regress.errors import RegressSetupError


def open_database(url: str | None) -> Store:
    """Open the store at ``url`` (default ``$KILN_DATABASE_URL``, else the default SQLite file)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from kernels_store import StoreError, database_url, open_store
    from kernels_store.db import redacted

    try:
        resolved = database_url(url)
        parsed = make_url(resolved)
    except Exception as e:  # a malformed URL
        raise RegressSetupError(f"bad database URL {url!r}: {e}") from None
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or (not path.startswith("file:") and not Path(path).expanduser().is_file()):
            raise RegressSetupError(f"no store at {redacted(parsed)}: the SQLite file does not exist")
    try:
        return open_store(resolved)
    except (SQLAlchemyError, StoreError) as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise RegressSetupError(f"cannot open the store at {redacted(parsed)}: {reason}") from None
    except Exception as e:  # a missing driver, an unsupported backend
        raise RegressSetupError(f"cannot open the store at {redacted(parsed)}: {e}") from None


@contextmanager
def bundle_store(bundle: Path) -> Iterator[Store]:
    """A temporary SQLite store holding ``bundle``'s records (``kiln store export`` output)."""
    from kernels_store import BundleError, open_store
    from kernels_store.bundle import import_bundle

    with tempfile.TemporaryDirectory(prefix="kiln-regress-") as scratch:
        store = open_store(f"sqlite:///{Path(scratch) / 'bundle.sqlite'}")
        try:
            try:
                with bundle.open("rb") as lines:
                    import_bundle(store, lines)
            except OSError as e:
                raise RegressSetupError(f"cannot read the bundle {bundle}: {e.strerror or e}") from None
            except BundleError as e:
                raise RegressSetupError(f"bad bundle {bundle}: {e}") from None
            yield store
        finally:
            store.close()
