"""A throwaway PostgreSQL server for the test session: Debian's binaries, loopback only.

``initdb`` refuses to run as root, so when the tests run as root the cluster is
created and started as the ``postgres`` system user that Debian's package creates.
Fast-but-unsafe settings (fsync off) are fine for a cluster that dies with the run.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> str:
    override = os.environ.get("INVOICING_PG_BINDIR")
    candidates = [override] if override else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for bindir in candidates:
        if bindir and os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (apt-get install postgresql, or set INVOICING_PG_BINDIR)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: str
    datadir: str
    port: int
    run_as: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args[:1])} failed: {result.stderr or result.stdout}")

    @classmethod
    def start(cls) -> "PostgresServer":
        bindir = find_bindir()
        run_as = None
        base = tempfile.mkdtemp(prefix="invoicing-pg-")
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root but there is no 'postgres' user to run the server as")
            os.chown(base, user.pw_uid, user.pw_gid)
            run_as = "postgres"
        server = cls(bindir=bindir, datadir=os.path.join(base, "data"), port=free_port(), run_as=run_as)
        server._base = base
        server._run(
            os.path.join(bindir, "initdb"), "-D", server.datadir, "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--no-sync",
        )
        options = (
            f"-p {server.port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        server._run(
            os.path.join(bindir, "pg_ctl"), "-D", server.datadir, "-o", options,
            "-l", os.path.join(base, "server.log"), "-w", "start",
        )
        return server

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._base, ignore_errors=True)
