"""The plan/run verification of Triton candidates (see verifier/plan_run.py)."""
