"""A misbehaving SMTP server on loopback, for what aiosmtpd will not do: accept a message
and then fail the QUIT, or keep a client waiting by dripping a never-ending greeting.

``RogueSMTP(mode)``: ``"quit_fails"`` speaks SMTP normally, accepts the message (250 after
DATA) and answers QUIT with ``421``; ``"drip"`` sends ``220-`` continuation lines every
``drip_every`` seconds for ``drip_for`` seconds, then closes (a client's per-read timeout
never fires). ``connections`` counts clients, ``accepted`` the messages taken.
"""

from __future__ import annotations

import socket
import threading
import time


class RogueSMTP:
    def __init__(self, mode: str, *, drip_every: float = 0.2, drip_for: float = 6.0) -> None:
        self.mode = mode
        self.drip_every, self.drip_for = drip_every, drip_for
        self.connections = 0
        self.accepted: list[bytes] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "RogueSMTP":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        try:
            with conn:
                if self.mode == "drip":
                    end = time.monotonic() + self.drip_for
                    while time.monotonic() < end and not self._stop.is_set():
                        conn.sendall(b"220-still thinking\r\n")
                        time.sleep(self.drip_every)
                    return
                self._converse(conn)
        except OSError:
            pass

    def _converse(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        conn.sendall(b"220 rogue ESMTP\r\n")
        while True:
            line = reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 rogue\r\n")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                conn.sendall(b"250 OK\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                data = []
                while (chunk := reader.readline()) not in (b".\r\n", b""):
                    data.append(chunk)
                self.accepted.append(b"".join(data))
                conn.sendall(b"250 2.0.0 queued as 1234\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"421 4.3.0 closing, something went wrong\r\n")
                return
            else:
                conn.sendall(b"502 no\r\n")
