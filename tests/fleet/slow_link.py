# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A ProxyCommand for the fleet tests: `python slow_link.py HOST PORT GATE` relays stdin and stdout
to HOST:PORT; once the file GATE exists, what goes to the host passes at one byte every 2 s (a
link that barely moves, while the host itself is fine)."""

import os
import socket
import sys
import threading
import time


def main() -> None:
    host, port, gate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    link = socket.create_connection((host, port))

    def back() -> None:
        while data := link.recv(65536):
            os.write(1, data)
        os._exit(0)

    threading.Thread(target=back, daemon=True).start()
    while data := os.read(0, 1 if os.path.exists(gate) else 65536):
        link.sendall(data)
        if os.path.exists(gate):
            time.sleep(2)
    link.shutdown(socket.SHUT_WR)


if __name__ == "__main__":
    main()
