"""The warm server's clean-up between children (verifier.worker.zygote): the wipe, run as the server
runs it (the children's uid, no capabilities), removes whatever a child can make, and the check after it
reports what is left, which makes the parent discard the server (verifier.sandbox.warm).

Each scenario runs in a subprocess that first drops every capability, as the sandboxed server holds
none: run by root with them, a plain ``shutil.rmtree`` would pass these tests too."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from verifier.sandbox import warm
from verifier.worker.wipe import MAX_DEPTH, MAX_RESIDUE, RESIDUE_CHARS

REPO = Path(__file__).resolve().parents[2]

PRELUDE = """
import ctypes, json, os, socket, stat, sys
from pathlib import Path


class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


if ctypes.CDLL(None, use_errno=True).capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
    raise OSError(ctypes.get_errno(), "capset")
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
assert int(status["CapEff"], 16) == 0

from verifier.worker.wipe import clean, take_baseline

tmp = Path(sys.argv[1])
"""


def _without_capabilities(script: str, tmp_path: Path) -> Any:
    """Run ``script`` (after ``PRELUDE``) with no capabilities; what it printed last, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_wipe_removes_what_a_capability_less_owner_cannot_list(tmp_path: Path) -> None:
    outcome = _without_capabilities(
        """
        root, outside = tmp / "root", tmp / "outside"
        root.mkdir()
        (outside / "dir").mkdir(parents=True)
        (outside / "dir" / "kept").write_text("not the child's")
        (outside / "kept").write_text("not the child's")
        os.chmod(outside / "kept", 0o640)
        baseline = take_baseline([str(root)])

        locked = root / "locked"  # what the issue found: 0o300, a file in it, a 0o000 directory inside
        (locked / "inner" / "deeper").mkdir(parents=True)
        (locked / "secret").write_text("from the previous worker")
        (locked / "inner" / "deeper" / "secret").write_text("from the previous worker")
        os.chmod(locked / "inner" / "deeper", 0o000)
        os.chmod(locked / "inner", 0o000)
        os.chmod(locked, 0o300)
        (root / "no-write").mkdir()
        (root / "no-write" / "secret").write_text("x")
        os.chmod(root / "no-write", 0o500)
        os.mkfifo(root / "fifo")
        socket.socket(socket.AF_UNIX).bind(str(root / "socket"))
        odd = os.path.join(os.fsencode(root), b"odd \\n\\xff name")
        with open(odd, "wb") as f:
            f.write(b"x")
        os.chmod(odd, 0o400)
        os.symlink(outside / "kept", root / "link-to-file")
        os.symlink(outside / "dir", root / "link-to-dir")
        os.link(outside / "kept", root / "hard-link")
        try:
            os.setxattr(root, "user.kiln", b"from the previous worker")
        except OSError:
            pass
        os.chmod(root, 0o000)

        left = clean(baseline)
        print(json.dumps({
            "left": left,
            "listing": os.listdir(root),
            "mode": oct(stat.S_IMODE(os.stat(root).st_mode)),
            "xattrs": os.listxattr(root),
            "outside": sorted(os.listdir(outside)),
            "outside_dir": os.listdir(outside / "dir"),
            "outside_mode": oct(stat.S_IMODE(os.stat(outside / "kept").st_mode)),
        }))
        """,
        tmp_path,
    )
    assert outcome == {
        "left": [],
        "listing": [],
        "mode": "0o755",
        "xattrs": [],
        "outside": ["dir", "kept"],
        "outside_dir": ["kept"],
        "outside_mode": "0o640",
    }


