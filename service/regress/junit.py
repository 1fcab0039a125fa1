"""JUnit XML for CI systems: one ``testcase`` per kernel.

``regressed`` is a ``failure`` (message: the reason), ``could_not_run`` an ``error``, ``skipped`` a
``skipped``; notes go to ``system-out``. A run that could not start is one ``error`` testcase, so the
CI page shows why rather than an empty report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from service.regress.render import new_text, recorded_text
from service.regress.results import KernelResult, RegressRun

SUITE_NAME = "kiln regress"


def _suite(root: ET.Element, cases: int, failures: int, errors: int, skipped: int, seconds: float) -> ET.Element:
    return ET.SubElement(
        root,
        "testsuite",
        name=SUITE_NAME,
        tests=str(cases),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{seconds:.3f}",
    )


def _case(suite: ET.Element, result: KernelResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"kiln.regress.{result.task_id}",
        name=f"{result.hardware_fingerprint} kernel {result.kernel_label}",
        time=f"{result.duration_s:.3f}",
    )
    detail = "\n".join(
        [
            f"task: {result.task_id}",
            f"hardware: {result.device_name} ({result.hardware_fingerprint})",
            f"kernel: {result.kernel_label}, origin {result.origin_label}",
            f"recorded: {recorded_text(result)}",
            f"new: {new_text(result)}",
            f"reason: {result.reason}",
            *(f"note: {note}" for note in result.notes),
            *([result.detail] if result.detail else []),
        ]
    )
    if result.outcome == "regressed":
        ET.SubElement(case, "failure", message=result.reason, type="regression").text = detail
    elif result.outcome == "could_not_run":
        ET.SubElement(case, "error", message=result.reason, type="could_not_run").text = detail
    elif result.outcome == "skipped":
        ET.SubElement(case, "skipped", message=result.reason)
    ET.SubElement(case, "system-out").text = detail


def junit_tree(run: RegressRun) -> ET.ElementTree:
    counts = run.counts()
    root = ET.Element("testsuites", name=SUITE_NAME)
    suite = _suite(
        root, len(run.results), counts["regressed"], counts["could_not_run"], counts["skipped"], run.duration_s
    )
    for result in run.results:
        _case(suite, result)
    return ET.ElementTree(root)


def setup_error_tree(message: str) -> ET.ElementTree:
    """A report for a run that could not start: one errored testcase carrying the message."""
    root = ET.Element("testsuites", name=SUITE_NAME)
    suite = _suite(root, 1, 0, 1, 0, 0.0)
    case = ET.SubElement(suite, "testcase", classname="kiln.regress", name="setup", time="0.000")
    ET.SubElement(case, "error", message=message, type="could_not_run").text = message
    return ET.ElementTree(root)


def write_tree(tree: ET.ElementTree, path: Path) -> None:
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
