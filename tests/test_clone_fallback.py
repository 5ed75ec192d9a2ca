# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The custom library's clone against a real dumb-HTTP mirror (a bare repository served as plain
files, `git update-server-info`): git cannot clone it shallow ("dumb http transport does not support
shallow capabilities"), so the step clones the same branch in full."""

import functools
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from provision.deepstream.custom_lib import TAO_APPS
from provision.runners.local import LocalRunner
from provision.capabilities.parser_lib import ParserSpec


def git(*args: str, cwd=None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (stdlib name)
        pass


def test_a_dumb_http_mirror_gets_a_full_clone(tmp_path):
    work, bare = tmp_path / "work", tmp_path / "srv" / "tao.git"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "README").write_text("parser sources\n")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "README", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one", cwd=work)
    git("clone", "-q", "--bare", str(work), str(bare))
    git("update-server-info", cwd=bare)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path / "srv")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tao.git"
        shallow = subprocess.run(["git", "clone", "--depth", "1", url, str(tmp_path / "shallow")], capture_output=True, text=True)
        assert shallow.returncode != 0 and "dumb http transport does not support shallow" in shallow.stderr
        spec = ParserSpec(TAO_APPS, url, "main", "12.2", "x86_64", "7.0", str(tmp_path / "build"))
        clone = spec.commands()[0]
        result = LocalRunner().run(clone)
        assert result.ok, result.stderr
        assert (tmp_path / "build").is_dir() and (tmp_path / "build" / spec.src.rsplit("/", 1)[-1] / "README").read_text() == "parser sources\n"
    finally:
        server.shutdown()
        server.server_close()
