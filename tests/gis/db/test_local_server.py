"""The embedded cluster keeps its port across a stop and start, so clients can reconnect."""

from __future__ import annotations

import psycopg
import pytest

from tests.throwaway import throwaway_server


def test_restart_keeps_the_port_and_the_url() -> None:
    with throwaway_server() as server:
        url = server.url()
        # The server ends this session itself, so it closes first and its own port is left
        # with a socket in TIME_WAIT: the situation that used to move a restart to a new port.
        conn = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        conn.close()
        assert server.stop()
        assert not server.running()
        assert server.start() == url
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT postgis_version() IS NOT NULL").fetchone() == (True,)
