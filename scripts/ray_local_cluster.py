"""A Ray cluster on this machine for trying ``--executor ray`` without other hosts: every node binds
127.0.0.1 only, no dashboard, no usage statistics, small object stores.

    .venv/bin/python scripts/ray_local_cluster.py [--nodes 2] [--slots 1] [--port 6390]

prints the head's address (``127.0.0.1:PORT``) and runs until Ctrl-C or SIGTERM, then ends the
cluster's processes. Then, from another shell:

    .venv/bin/kiln serve --executor ray --ray-address 127.0.0.1:6390
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from service.executors.local_cluster import LoopbackCluster
from service.executors.ray_env import RESOURCE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1, help="simulated nodes (raylets), the head included")
    parser.add_argument(
        "--slots",
        type=int,
        default=1,
        help=f"verifying workers per node ({RESOURCE} units); 0: nodes that offer nothing to verify on "
        "(as a plain `ray start --head`)",
    )
    parser.add_argument("--port", type=int, default=6390, help="the head's GCS port on 127.0.0.1")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    offered = {RESOURCE: args.slots} if args.slots > 0 else {}
    cluster = LoopbackCluster([dict(offered) for _ in range(args.nodes)], port=args.port).start()
    print(cluster.address, flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
