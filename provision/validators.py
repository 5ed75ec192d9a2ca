# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checks of every `dsprov_*` setting and every flag (provision/options.py says which applies to which).

Values end up in shell commands (quoted), in git's argument lists and in the probe's output, so a
value must not be able to become an option (`--upload-pack=...` as a repository), a second line
(a newline that forges a probe section, a label or a config line) or a transport that runs
commands (git's `ext::`). Each check raises BadSetting, one line naming the setting.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit

from provision.cross.choice import BUILD_ON
from provision.errors import ProvisionError

# C0 and C1 controls and the Unicode line separators str.splitlines() also breaks at
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# git check-ref-format's rules (https://git-scm.com/docs/git-check-ref-format), plus no leading '-'
REF_FORBIDDEN = re.compile(r"[\s~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")
REPO_SCHEMES = ("https", "http", "ssh", "git", "file")
URL_SCHEMES = ("https", "http", "file")
SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:")  # user@host:path (git's scp-like syntax)
HELPER = re.compile(r"^[A-Za-z0-9+.-]+::")  # git's <transport>::<address> (remote helpers, e.g. ext::)
FILE_NAME = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9._+-]*$")
WORD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
ASCII_DIGITS = re.compile(r"[0-9]{1,18}")


class BadSetting(ProvisionError):
    """A setting or flag that would be unsafe or meaningless on a command line."""


def text(name: str, value: Any) -> str:
    """Any string value: no control character (newline, escape, NUL...)."""
    value = str(value)
    bad = CONTROL.search(value)
    if bad:
        raise BadSetting(f"{name}: control character {bad.group()!r} in {value!r}")
    return value


def no_option(name: str, value: Any) -> str:
    value = text(name, value)
    if not value:
        raise BadSetting(f"{name}: empty")
    if value.startswith("-"):
        raise BadSetting(f"{name}: {value!r} starts with '-' (it would be read as an option)")
    return value


def repo(name: str, value: Any) -> str:
    """A git repository: an http(s)/ssh/git/file URL, user@host:path or an absolute path."""
    value = no_option(name, value)
    if HELPER.match(value):
        raise BadSetting(f"{name}: {value!r} names a git remote helper (<transport>::address): not allowed")
    if "://" in value:
        # git percent-decodes a URL before it takes the host and user apart (connect.c,
        # parse_connect_url: url_decode), so `ssh://%2DoProxyCommand=...` reaches ssh as an
        # option: the decoded URL must pass the same checks.
        decoded = text(name, unquote(value))
        try:
            both = (urlsplit(value), urlsplit(decoded))
        except ValueError as exc:  # a bracketed host that is no IP address
            raise BadSetting(f"{name}: {value!r} is not a valid URL ({exc})") from None
        for parts in both:
            if parts.scheme.lower() not in REPO_SCHEMES:
                raise BadSetting(f"{name}: {value!r}: scheme {parts.scheme!r} is not one of {', '.join(REPO_SCHEMES)}")
            if (parts.hostname or "").startswith("-") or (parts.username or "").startswith("-"):
                raise BadSetting(f"{name}: {value!r}: a host or user starting with '-' (once decoded) would be read"
                                 " as an option")
    elif SCP_LIKE.match(value) and value.split("@", 1)[-1].startswith("-"):
        raise BadSetting(f"{name}: {value!r}: a host starting with '-' would be read as an option")
    elif not (value.startswith("/") or SCP_LIKE.match(value)):
        raise BadSetting(f"{name}: {value!r} is not a repository URL, user@host:path or absolute path")
    if " " in value:
        raise BadSetting(f"{name}: {value!r} contains a space")
    return value


def ref(name: str, value: Any) -> str:
    """A git branch or tag name (git check-ref-format's rules)."""
    value = no_option(name, value)
    if REF_FORBIDDEN.search(value) or value.endswith((".", "/")) or value.startswith("/") or value == "@":
        raise BadSetting(f"{name}: {value!r} is not a valid git branch or tag name")
    return value


def path(name: str, value: Any) -> str:
    """A path on the host: absolute, or under the login's home (`~` / `~/...`)."""
    value = no_option(name, value)
    if not (value.startswith("/") or value == "~" or value.startswith("~/")):
        raise BadSetting(f"{name}: {value!r} is not an absolute path")
    return value


def absolute_path(name: str, value: Any) -> str:
    """A path on the host that needs no shell to expand it."""
    value = no_option(name, value)
    if not value.startswith("/"):
        raise BadSetting(f"{name}: {value!r} is not an absolute path")
    return value


def url(name: str, value: Any) -> str:
    """A download URL (http, https, file) whose last part is a plain file name."""
    value = no_option(name, value)
    parts = urlsplit(value)
    if parts.scheme.lower() not in URL_SCHEMES or " " in value:
        raise BadSetting(f"{name}: {value!r} is not an http(s) or file URL")
    if not FILE_NAME.match(value.rsplit("/", 1)[-1]):
        raise BadSetting(f"{name}: {value!r} does not end in a plain file name")
    return value


def word(name: str, value: Any) -> str:
    """A name (plugin creator, architecture, model kind): letters, digits, `_.+-`."""
    value = no_option(name, value)
    if not WORD.match(value):
        raise BadSetting(f"{name}: {value!r} is not a plain name")
    return value


def sha256(name: str, value: Any) -> str:
    value = text(name, value)
    if not SHA256.match(value):
        raise BadSetting(f"{name}: {value!r} is not a SHA-256 (64 hex digits)")
    return value