def test_what_the_wipe_leaves_is_reported_briefly_and_in_ascii(tmp_path: Path) -> None:
    """Trees deeper than ``MAX_DEPTH`` stay behind; the residue names them (escaped, cut, counted)."""
    left = _without_capabilities(
        f"""
        root = tmp / "root"
        root.mkdir()
        baseline = take_baseline([str(root)])
        for i in range({MAX_RESIDUE} + 5):
            os.makedirs(os.path.join(root, f"deep\\n\\udcff{{i:02}}" + "x" * 240, *["d"] * ({MAX_DEPTH} + 2)))
        print(json.dumps(clean(baseline)))
        """,
        tmp_path,
    )
    assert len(left) == MAX_RESIDUE + 1 and left[-1] == "... and 5 more", left
    assert all(entry.isascii() and len(entry) <= RESIDUE_CHARS for entry in left)
    assert left[0].startswith(f"{tmp_path}/root/deep\\n\\udcff00xxx")


def test_entries_the_sandbox_started_with_are_kept_and_must_not_change(tmp_path: Path) -> None:
    """/dev's nodes (``keep_all``) and the directories on the way to another root stay; replaced, they
    are residue."""
    outcome = _without_capabilities(
        """
        dev, outer = tmp / "dev", tmp / "outer"
        (dev / "shm").mkdir(parents=True)
        (dev / "null").write_text("")
        (outer / "a" / "scratch").mkdir(parents=True)
        baseline = take_baseline([str(dev), str(outer), str(outer / "a" / "scratch")], keep_all=(str(dev),))
        (dev / "new").write_text("x")
        (outer / "a" / "left").write_text("x")
        (outer / "a" / "scratch" / "left").write_text("x")
        first = clean(baseline)
        listings = [sorted(os.listdir(p)) for p in (dev, outer, outer / "a", outer / "a" / "scratch")]
        (dev / "null").unlink()
        (dev / "null").write_text("from the previous worker")
        os.rename(outer / "a", outer / "b")
        (outer / "a").mkdir()
        print(json.dumps({"first": first, "listings": listings, "second": clean(baseline)}))
        """,
        tmp_path,
    )
    assert outcome["first"] == []
    assert outcome["listings"] == [["null", "shm"], ["a"], ["scratch"], []]
    second = outcome["second"]
    assert f"{tmp_path}/dev/null (changed)" in second and f"{tmp_path}/outer/a (replaced)" in second, second
    assert f"{tmp_path}/outer/a/scratch (missing)" in second and len(second) == 3, second


def test_a_check_that_cannot_run_counts_as_residue(tmp_path: Path) -> None:
    outcome = _without_capabilities(
        """
        (tmp / "a" / "root").mkdir(parents=True)
        (tmp / "b").mkdir()
        baseline = take_baseline([str(tmp / "a" / "root"), str(tmp / "b")])
        os.chmod(tmp / "a", 0o000)  # the root cannot be reached
        unreachable = clean(baseline)
        os.chmod(tmp / "a", 0o755)
        (tmp / "b").rmdir()
        print(json.dumps({"unreachable": unreachable, "gone": clean(baseline)}))
        """,
        tmp_path,
    )
    assert len(outcome["unreachable"]) == 1, outcome
    assert outcome["unreachable"][0].startswith("the check failed: PermissionError"), outcome
    assert outcome["gone"] == [f"{tmp_path}/b (missing)"]


def test_the_pool_reuses_only_a_server_that_reported_a_clean_sandbox() -> None:
    server = SimpleNamespace(alive=lambda: True)

    def child(message: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(returncode=0, residue=warm._residue(message))

    assert warm._discard_reason(server, child({"exited": 1, "residue": []})) is None  # type: ignore[arg-type]
    for message in ({"exited": 1}, {"exited": 1, "residue": "none"}, {"exited": 1, "residue": [1]}):
        assert warm._discard_reason(server, child(message)) == (  # type: ignore[arg-type]
            "its clean-up left the server did not report what its clean-up left"
        )
    reason = warm._discard_reason(server, child({"exited": 1, "residue": ["/tmp/x (directory)"]}))  # type: ignore[arg-type]
    assert reason == "its clean-up left /tmp/x (directory)"
    assert warm._discard_reason(server, None) is not None  # type: ignore[arg-type]
