"""One replica of the server as a real process, for the replica tests and the bench: the real CopilotRunner and
API on a shared PostgreSQL state database ($FINCOPILOT_DATABASE_URL), whose model calls go to the scripted FAKE
gateway of tests/server_fakes.py (named as a fake; `delay_s` per model call lets a test kill it mid-run).

    python tests/replica_server.py PORT DELAY_S
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).parent))

from server_fakes import fake_runner

from fincopilot.server.app import DEFAULT_MODEL, create_app


def main() -> None:
    port, delay_s = int(sys.argv[1]), float(sys.argv[2])
    runner = fake_runner(Path(tempfile.mkdtemp()) / "unused.sqlite", delay_s=delay_s)
    uvicorn.run(
        create_app({DEFAULT_MODEL: runner}),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