def version(name: str, value: Any) -> str:
    from packaging.version import InvalidVersion, Version

    value = no_option(name, value)
    try:
        Version(value)
    except InvalidVersion:
        raise BadSetting(f"{name}: {value!r} is not a version") from None
    return value


def build_on(name: str, value: Any) -> str:
    """Where a plugin build happens: auto, controller or host (provision/cross/choice.py)."""
    value = word(name, value)
    if value not in BUILD_ON:
        raise BadSetting(f"{name}: {value!r} is not one of {', '.join(BUILD_ON)}")
    return value


ENGINE_CACHE = ("auto", "off")


def engine_cache(name: str, value: Any) -> str:
    """Whether engines are cached on the controller and copied to identical hosts: auto or off."""
    value = word(name, value)
    if value not in ENGINE_CACHE:
        raise BadSetting(f"{name}: {value!r} is not one of {', '.join(ENGINE_CACHE)}")
    return value


def boolean(name: str, value: Any) -> bool:
    """A flag: a bool, or Ansible's yes/no/true/false/1/0 spellings."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    spelled = text(name, value).strip().lower()
    if spelled in ("yes", "true", "on", "1", "y", "t"):
        return True
    if spelled in ("no", "false", "off", "0", "n", "f", ""):
        return False
    raise BadSetting(f"{name}: {value!r} is not true or false")


def whole_number(value: Any) -> int | None:
    """An int, or a string of ASCII digits, as an int; None for anything else (a bool, `²`, `1e3`, `-1`).
    str.isdigit() is not enough: it accepts superscripts and other digits that int() refuses."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and ASCII_DIGITS.fullmatch(value.strip()):
        return int(value)
    return None


def seconds(name: str, value: Any) -> int:
    number = whole_number(value)
    if number is None or not 1 <= number <= 86400:
        raise BadSetting(f"{name}: {value!r} is not a number of seconds (1-86400)")
    return number


def words(name: str, value: Any, each: Callable[[str, Any], Any]) -> list:
    """A list, or a comma/space separated string, each item checked."""
    if isinstance(value, str):
        value = [w for w in text(name, value).replace(",", " ").split() if w]
    if not isinstance(value, (list, tuple)):
        raise BadSetting(f"{name}: give a list, not {type(value).__name__}")
    return [each(f"{name}[{i}]", v) for i, v in enumerate(value)]


def _record(fields: Mapping[str, Callable[[str, Any], Any]], required: tuple[str, ...] = ()):
    def check(name: str, value: Any) -> dict:
        if not isinstance(value, dict):
            raise BadSetting(f"{name}: give a mapping with {', '.join(fields)}")
        missing = [k for k in required if value.get(k) in (None, "")]
        if missing:
            raise BadSetting(f"{name}: needs {', '.join(missing)}")
        for key, item in value.items():
            if key in fields and item is not None:
                fields[key](f"{name}.{key}", item)
            else:
                walk(f"{name}.{key}", item)
        return value

    return check


def _count(low: int, high: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        number = whole_number(value)
        if number is None or not low <= number <= high:
            raise BadSetting(f"{name}: {value!r} is not a whole number from {low} to {high}")
        return number

    return check


def _dims(name: str, value: Any) -> str:
    value = text(name, value)
    if not re.fullmatch(r"[0-9]{1,5}(;[0-9]{1,5}){2}", value):
        raise BadSetting(f"{name}: {value!r} is not C;H;W (e.g. 3;544;960)")
    return value


batch_size = _count(1, 1024)  # a batch: the number of streams a primary model serves
byte_size = _count(1, 1 << 40)  # a download's expected size in bytes
ARCHIVE = {"arch": word, "version": version, "url": url, "sha256": sha256, "size": byte_size}
MODEL = {
    "kind": word, "onnx": path, "coco": no_option, "config": path, "labels": path, "custom_lib_path": path,
    "int8_calib_file": path, "precision": word, "batch_size": batch_size, "gpu_id": _count(0, 63),
    "infer_dims": _dims, "parser": word,
}
PREBUILT = {"platform": word, "tensorrt": version, "sha256": sha256, "path": no_option}
# the records of provision/options.py's Settings
CMAKE_ARCHIVE = _record(ARCHIVE, ("arch", "version", "url", "sha256"))
CMAKE_SOURCE = _record({k: ARCHIVE[k] for k in ("version", "url", "sha256", "size")}, ("version", "url", "sha256"))
MODEL_RECORD = _record(MODEL, ("kind", "onnx", "coco", "config"))
FORKS = _count(1, 1000)  # hosts worked on at once (provision/options.py's Flags.forks)
SEARCH_MAX_FILES = _count(1, 10_000_000)  # dsprov_engine_search_max_files
records_kept = _count(1, 10000)  # run records kept per host (provision/fleet_report/records.py)
PREBUILT_PINS = _record({
    "commit": word,
    "libraries": lambda n, v: words(n, v, _record(PREBUILT, ("platform", "tensorrt", "sha256", "path"))),
}, ("commit", "libraries"))


def walk(name: str, value: Any) -> None:
    """No control character anywhere in a value (strings inside lists and mappings included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            text(f"{name} key", key)
            walk(f"{name}.{key}", item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            walk(f"{name}[{index}]", item)
    elif isinstance(value, str):
        text(name, value)
