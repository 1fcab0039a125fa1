"""Code that runs inside sandbox workers: the reference runner and the candidate harness.

Nothing here runs in the trusted parent. Entry point: ``python -m verifier.worker ROLE REQ_FD RES_FD``.
"""
