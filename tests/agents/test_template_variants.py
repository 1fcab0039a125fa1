"""A template's tuning profiles that emit the same kernel are verified once (issue 23)."""

from __future__ import annotations

import agents
from agents.template import plan_template, without_profile_name
from verifier import VerifyOptions


def test_profiles_emitting_the_same_kernel_become_one_candidate() -> None:
    from agents.template.tuning import profiles_for

    reference = agents.reference_for_task("general.softmax", "cpu")
    plan = plan_template(reference, VerifyOptions(device="cpu"))
    variants = plan.variants("cuda")
    keys = [without_profile_name(source) for source, _ in variants]
    assert len(keys) == len(set(keys)), "two candidates differ only in the profile's name"
    # profiles with the same settings for the groups this plan's kernels use give one kernel each
    groups = plan.kernel_groups()
    settings: dict[str, list[str]] = {}
    for name, profile in profiles_for("cuda").items():
        settings.setdefault(repr(sorted((k, v) for k, v in profile.items() if k in groups)), []).append(name)
    assert len(variants) == len(settings)
    named = {p["profile"]: [p["profile"], *p.get("same_as", [])] for _, p in variants}
    assert sorted(named.values()) == sorted(settings.values())


def test_without_profile_name_drops_only_the_profile_line() -> None:
    a = '"""Kernel.\n\nTuning profile \'small_tiles\'. Every value...\n"""\nx = 1\n'
    b = a.replace("small_tiles", "wide_rows")
    assert without_profile_name(a) == without_profile_name(b)
    assert without_profile_name(a) != without_profile_name(a.replace("x = 1", "x = 2"))
