"""Recording a candidate's forward as a launch plan, on tensors that carry no data (planner side).

The planner process imports the candidate and builds its ``ModelNew``; every forward then runs on
fake tensors (``FakeTensorMode``: real shapes, strides, dtypes and devices, no storage) with the
parameters swapped for fake ones (``torch.func.functional_call``). What the forward does is
recorded:

- every framework op it dispatches (a recording ``TorchDispatchMode`` above the fake mode), with
  its arguments as plan values (:mod:`verifier.plan.values`);
- every Triton launch (``kernel[grid](...)``): the kernel's name, its arguments by parameter name,
  the grid (a grid function is evaluated here, per autotune config) and the launch options;
  ``@triton.heuristics`` functions run here and their values become launch arguments;
- what it returns.

Tensors the forward reaches that were made before it (``__init__``'s plain tensor attributes,
``torch.tensor([...])`` literals) become plan constants with their bytes; views of parameters
made in ``__init__`` become ``as_strided`` views of the parameter. Nothing recorded here is
trusted: this process runs candidate code, so the plan is a claim, checked by
:mod:`verifier.plan.validate` and executed by the runner on the real data.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from verifier import codec
from verifier.plan import ops
from verifier.plan import values as pv

MAX_CONSTANT_BYTES = 64 << 20
"""All constants of one candidate together (tables computed in ``__init__``, literals)."""
MAX_STEPS = 20_000
LAUNCH_OPTIONS = ("num_warps", "num_stages", "num_ctas", "maxnreg")


class RecordingError(RuntimeError):
    """The forward did something a plan cannot hold (the message says what)."""


class FallbackError(RecordingError):
    """The forward called a framework op a plan may not hold, and it could not even run on fake
    tensors (a custom ``torch.library`` op without a fake implementation, say)."""

    def __init__(self, op: str, error: BaseException) -> None:
        super().__init__(f"the forward runs op {op}, which a plan may not hold: a fallback ({type(error).__name__})")
        self.op = op


class StreamError(RecordingError):
    """The forward launched a kernel on a CUDA stream of its own (the plan runs every launch on the
    caller's stream: what would run would not be what the file does)."""


class OutputTypeError(RecordingError):
    """The forward returned something other than plain tensors (a tensor subclass, an object)."""


class BackwardError(RecordingError):
    """Backward mode: the forward's outputs are not connected to the inputs and parameters through
    autograd (detached, or computed without a ``torch.autograd.Function``), or its outputs do not
    have the reference's layout."""


@dataclass
class Constant:
    vid: int
    tensor: torch.Tensor


@dataclass
class CallRecord:
    steps: list[dict[str, Any]] = field(default_factory=list)
    constants: list[Constant] = field(default_factory=list)
    collector: list[dict[str, Any]] | None = None
    """Variants of the autotuned launch being recorded (one per config), else None."""


def _fake_mode() -> Any:
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode(allow_non_fake_inputs=True)


def _is_fake(t: torch.Tensor) -> bool:
    from torch._subclasses.fake_tensor import FakeTensor

    return isinstance(t, FakeTensor)


def _storage_key(t: torch.Tensor) -> int | None:
    try:
        return int(t.untyped_storage()._cdata)
    except Exception:
        return None


class PlanRecorder:
    """Value numbers, fake tensors and constants of one planner process (all instances share one
    numbering, as the runner keeps one value table)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.mode = _fake_mode()
        self._ids: dict[int, int] = {}
        self._alive: list[Any] = []  # strong references: an id() is never reused while numbered
        self._by_storage: dict[int, int] = {}
        self._real_params: dict[int, tuple[int, torch.Tensor]] = {}
        self._next = 0
        self.constant_bytes = 0
        self.call: CallRecord | None = None

    # ---- numbering -------------------------------------------------------------------------
    def new_value(self, t: torch.Tensor) -> int:
        vid = self._next
        self._next += 1
        self._ids[id(t)] = vid
        self._alive.append(t)
        key = _storage_key(t)
        if key is not None and _is_fake(t):
            self._by_storage.setdefault(key, vid)
        return vid

    def known(self, t: torch.Tensor) -> int | None:
        return self._ids.get(id(t))

    def ref(self, t: torch.Tensor) -> int:
        """The value number of ``t``; a tensor first seen here becomes a view step or a constant."""
        vid = self._ids.get(id(t))
        if vid is not None:
            return vid
        if self.call is None:
            raise RecordingError("a tensor reached outside a recorded forward")
        if _is_fake(t):
            key = _storage_key(t)
            base = self._by_storage.get(key) if key is not None else None
            if base is None:
                raise RecordingError(
                    "the forward used a tensor the plan cannot name (made outside the recorded ops: on another "
                    "thread, or with the recording disabled)"
                )
            return self._view_of(base, t)
        real_key = _storage_key(t)
        if real_key is not None and real_key in self._real_params and t.device.type == "cpu":
            param_vid, _param = self._real_params[real_key]
            return self._view_of(param_vid, t)
        return self._constant(t)

    def _view_of(self, base: int, t: torch.Tensor) -> int:
        assert self.call is not None
        vid = self.new_value(t)
        self.call.steps.append(
            {
                "op": "aten.as_strided.default",
                "args": [{"v": base}, {"l": list(t.shape)}, {"l": list(t.stride())}, int(t.storage_offset())],
                "kwargs": {},
                "out": {"v": vid},
            }
        )
        return vid

    def _constant(self, t: torch.Tensor) -> int:
        assert self.call is not None
        if type(t) is not torch.Tensor and not isinstance(t, torch.nn.Parameter):
            raise RecordingError(f"the forward used a tensor of type {type(t).__qualname__}")
        if t.layout != torch.strided or t.dtype not in pv.TORCH_DTYPE_NAMES:
            raise RecordingError(f"the forward used a {t.layout} {t.dtype} tensor the plan cannot hold")
        size = t.numel() * t.element_size()
        if self.constant_bytes + size > MAX_CONSTANT_BYTES:
            raise RecordingError(
                f"constants (tensors made before the forward) exceed {MAX_CONSTANT_BYTES >> 20} MiB in all"
            )
        self.constant_bytes += size
        vid = self.new_value(t)
        self.call.constants.append(Constant(vid, t))  # detached when sent: an op here would go to the fake mode
        return vid

    def encode(self, value: Any) -> Any:
        try:
            return pv.encode(value, self.ref)
        except pv.PlanError as e:
            raise RecordingError(str(e)) from None

    # ---- instances --------------------------------------------------------------------------
    def instance(self, model: torch.nn.Module) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Fake parameters and buffers for ``model`` (by name) and their description for the parent."""
        fakes: dict[str, Any] = {}
        meta: list[dict[str, Any]] = []
        named = [("parameter", n, t) for n, t in model.named_parameters()]
        named += [("buffer", n, t) for n, t in model.named_buffers()]
        for kind, name, real in named:
            if real.dtype not in pv.TORCH_DTYPE_NAMES or real.layout != torch.strided:
                raise RecordingError(f"{kind} {name} is a {real.layout} {real.dtype} tensor the plan cannot hold")
            with self.mode:
                fake = torch.empty_strided(
                    tuple(real.shape), tuple(real.stride()), dtype=real.dtype, device=self.device
                )
            vid = self.new_value(fake)
            key = _storage_key(real)
            if key is not None:
                self._real_params[key] = (vid, real)
            fakes[name] = fake
            meta.append(
                {
                    "name": name,
                    "v": vid,
                    "kind": kind,
                    "dtype": pv.TORCH_DTYPE_NAMES[real.dtype],
                    "shape": list(real.shape),
                    "stride": list(real.stride()),
                }
            )
        return fakes, meta

    def fake_inputs(self, metas: Any) -> Any:
        """Fake tensors (new values) for a call's inputs as the parent described them."""
        if isinstance(metas, dict) and "T" in metas:
            dtype, shape, stride = metas["T"]
            with self.mode:
                t = torch.empty_strided(tuple(shape), tuple(stride), dtype=pv.TORCH_DTYPES[dtype], device=self.device)
            self.new_value(t)
            return t
        if isinstance(metas, dict) and "l" in metas:
            return [self.fake_inputs(m) for m in metas["l"]]
        if isinstance(metas, dict) and "t" in metas:
            return tuple(self.fake_inputs(m) for m in metas["t"])
        return codec.decode(metas, b"")

    # ---- one forward ------------------------------------------------------------------------
    def record_call(self, model: torch.nn.Module, state: dict[str, Any], inputs: list[Any]) -> tuple[dict, list]:
        """Run ``model``'s forward on fake ``inputs`` with fake ``state``; the plan and its constants."""
        from torch.func import functional_call

        self.call = CallRecord()
        try:
            encoded_inputs = self.encode(list(inputs))
            with torch.no_grad(), self.mode, _Recording(self), recording_launches(self):
                out = functional_call(model, state, tuple(inputs), strict=False, tie_weights=True)
            _check_returned(out)
            returns = self.encode(out)
            plan = {"inputs": encoded_inputs, "steps": self.call.steps, "returns": returns}
            return plan, list(self.call.constants)
        finally:
            self.call = None

    def record_training_call(
        self, model: torch.nn.Module, state: dict[str, Any], inputs: list[Any], layout: dict[str, Any]
    ) -> tuple[dict, list]:
        """Backward mode: ``inputs`` are ``[*forward inputs, *grad_outputs]``; run the forward with
        autograd (the inputs at ``layout["grad_inputs"]`` and the parameters named in
        ``layout["params"]`` require grad), then ``torch.autograd.grad`` of the outputs at
        ``layout["grad_outputs"]`` on this thread, recording both. The plan returns ``(outputs,
        input gradients, parameter gradients)``."""
        from torch.func import functional_call

        count = int(layout["forward_inputs"])
        forward_inputs, grad_outputs = list(inputs[:count]), list(inputs[count:])
        positions = [int(i) for i in layout["grad_inputs"]]
        names = [str(n) for n in layout["params"]]
        missing = [n for n in names if n not in state]
        if missing:
            raise BackwardError(f"ModelNew has no parameter {missing[0]!r} to take a gradient for")
        for i in positions:
            forward_inputs[i].requires_grad_(True)
        for n in names:
            state[n].requires_grad_(True)
        self.call = CallRecord()
        try:
            encoded_inputs = self.encode(list(inputs))
            with (
                self.mode,
                _Recording(self),
                recording_launches(self),
                torch.autograd.set_multithreading_enabled(False),
                torch.enable_grad(),
            ):
                out = functional_call(model, state, tuple(forward_inputs), strict=False, tie_weights=True)
                _check_returned(out)
                wrt = [forward_inputs[i] for i in positions] + [state[n] for n in names]
                grads = _gradients(out, layout, wrt, grad_outputs)
            returns = self.encode((out, tuple(grads[: len(positions)]), tuple(grads[len(positions) :])))
            plan = {"inputs": encoded_inputs, "steps": self.call.steps, "returns": returns}
            return plan, list(self.call.constants)
        finally:
            self.call = None

    def add_step(self, step: dict[str, Any]) -> None:
        assert self.call is not None
        if len(self.call.steps) >= MAX_STEPS:
            raise RecordingError(f"the forward made more than {MAX_STEPS} plan steps")
        self.call.steps.append(step)

    def output(self, out: Any) -> Any:
        """Number the outputs of an op (an in-place op's result keeps its input's number)."""
        if isinstance(out, torch.Tensor):
            vid = self.known(out)
            return {"v": vid if vid is not None else self.new_value(out)}
        if isinstance(out, (list, tuple)):
            items = [self.output(o) for o in out]
            return {"l": items} if isinstance(out, list) else {"t": items}
        return self.encode(out)


def _check_returned(value: Any, depth: int = 0) -> None:
    """Outputs are plain tensors (fake ones here), or tuples/lists of them, or plain literals."""
    if depth > pv.MAX_DEPTH:
        raise OutputTypeError("the forward returned a value nested too deeply")
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_returned(v, depth + 1)
        return
    if isinstance(value, torch.Tensor):
        if not (_is_fake(value) or type(value) is torch.Tensor):
            raise OutputTypeError(f"the forward returned a {type(value).__qualname__}, not a plain torch.Tensor")
        return
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    raise OutputTypeError(f"the forward returned a {type(value).__module__}.{type(value).__qualname__}")


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    return [value]


def _gradients(out: Any, layout: dict[str, Any], wrt: list[Any], grad_outputs: list[Any]) -> list[Any]:
    """The candidate's gradients of ``wrt`` for ``grad_outputs`` (autograd's engine on this thread, so the
    backward's launches and ops are recorded like the forward's)."""
    flat = _flat(out)
    targets = [int(j) for j in layout["grad_outputs"]]
    if any(not 0 <= j < len(flat) or not isinstance(flat[j], torch.Tensor) for j in targets):
        raise BackwardError(
            f"the forward returned {len(flat)} value(s); the reference's differentiable outputs are at {targets}"
        )
    detached = [j for j in targets if not flat[j].requires_grad]
    if detached:
        raise BackwardError(
            f"output {detached[0]} is detached from autograd (no grad_fn): in backward mode the forward's outputs "
            "must come from a torch.autograd.Function whose backward launches the gradient kernels"
        )
    if not wrt:
        return []
    grads = torch.autograd.grad([flat[j] for j in targets], wrt, grad_outputs=grad_outputs, allow_unused=True)
    return list(grads)


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_tensor(v) for v in value)
    return False


