"""Reference worker: runs the (semi-trusted) reference op and returns trial data to the parent.

For every trial it seeds all generators, applies the shape configuration and builds the model
(fresh parameters); then, for every call of the trial, it draws fresh inputs under their own seed
and computes the outputs. The parent forwards parameters and inputs (never outputs) to the
candidate's separate process and keeps the outputs for its own comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from verifier.hostinfo import describe_host
from verifier.worker import timing
from verifier.worker.call_budget import CallBudget
from verifier.worker.loading import apply_overrides, as_list, load_module, seed_everything, to_device
from verifier.worker.protocol import Reporter


def _run_inputs(
    module: Any, model: torch.nn.Module, input_seed: int, device: str, backward: dict[str, Any] | None = None
) -> tuple[list[Any], Any, dict[str, Any] | None]:
    """Fresh inputs from ``get_inputs()`` under ``input_seed``, and the model's outputs on them (on the
    host). With ``backward`` (``{"grad_inputs": [...] | None}``) a training call instead: inputs with
    the ``grad_output``s appended, outputs with the gradients, and the call's layout
    (:func:`verifier.backward.training_call`)."""
    seed_everything(input_seed)
    inputs = as_list(module.get_inputs())
    if backward is not None:
        from verifier.backward import training_call

        chosen = backward.get("grad_inputs")
        call_inputs, outputs, layout = training_call(
            model, inputs, to_device(inputs, device), None if chosen is None else tuple(chosen), input_seed
        )
        if device == "cuda":
            torch.cuda.synchronize()
        return call_inputs, outputs, layout.to_dict()
    with torch.no_grad():
        outputs = model(*to_device(inputs, device))
    if device == "cuda":
        torch.cuda.synchronize()
    return inputs, to_device(outputs, "cpu"), None


def run(request: dict[str, Any], reporter: Reporter, scratch: Path) -> None:
    device = request["device"]
    reporter.send("hello", {"environment": describe_host(device)})
    if device == "cuda":  # outputs judged against in float32 (timing pins the baseline's own precision)
        from verifier import precision

        precision.pin(precision.EXACT)
    budget = CallBudget(request.get("memory_budget_bytes"))  # the parent keeps what is sent: bounded
    reporter = budget.wrap(reporter)  # type: ignore[assignment]
    try:
        module = load_module(request["source"], "kiln_reference", scratch)
        for name in ("Model", "get_inputs", "get_init_inputs"):
            if not hasattr(module, name):
                raise AttributeError(
                    f"the reference defines no `{name}` (KernelBench format needs Model, "
                    "get_inputs and get_init_inputs)"
                )
    except BaseException as e:
        reporter.error("load", e)
        return

    # One frame per call, sent as soon as it is computed and then dropped: the process never holds
    # more than one call's inputs and outputs (realistic shapes are GiBs a call).
    first: tuple[torch.nn.Module, list[Any]] | None = None
    backward = {"grad_inputs": request.get("grad_inputs")} if request.get("mode") == "backward" else None
    first_layout: dict[str, Any] | None = None
    for index, trial in enumerate(request["trials"]):
        if budget.refused:  # no call of this trial would be kept
            break
        try:
            apply_overrides(module, trial.get("overrides", {}))
            seed_everything(trial["seed"])
            init = as_list(module.get_init_inputs())
            model = module.Model(*init)
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model = model.to(device).eval()
            reporter.send("trial", {"index": index}, {"init": init, "state": state})
            del state
            for call, seed in enumerate(trial["input_seeds"]):
                if not budget.fits():
                    break
                inputs, outputs, layout = _run_inputs(module, model, seed, device, backward)
                header: dict[str, Any] = {"index": index, "call": call}
                if layout is not None:
                    header["backward"] = layout
                reporter.send("call", header, {"inputs": inputs, "outputs": outputs})
                if index == 0 and call == 0:
                    first = (model, to_device(inputs, device))
                    first_layout = layout
                del inputs, outputs
        except BaseException as e:
            reporter.error("trial", e, index=index, shape=trial.get("shape", ""))
            return
        if index == 0:
            try:
                for set_index, seed in enumerate(request.get("timing_input_seeds") or []):
                    if not budget.fits():
                        break
                    inputs, outputs, set_layout = _run_inputs(module, model, seed, device, backward)
                    header = {"set": set_index} if set_layout is None else {"set": set_index, "backward": set_layout}
                    reporter.send("timing_set", header, {"inputs": inputs, "outputs": outputs})
                    del inputs, outputs
            except BaseException as e:
                reporter.error("trial", e, index=index, shape=trial.get("shape", ""))
                return

    timing_request = request.get("timing")
    if timing_request and device == "cuda" and first is not None:
        model, device_inputs = first
        if first_layout is not None:
            from verifier.worker.backward_timing import time_training_step

            result = time_training_step(model, device_inputs, first_layout, timing_request)
        else:
            result = timing.time_reference(model, device_inputs, timing_request)
        reporter.send("timing", result)
    reporter.send("done")
