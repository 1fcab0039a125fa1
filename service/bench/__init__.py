"""``kiln bench`` and ``kiln tasks import``: KernelBench-style campaigns over a suite of tasks.

- ``suite``: persist KernelBench problems as store tasks; choose a run's tasks;
- ``runner``: run a generator over the tasks, storing every candidate and verdict as it happens;
- ``executors``: where tasks run (``local`` threads; the seam for a cluster executor);
- ``summary``: fast_p, geometric-mean speedup and the ``--json`` object.
"""