def _dispatch_mode_base() -> type:
    from torch.utils._python_dispatch import TorchDispatchMode

    return TorchDispatchMode


class _Recording(_dispatch_mode_base()):  # type: ignore[misc]
    """Records every op the forward dispatches (above the fake mode, which computes the metadata)."""

    def __init__(self, recorder: PlanRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = str(func)
        mutable = bool(getattr(getattr(func, "_schema", None), "is_mutable", False))
        recorder = self.recorder
        encoded_args = encoded_kwargs = None
        if recorder.call is not None and (mutable or _has_tensor(args) or _has_tensor(kwargs)):
            encoded_args = [recorder.encode(a) for a in args]
            encoded_kwargs = {k: recorder.encode(v) for k, v in kwargs.items()}
        try:
            out = func(*args, **kwargs)
        except Exception as e:
            if recorder.call is not None and ops.refused(name):
                raise FallbackError(ops.packet(name), e) from e
            raise
        if recorder.call is None:
            return out
        if not _has_tensor(out) and not mutable:
            return out  # metadata (sizes, strides, devices): nothing to replay
        if encoded_args is None:
            encoded_args = [recorder.encode(a) for a in args]
            encoded_kwargs = {k: recorder.encode(v) for k, v in kwargs.items()}
        recorder.add_step({"op": name, "args": encoded_args, "kwargs": encoded_kwargs, "out": recorder.output(out)})
        return out


# ---- Triton launches ---------------------------------------------------------------------------------

_ACTIVE = threading.local()


def _arg_names(fn: Any) -> list[str]:
    names = getattr(fn, "arg_names", None)
    if names is None:
        names = [p.name for p in getattr(fn, "params", [])]
    return list(names)


def _kernel_name(fn: Any) -> str:
    inner = getattr(fn, "fn", None)
    return str(getattr(inner, "__name__", None) or getattr(fn, "__name__", "?"))


def _kernel_line(fn: Any) -> int:
    """The first line (decorators included) of the launched function's code, 0 if unknown."""
    while hasattr(fn, "fn") and not hasattr(fn, "__code__"):
        fn = fn.fn
    code = getattr(fn, "__code__", None)
    return int(getattr(code, "co_firstlineno", 0) or 0)


def _record_launch(fn: Any, args: tuple[Any, ...], grid: Any, kwargs: dict[str, Any]) -> None:
    recorder: PlanRecorder | None = getattr(_ACTIVE, "recorder", None)
    if recorder is None or recorder.call is None:
        raise RecordingError("a Triton kernel was launched outside a recorded forward")
    _check_stream(fn)
    names = _arg_names(fn)
    if len(args) > len(names):
        raise RecordingError(f"kernel {_kernel_name(fn)} was launched with {len(args)} positional arguments")
    bound: dict[str, Any] = dict(zip(names, args, strict=False))
    options: dict[str, int] = {}
    for key, value in kwargs.items():
        if key in names:
            if key in bound:
                raise RecordingError(f"kernel {_kernel_name(fn)}: argument {key} given twice")
            bound[key] = value
        elif key in LAUNCH_OPTIONS:
            if value is not None:
                options[key] = int(value)
        else:
            raise RecordingError(f"kernel {_kernel_name(fn)}: launch option {key!r} is not supported by the verifier")
    if callable(grid):
        grid = grid({**bound, **options})
    if isinstance(grid, int):
        grid = (grid,)
    try:
        grid_values = [int(g) for g in grid]
    except (TypeError, ValueError):
        raise RecordingError(f"kernel {_kernel_name(fn)}: a grid that is not a tuple of integers") from None
    variant = {
        "args": {k: recorder.encode(v) for k, v in bound.items()},
        "grid": grid_values,
        "options": options,
    }
    call = recorder.call
    if call.collector is not None:
        call.collector.append(variant)
    else:
        recorder.add_step({"launch": _kernel_name(fn), "line": _kernel_line(fn), "variants": [variant]})


def _check_stream(fn: Any) -> None:
    on_gpu = torch.cuda.is_available() and torch.cuda.is_initialized()
    if on_gpu and torch.cuda.current_stream() != torch.cuda.default_stream():
        raise StreamError(
            f"kernel {_kernel_name(fn)} is launched on a CUDA stream of the forward's own: the verified plan "
            "runs every launch on the caller's stream, and a forward that returns before its side stream "
            "finishes hands back unfinished outputs"
        )


def _jit_run(self: Any, *args: Any, grid: Any, warmup: bool = False, **kwargs: Any) -> None:
    if warmup:
        return None
    _record_launch(self, args, grid, kwargs)
    return None


def _autotuner_run(self: Any, *args: Any, **kwargs: Any) -> None:
    recorder: PlanRecorder | None = getattr(_ACTIVE, "recorder", None)
    if recorder is None or recorder.call is None:
        raise RecordingError("a Triton kernel was launched outside a recorded forward")
    grid = kwargs.pop("grid")
    kwargs.pop("warmup", None)
    call = recorder.call
    if call.collector is not None:
        raise RecordingError("an autotuned kernel inside another autotuned kernel")
    call.collector = []
    try:
        for config in self.configs:
            options = {k: getattr(config, k) for k in LAUNCH_OPTIONS if getattr(config, k, None) is not None}
            self.fn.run(*args, grid=grid, warmup=False, **{**kwargs, **config.kwargs, **options})
        variants = call.collector
    finally:
        call.collector = None
    inner = self.fn if hasattr(self, "fn") else self
    recorder.add_step({"launch": _kernel_name(inner), "line": _kernel_line(inner), "variants": variants})


@contextlib.contextmanager
def recording_launches(recorder: PlanRecorder) -> Iterator[None]:
    """Replace the launch paths of Triton's kernel classes with recorders while the forward runs."""
    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import JITFunction

    classes: list[tuple[type, str, Any]] = [(JITFunction, "run", _jit_run), (Autotuner, "run", _autotuner_run)]
    try:
        from triton.runtime.interpreter import InterpretedFunction

        classes.append((InterpretedFunction, "run", _jit_run))
    except ImportError:  # pragma: no cover
        pass
    saved = [(cls, attr, cls.__dict__.get(attr)) for cls, attr, _ in classes]
    _ACTIVE.recorder = recorder
    for cls, attr, replacement in classes:
        setattr(cls, attr, replacement)
    try:
        yield
    finally:
        _ACTIVE.recorder = None
        for cls, attr, original in saved:
            if original is not None:
                setattr(cls, attr, original)


def state_values(model: torch.nn.Module, names: list[str]) -> dict[str, torch.Tensor]:
    """The real values of ``model``'s parameters/buffers named (the candidate's own initial values for
    entries the reference has no counterpart of)."""
    state = dict(model.named_parameters())
    state.update(dict(model.named_buffers()))
    return {n: state[n].detach() for n in names if n in state}
