"""A real PostgreSQL server for the tests: Debian's postgresql-15 binaries (initdb + pg_ctl) on a loopback port
with its own temporary data directory, started once per session. As root, the server runs as the `postgres`
user (initdb refuses root). `PostgresServer.start()` returns None with the reason when no server can start,
so the tests skip with that message instead of failing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

PG_BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir: Path, root: Path, port: int, as_user: str | None):
        self.bin_dir, self.root, self.port, self.as_user = bin_dir, root, port, as_user
        self.data = root / "data"
        self.base_url = f"postgresql://fincopilot@127.0.0.1:{port}"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self.as_user, "--", *cmd] if self.as_user else cmd

    @classmethod
    def start(cls) -> tuple[PostgresServer | None, str]:
        """(server, "") or (None, why it could not start)."""
        bin_dir = next((Path(d) for d in PG_BIN_DIRS if Path(d, "initdb").exists()), None)
        if bin_dir is None:
            return None, "PostgreSQL server binaries not found (apt-get install postgresql; .ci/setup does)"
        as_user = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="fincopilot-pg-"))
        if as_user:
            shutil.chown(root, as_user)
        server = cls(bin_dir, root, _free_port(), as_user)
        try:
            server._init_and_run()
        except (OSError, subprocess.CalledProcessError, TimeoutError) as err:
            detail = getattr(err, "stderr", "") or ""
            server.stop()
            return None, f"could not start PostgreSQL from {bin_dir}: {err} {detail}".strip()
        return server, ""

    def _init_and_run(self) -> None:
        subprocess.run(
            self._cmd(
                "initdb", "-D", str(self.data), "-U", "fincopilot", "-A", "trust", "--no-sync", "-E", "UTF8"
            ),
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c max_connections=200 -c full_page_writes=off"
        )
        subprocess.run(
            self._cmd(
                "pg_ctl",
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.root / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("PostgreSQL did not accept connections within 30 s")

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.base_url + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base_url}/{name}"

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.base_url + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"),
                check=False,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)
