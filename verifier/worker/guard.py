"""In-process guard of the candidate worker: an audit hook and integrity snapshots.

The OS sandbox is the boundary; this guard explains and blocks what candidate code *tries*:

- an audit hook (``sys.addaudithook``; Python offers no way to remove one) sees network,
  process, file, introspection (frames, gc), ctypes and code-patching events. When the code that
  triggered an event is the candidate's (the innermost frame that belongs to the candidate or to
  a trusted library — torch, triton, this package — is the candidate's), the event is reported
  to the parent at once over the authenticated channel and blocked with ``PermissionError``;
- integrity snapshots record the callables and classes of the modules the harness relies on
  (this package, the stdlib pieces it uses, torch's dispatch/profiler machinery). After every
  step that ran candidate code the harness compares them; a replaced attribute is tampering.

Everything the hook and the checker call is captured in closure cells *before* candidate code is
imported, and the functions themselves are reachable only from the harness's frames, which the
hook keeps candidate code from reading.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import torch

NETWORK_EVENTS = frozenset(
    {
        "socket.__new__",
        "socket.bind",
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "socket.sendto",
        "socket.sendmsg",
        "socket.socketpair",
        "urllib.Request",
        "http.client.connect",
        "ftplib.connect",
        "smtplib.connect",
        "telnetlib.Telnet.open",
    }
)
PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "pty.spawn",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "os.startfile",
    }
)
INTROSPECTION_EVENTS = frozenset(
    {
        "sys._getframe",
        "sys._current_frames",
        "sys._current_exceptions",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys.settrace",
        "sys.setprofile",
        "sys.addaudithook",
        "sys.monitoring.register_callback",
        "function.__new__",
        "code.__new__",
        "marshal.loads",
        "marshal.load",
        "sys.setrecursionlimit",
        "sys.remote_exec",
    }
)
ATTRIBUTE_EVENTS = frozenset({"object.__getattr__", "object.__setattr__", "object.__delattr__"})
FILE_EVENTS = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "os.chdir",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
        "os.walk",
        "glob.glob",
    }
)
READ_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "os.walk", "glob.glob"})
CODE_EVENTS = frozenset({"exec", "compile"})
"""exec/eval/compile called by candidate code (Triton's JIT compiling it is library-originated)."""
CTYPES_EVENTS = frozenset(
    {"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.addressof", "ctypes.cdata", "ctypes.cdata/buffer"}
)
"""Raw memory and foreign calls: with them Python code could reach anything in the process."""
THREAD_EVENT = "kiln.thread.start"
SIGNAL_EVENT = "kiln.signal.handler"
CONCURRENCY_EVENTS = frozenset({THREAD_EVENT, SIGNAL_EVENT})
"""Raised by the gates ``install_concurrency_gates`` puts on thread starts and signal handlers."""


def _python_install_roots() -> list[str]:
    """Directories holding Python's stdlib and installed packages (safe for candidates to read)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.update(p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p))
    roots.update(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    return sorted(r for r in roots if r)


def _read_only(open_args: tuple[Any, ...]) -> bool:
    mode = open_args[1] if len(open_args) > 1 else "r"
    flags = open_args[2] if len(open_args) > 2 else 0
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return False
    return isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND) == 0


def _trusted_prefixes() -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(library prefixes, stdlib prefixes, this package's directory) for classifying frames."""
    verifier_dir = str(Path(__file__).resolve().parent.parent) + os.sep
    torch_dir = str(Path(torch.__file__).resolve().parent) + os.sep
    library = [verifier_dir, torch_dir]
    try:
        import triton

        library.append(str(Path(triton.__file__).resolve().parent) + os.sep)
    except ImportError:  # pragma: no cover
        pass
    neutral = {sysconfig.get_paths()["stdlib"] + os.sep, sysconfig.get_paths()["platstdlib"] + os.sep}
    return tuple(library), tuple(neutral), verifier_dir


def install_concurrency_gates() -> None:
    """Make starting a thread and installing a signal handler raise audit events the hook can refuse.

    Both run candidate code outside the recorded forward: the op recorders watch the thread that
    calls ``forward`` while it runs, so torch compute on a background thread, or in a signal
    handler firing after ``forward`` returned, would escape fallback detection. Python raises no
    audit event for either, so the C functions behind them (``_thread.start_new_thread`` and its
    aliases, ``_signal.signal``) are replaced, in ``_thread``/``_signal`` and wherever a loaded
    module holds a reference (``threading._start_new_thread``), by gates that call ``sys.audit``
    first. Installed before the integrity snapshot, whose modules include ``_thread``,
    ``threading``, ``_signal`` and ``signal``: putting an original back is tampering.
    """
    import _signal
    import _thread

    audit = sys.audit
    getattr_ = getattr

    def gate(original: Callable[..., Any], event: str) -> Callable[..., Any]:
        def gated(*args: Any, **kwargs: Any) -> Any:
            audit(event, *[getattr_(a, "__qualname__", repr(a)[:80]) for a in args[:2]])
            return original(*args, **kwargs)

        gated.__name__ = gated.__qualname__ = original.__name__
        return gated

    gates: dict[int, tuple[Any, Any]] = {}
    for name in ("start_new_thread", "start_new", "start_joinable_thread"):
        original = getattr(_thread, name, None)
        if original is not None and id(original) not in gates:
            gates[id(original)] = (original, gate(original, THREAD_EVENT))
    gates[id(_signal.signal)] = (_signal.signal, gate(_signal.signal, SIGNAL_EVENT))
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            entry = gates.get(id(value))
            if entry is not None and entry[0] is value:
                namespace[key] = entry[1]


def make_candidate_origin(
    candidate_files: Callable[[], frozenset[str]], scratch: str
) -> Callable[[FrameType | None], str | None]:
    """Build ``origin(frame)``: "file:line" when candidate code is responsible for what ``frame`` does.

    Walking outwards from ``frame``, the first frame that belongs either to candidate code (the
    candidate's file, or any file in the scratch directory it can write to) or to trusted code
    (torch, triton, this package, the import machinery) decides. The stdlib and other packages
    (numpy...) are transparent: numpy called by Triton's interpreter is Triton's doing, numpy called
    by the candidate is the candidate's, and a module the candidate imports runs on the import
    machinery's behalf.
    """
    library, _stdlib, _ = _trusted_prefixes()
    trusted = (*library, "<frozen importlib")
    scratch_prefix = os.path.realpath(scratch) + os.sep
    startswith = str.startswith
    sep = os.sep
    str_ = str

    def origin(frame: FrameType | None) -> str | None:
        files = candidate_files()
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename in files or startswith(filename, scratch_prefix):
                return filename.rpartition(sep)[2] + ":" + str_(frame.f_lineno)
            if startswith(filename, trusted):
                return None
            frame = frame.f_back
        return None

    return origin


def make_stack_origin(
    candidate_files: Callable[[], frozenset[str]], scratch: str
) -> Callable[[FrameType | None], tuple[str | None, str]]:
    """Build ``origin(frame)`` -> (where, innermost): ``where`` is "file:line" of the innermost
    candidate frame *anywhere* on the stack (None when no candidate code is on it), ``innermost``
    the file of the innermost frame that is not the stdlib's.

    Trust no frame: a library function (torch, triton, the stdlib) called by candidate code acts
    for the candidate, so an event with candidate code anywhere below it is the candidate's. The
    few library callers that must be let through are named by the hook, by their innermost file.
    """
    _library, stdlib, _ = _trusted_prefixes()
    scratch_prefix = os.path.realpath(scratch) + os.sep
    startswith = str.startswith
    sep = os.sep
    str_ = str

    def origin(frame: FrameType | None) -> tuple[str | None, str]:
        files = candidate_files()
        innermost = ""
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename in files or startswith(filename, scratch_prefix):
                return filename.rpartition(sep)[2] + ":" + str_(frame.f_lineno), innermost or filename
            if (
                not innermost
                and (not startswith(filename, "<") or startswith(filename, "<frozen importlib"))
                and not (startswith(filename, stdlib) and "-packages" + sep not in filename)
            ):
                innermost = filename
            frame = frame.f_back
        return None, innermost

    return origin


STDLIB_FRAME_USERS = (
    "logging/__init__.py",
    "collections/__init__.py",
    "typing.py",
    "enum.py",
    "warnings.py",
    "torch/_library/utils.py",
    "torch/library.py",
)
"""Modules that call ``sys._getframe`` only to name a caller's module or line (logging, namedtuple,
typing, enum, warnings; torch.library recording where an op was defined), handing no frame back:
allowed even with candidate code on the stack."""

TRITON_TOOLS = frozenset({"ptxas", "cuobjdump", "nvdisasm", "ldconfig", "cc", "gcc", "clang"})
"""On a GPU, Triton compiles kernels and launcher stubs with these (the named exception to the ban on
process creation; on a CPU nothing may start a process after the harness's warm-up)."""


def make_stdlib_codegen_check() -> Callable[[FrameType], bool]:
    """Build ``generated(frame)``: True when ``frame`` is the standard library generating code for plain
    names at import time, which is not candidate code escaping the screen: ``collections.namedtuple``
    (it refuses any name that is not an exact ``str`` identifier before it ``eval``s ``__new__`` and
    sets its ``__defaults__``), and the ``dataclass`` decorator's ``_process_class`` (reached from
    ``frame`` through standard-library frames only: its method builder's ``exec``, ``inspect.signature``
    reading the built ``__init__``) while every field of that class is a ``Field`` whose name is an
    exact-``str`` identifier. A class that feeds other names in (its own ``__annotations__``, a base's
    ``__dataclass_fields__``), or a direct call of the builder, is refused like any other
    ``exec``/``compile``; ``enum``, ``functools`` and ``typing`` generate no code.
    """
    import collections
    import dataclasses
    import keyword

    _library, stdlib, _ = _trusted_prefixes()
    dataclasses_file, collections_file = dataclasses.__file__, collections.__file__
    field_type, dict_, str_, type_ = dataclasses.Field, dict, str, type
    isidentifier, iskeyword, startswith = str.isidentifier, keyword.iskeyword, str.startswith
    packages = "-packages" + os.sep

    def plain(name: Any) -> bool:
        return type_(name) is str_ and isidentifier(name) and not iskeyword(name)

    def generated(frame: FrameType | None) -> bool:
        if frame is not None and frame.f_code.co_filename == collections_file:
            return frame.f_code.co_name == "namedtuple"
        while frame is not None:
            filename = frame.f_code.co_filename
            if not startswith(filename, stdlib) or packages in filename:
                return False
            if filename == dataclasses_file and frame.f_code.co_name == "_process_class":
                fields = frame.f_locals.get("fields")
                return type_(fields) is dict_ and all(
                    plain(name) and type_(f) is field_type and plain(f.name) and f.name == name
                    for name, f in fields.items()
                )
            frame = frame.f_back
        return False

    return generated


def make_audit_hook(
    send: Callable[[bytes, Iterable[bytes]], None],
    candidate_files: Callable[[], frozenset[str]],
    scratch: str,
    device: str = "cpu",
) -> Callable[[str, tuple[Any, ...]], None]:
    """Build the audit hook. ``candidate_files()`` names the files holding candidate code.

    Frame-introspection, process, network, file, concurrency (thread/signal gates) and ctypes
    events are refused whenever candidate code is anywhere on the stack, with these exceptions:
    files in the scratch directory (any access) and in Python's installation (reading), stdlib
    helpers that use a frame only to name a caller (``STDLIB_FRAME_USERS``), Triton's compiler
    tools on a GPU (``TRITON_TOOLS``), and the verifier's own CUDA compile check. ``exec``/
    ``compile`` and reads of restricted function attributes (``__code__``...) are refused only
    when candidate code is the innermost caller (Triton's JIT reads ``__code__`` and generates its
    binder with ``exec``; the static screen refuses them in candidate source).
    """
    stack_origin = make_stack_origin(candidate_files, scratch)
    library, _stdlib, verifier_dir = _trusted_prefixes()
    getframe = sys._getframe
    get_ident = __import__("_thread").get_ident
    escape = __import__("json").encoder.encode_basestring_ascii
    realpath = os.path.realpath
    basename = os.path.basename
    startswith = str.startswith
    endswith = str.endswith
    busy: set[int] = set()
    scratch_prefix = realpath(scratch) + os.sep
    sep = os.sep
    python_roots = tuple(realpath(p) + sep for p in _python_install_roots())
    triton_dir = next((p for p in library if endswith(p.rstrip(sep), "triton")), None)
    compile_check = verifier_dir + "worker" + sep + "cuda_compile.py"
    gpu = device == "cuda"
    permission_error = PermissionError
    repr_ = repr
    type_ = type
    str_ = str
    isinstance_ = isinstance
    bytes_ = bytes
    int_ = int
    list_types = (list, tuple)
    watched = (
        NETWORK_EVENTS
        | PROCESS_EVENTS
        | INTROSPECTION_EVENTS
        | ATTRIBUTE_EVENTS
        | FILE_EVENTS
        | CODE_EVENTS
        | CONCURRENCY_EVENTS
        | CTYPES_EVENTS
    )
    concurrency_events = CONCURRENCY_EVENTS
    process_events = PROCESS_EVENTS
    library_events = CODE_EVENTS | ATTRIBUTE_EVENTS
    stdlib_generated = make_stdlib_codegen_check()
    frame_name_events = frozenset({"sys._getframe", "sys._getframemodulename"})
    import_events = frozenset({"marshal.loads", "marshal.load"})
    stdlib_frame_users = STDLIB_FRAME_USERS
    triton_tools = TRITON_TOOLS
    attr_names = frozenset(
        {
            "tb_frame",
            "gi_frame",
            "cr_frame",
            "ag_frame",
            "f_back",
            "__code__",
            "__defaults__",
            "__globals__",
            "__closure__",
            "__kwdefaults__",
            "f_globals",
            "f_locals",
            "gi_code",
            "cr_code",
        }
    )

    plain_names = {THREAD_EVENT: "start of a background thread", SIGNAL_EVENT: "signal handler"}

    def describe(event: str, args: tuple[Any, ...]) -> str:
        if event in plain_names:  # the gates' own event names mean nothing to a user
            at = 0 if event == THREAD_EVENT else 1  # start_new_thread(function, args); signal(number, handler)
            target = args[at] if len(args) > at and isinstance_(args[at], str_) else "?"
            return f"{plain_names[event]} ({target}): code there runs outside the recorded forward"
        try:
            parts = []
            for a in args[:3]:
                if isinstance_(a, (str_, bytes_, int_)):
                    parts.append(repr_(a)[:160])
                else:
                    parts.append(type_(a).__name__)
            return event + "(" + ", ".join(parts) + ")"
        except BaseException:
            return event

    def allowed_file(event: str, args: tuple[Any, ...]) -> bool:
        """Scratch: anything. Python's own installation: reading (imports). Elsewhere: nothing."""
        if not args:
            return False
        target = args[0]
        if isinstance_(target, int_):  # open(fd): an already-open descriptor
            return event == "open" and target > 2
        if isinstance_(target, bytes_):
            target = target.decode(errors="replace")
        if not isinstance_(target, str_):
            return False
        path = realpath(target)
        if startswith(path + sep, scratch_prefix) or path == "/dev/null":
            return True
        reading = event in READ_EVENTS and (event != "open" or _read_only(args))
        return reading and startswith(path + sep, python_roots)

    def triton_tool(args: tuple[Any, ...]) -> bool:
        """subprocess.Popen(executable, args, ...): one of Triton's compiler tools."""
        if len(args) < 2:
            return False
        argv = args[1]
        first = argv[0] if isinstance_(argv, list_types) and argv else argv
        if isinstance_(first, bytes_):
            first = first.decode(errors="replace")
        return isinstance_(first, str_) and basename(first).split("-")[0] in triton_tools

    def excused(event: str, args: tuple[Any, ...], innermost: str) -> bool:
        if event in FILE_EVENTS:
            return allowed_file(event, args)
        if startswith(innermost, verifier_dir) and event not in process_events:
            return True  # the harness's own wrappers (the host-read watch names its caller's frame)
        if event in frame_name_events:
            return endswith(innermost, stdlib_frame_users)
        if event in import_events:
            return startswith(innermost, "<frozen importlib")  # loading a module's cached bytecode
        if event in process_events:
            if innermost == compile_check:
                return True
            return gpu and triton_dir is not None and startswith(innermost, triton_dir) and triton_tool(args)
        return False

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in watched:
            return
        if event in ATTRIBUTE_EVENTS and (len(args) < 2 or args[1] not in attr_names):
            return
        me = get_ident()
        if me in busy:
            return
        busy.add(me)
        try:
            # frame 1 called sys.audit: for the concurrency gates that is the gate itself (this
            # package), so the walk starts at whoever called the gate
            where, innermost = stack_origin(getframe(2 if event in concurrency_events else 1))
            if where is None:
                return
            if (
                event in library_events
                and not startswith(innermost, scratch_prefix)
                and innermost not in candidate_files()
            ):
                return  # a library's own use: Triton's JIT reads __code__ and exec's its binder
            if event in library_events and stdlib_generated(getframe(1)):
                return  # a candidate's @dataclass or namedtuple: the stdlib writes methods for plain names
            if event in frame_name_events and endswith(getframe(1).f_code.co_filename, stdlib_frame_users):
                return  # namedtuple, enum, typing, logging naming their caller's module, called by the candidate
            if excused(event, args, innermost):
                return
            detail = describe(event, args)
            header = (
                '{"kind":"violation","event":'
                + escape(event)
                + ',"detail":'
                + escape(detail)
                + ',"where":'
                + escape(where)
                + "}"
            ).encode()
            send(header, ())
        finally:
            busy.discard(me)
        raise permission_error(f"kiln sandbox: {event} is not allowed in candidate code")

    return hook


class IntegrityChecker:
    """Snapshots module and class namespaces; ``changes()`` lists what was replaced, deleted or added.

    Replaced or deleted: for third-party and stdlib modules only callables, classes and submodules
    are compared (torch flips plain flags and caches on its own); for the harness's own modules
    and the watched classes, every attribute is. Added: a new attribute on a watched class can
    shadow an inherited method, and a new module global can shadow a builtin, so both count —
    except a submodule appearing on its package, which is what a lazy import does.
    """

    def __init__(self, modules: Iterable[ModuleType], classes: Iterable[type], strict_prefix: str) -> None:
        self._entries: list[tuple[str, Any, dict[str, Any], bool]] = []
        for module in modules:
            strict = module.__name__.startswith(strict_prefix)
            ns = vars(module)
            kept = {k: v for k, v in ns.items() if strict or callable(v) or isinstance(v, (type, ModuleType))}
            self._entries.append((module.__name__, ns, kept, False))
        for cls in classes:
            self._entries.append((f"{cls.__module__}.{cls.__qualname__}", cls.__dict__, dict(cls.__dict__), True))
        sentinel = object()
        module_type = ModuleType

        def changes(
            _entries=self._entries, _sentinel=sentinel, _items=dict.items, _isinstance=isinstance, _mod=module_type
        ) -> list[str]:
            found = []
            for name, live, snapshot, is_class in _entries:
                for key, value in _items(snapshot):
                    current = live.get(key, _sentinel)
                    if current is not value:
                        found.append(f"{name}.{key}" if current is not _sentinel else f"{name}.{key} (deleted)")
                for key in live.keys() - snapshot.keys():
                    if key in ("__slotnames__", "__warningregistry__"):  # caches of copyreg and warnings
                        continue
                    if is_class or not _isinstance(live.get(key), _mod):
                        if not is_class and key in snapshot_all[name]:
                            continue
                        found.append(f"{name}.{key} (added)")
            return found

        snapshot_all = {name: frozenset(live.keys()) for name, live, _, _ in self._entries}
        self.changes = changes


def harness_modules() -> list[ModuleType]:
    """Modules whose state the harness depends on after candidate code has run."""
    names = [
        "builtins",
        "os",
        "posix",
        "posixpath",
        "json",
        "json.encoder",
        "json.decoder",
        "hmac",
        "hashlib",
        "_hashlib",
        "threading",
        "_thread",
        "signal",
        "_signal",
        "gc",
        "time",
        "math",
        "select",
        "importlib",
        "importlib.util",
        "traceback",
        "torch",
        "torch._tensor",
        "torch.nn.modules.module",
        "torch.utils._python_dispatch",
        "torch.overrides",
        "torch.profiler",
        "torch.profiler.profiler",
        "torch.autograd",
        "torch.autograd.profiler",
        "torch.autograd.profiler_util",
        "torch.cuda",
        "torch.cuda.streams",
        "numpy",
    ]
    mods = [sys.modules[n] for n in names if n in sys.modules]
    mods += [m for n, m in sorted(sys.modules.items()) if n.startswith("verifier") and m is not None]
    return mods


def harness_classes() -> list[type]:
    from torch.utils._python_dispatch import TorchDispatchMode

    classes: list[type] = [
        torch.Tensor,
        torch._C.TensorBase,
        torch.nn.Module,
        TorchDispatchMode,
        torch.profiler.profile,
    ]
    if torch.cuda.is_available():
        classes += [torch.cuda.Event, torch.cuda.Stream]
    return classes


def mode_stack_depths() -> Callable[[], tuple[int, int]]:
    """A captured function returning (dispatch-mode stack depth, function-mode stack depth)."""
    dispatch_len = torch._C._len_torch_dispatch_stack
    function_len = torch._C._len_torch_function_stack

    def depths() -> tuple[int, int]:
        return dispatch_len(), function_len()

    return depths
