# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""JSON Schemas (https://json-schema.org/draft/2020-12) of the matrix/*.yml files.

Each leaf schema under $defs carries `x-message`: for the keyword that failed, the one line the
loader reports ({name}: the field, {value}: what it held, {type}: its Python type).
"""

from __future__ import annotations

from typing import Any

from provision.matrix.rows import ARCH_FLAGS, CAPABILITY, PLATFORMS, PRIMARY_SOURCE, OssGuide

_TEXT = "{name} must be a non-empty string, got {value!r}"
_LIST_TYPE = {"type": "{name} must be a list"}

DEFS: dict[str, Any] = {
    "text": {"type": "string", "pattern": r"\S", "x-message": {"type": _TEXT, "pattern": _TEXT}},
    "texts": {
        "type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
        "x-message": {k: "{name} must be a non-empty list of strings" for k in ("type", "minItems")},
    },
    "version": {
        "type": "string", "format": "version",
        "x-message": {"type": "{name} must be a quoted version string, got {value!r} ({type})",
                      "format": "{name} {value!r} is not a version"},
    },
    "versions": {
        "type": "array", "minItems": 1, "items": {"$ref": "#/$defs/version"},
        "x-message": {k: "{name} must be a non-empty list of versions" for k in ("type", "minItems")},
    },
    "flag": {"type": "boolean", "x-message": {"type": "{name} must be true or false, got {value!r}"}},
    "https": {
        "type": "string", "pattern": "^https://",
        "x-message": {"type": _TEXT, "pattern": "{name} must be an https:// URL, got {value!r}"},
    },
    "capability": {
        "type": "string", "pattern": CAPABILITY.pattern,
        "x-message": {"type": _TEXT, "pattern": "{name} {value!r} is not a compute capability like '8.7'"},
    },
    "quoted_capability": {
        "type": "string", "pattern": CAPABILITY.pattern,
        "x-message": {k: "{value!r} is not a quoted compute capability like '6.1'" for k in ("type", "pattern")},
    },
    "sm": {
        "type": "string", "pattern": r"^\d{2,3}$",
        "x-message": {k: "{value!r} is not a quoted two- or three-digit SM number" for k in ("type", "pattern")},
    },
    "platform": {
        "enum": list(PLATFORMS), "x-message": {"enum": f"platform {{value!r}} is not one of {', '.join(PLATFORMS)}"},
    },
    "sha256": {
        "type": "string", "pattern": "^[0-9a-f]{64}$",
        "x-message": {k: "{name} must be 64 lower-case hex digits" for k in ("type", "pattern")},
    },
    "sha1": {
        "type": "string", "pattern": "^[0-9a-f]{40}$",
        "x-message": {k: "{name} must be 40 lower-case hex digits" for k in ("type", "pattern")},
    },
}

# A row whose source is not the publisher's own page says why (`secondary`).
_SECONDARY = {
    "if": {"properties": {"source": {"type": "string", "not": {"pattern": PRIMARY_SOURCE.pattern}}},
           "required": ["source"]},
    "then": {"required": ["secondary"],
             "x-message": {"required": "source {value[source]} is not the publisher's own page:"
                                       " say so, and why, in `secondary`"}},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _row(required: dict[str, Any], optional: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    """A mapping with these fields and no others (`required` first: a missing field is reported
    before an unknown one). A row with a `source` may say it is `secondary`, and must where the
    source is not the publisher's own."""
    properties = required | (optional or {})
    rules = []
    if "source" in properties:
        properties |= {"secondary": {"$ref": "#/$defs/text"}}
        rules.append(_SECONDARY)
    if "if" in more:
        rules.append({"if": more.pop("if"), "then": more.pop("then")})
    return {
        "type": "object",
        "required": list(required),
        "additionalProperties": False,
        "properties": properties,
        **({"allOf": rules} if rules else {}),
        **more,
    }


def _file(**lists: dict[str, Any]) -> dict[str, Any]:
    """A document of top-level lists of rows."""
    return {
        "type": "object",
        "required": list(lists),
        "properties": {key: {"type": "array", "items": row, "x-message": _LIST_TYPE} for key, row in lists.items()},
    }


_VERSION, _TEXTS, _FLAG, _HTTPS = _ref("version"), _ref("text"), _ref("flag"), _ref("https")
# `caveat`: what is odd or unverified; `disputed`: other sources that say otherwise (the checker
# WARNs with both, naming each source)
_CAVEAT = {
    "caveat": _TEXTS,
    "disputed": {"type": "array", "minItems": 1, "x-message": {k: "disputed must be a non-empty list"
                                                               for k in ("type", "minItems")},
                 "items": {"type": "object", "required": ["says", "source"], "additionalProperties": False,
                           "properties": {"says": _TEXTS, "source": _HTTPS}}},
}

_SIZE = {"type": "integer", "minimum": 1,
         "x-message": {k: "size must be a positive integer, got {value!r}" for k in ("type", "minimum")}}
_ARCHIVE = _row({"version": _VERSION, "sha256": _ref("sha256"), "url": _HTTPS}, {"size": _SIZE})

FILES: dict[str, dict[str, Any]] = {
    "l4t.yml": _file(l4t=_row({"l4t": _VERSION, "jetpack": _VERSION, "source": _HTTPS}, {"preview": _FLAG} | _CAVEAT)),
    "jetpack.yml": _file(jetpack=_row(
        {name: _VERSION for name in ("version", "cuda", "cudnn", "tensorrt", "ubuntu", "python")}
        | {"source": _HTTPS},
        {"l4t": _VERSION, "preview": _FLAG,
         "tensorrt_also": _row({"versions": _ref("versions"), "source": _HTTPS})} | _CAVEAT,
    )),
    "deepstream.yml": _file(deepstream=_row(
        {"version": _VERSION, "python": _VERSION, "source": _HTTPS},
        {
            "jetson": _row({"jetpack": _ref("versions")}),
            "x86": _row({name: _VERSION for name in ("tensorrt", "cuda", "driver_min", "ubuntu")}),
            "pyds": _row({
                "tag": {"type": "string", "pattern": r"^v\d+(\.\d+)+$",
                        "x-message": {k: "tag {value!r} is not like 'v1.1.1'" for k in ("type", "pattern")}},
                "source": _HTTPS,
            }),
            "trt_oss": {
                "type": "object",
                "propertyNames": _ref("platform"),
                "additionalProperties": _row({
                    "guide": {"enum": [g.value for g in OssGuide],
                              "x-message": {"enum": f"guide must be one of {', '.join(g.value for g in OssGuide)}"}},
                    "source": _HTTPS,
                }),
            },
        } | _CAVEAT,
        anyOf=[{"required": ["jetson"]}, {"required": ["x86"]}],
        **{"x-message": {"anyOf": "needs a jetson or an x86 entry"}},
    )),
    "tensorrt_oss.yml": _file(
        gpu_arch_rules=_row(
            {"name": _TEXTS, "base": {"type": "array", "minItems": 1, "items": _ref("sm"),
                                      "x-message": {k: "base must be a non-empty list of SM numbers"
                                                    for k in ("type", "minItems")}},
             "source": _HTTPS},
            {"extra": {"type": "array", "items": _row({"sm": _ref("sm")},
                                                      {"platform": _ref("platform"), "cuda_min": _VERSION}),
                       "x-message": _LIST_TYPE},
             "default_cuda": _VERSION},
        ),
        refs=_row(
            {"tensorrt": _VERSION, "platforms": {"type": "array", "minItems": 1, "items": _ref("platform"),
                                                 "x-message": {k: "platforms must be a non-empty list of platforms"
                                                               for k in ("type", "minItems")}},
             "source": _HTTPS},
            {"ref": _TEXTS, "nvinfer_version": _VERSION, "gpu_arch_rule": _TEXTS, "reads_gpu_archs": _FLAG,
             "reason": _TEXTS, "arch_flag": {"enum": list(ARCH_FLAGS),
                                            "x-message": {"enum": f"arch_flag {{value!r}} is not one of "
                                                                  f"{', '.join(ARCH_FLAGS)}"}},
             "arch_note": _TEXTS, "cmake_minimum": _VERSION, "build_target": _TEXTS, "library": _TEXTS,
             "unsupported": _FLAG, "exact_tag": _FLAG,
             "cmake_readme": _row({"minimum": _VERSION, "source": _HTTPS}),
             "cmake_builds": {"type": "array", "x-message": _LIST_TYPE, "items": _row(
                 {"cmake": _VERSION, "ok": _FLAG, "date": _TEXTS, "command": _TEXTS, "log": _TEXTS})},
             } | _CAVEAT,
            # a row without a ref says why
            **{"if": {"not": {"required": ["ref"]}}, "then": {"required": ["reason"]}},
        ),
        plugins=_row({"name": _TEXTS, "since": _VERSION, "source": _HTTPS}, {"removed_in": _VERSION}),
    ),
    "prebuilt_plugins.yml": _row(
        {
            "repo": _TEXTS,
            "commit": {"type": "string", "pattern": "^[0-9a-f]{40}$",
                       "x-message": {k: "commit must be 40 lower-case hex digits" for k in ("type", "pattern")}},
            "source": _HTTPS,
            "libraries": {"type": "array", "x-message": _LIST_TYPE, "items": _row(
                {"platform": _ref("platform"), "tensorrt": _VERSION, "path": _TEXTS, "source": _HTTPS},
                {"sha256": _ref("sha256"), "git_blob": _ref("sha1"), "reason": _TEXTS,
                 "size": {"type": "integer", "minimum": 1,
                          "x-message": {k: "size must be a positive integer, got {value!r}" for k in ("type", "minimum")}}},
                # a library without a recorded sha256 says why
                **{"if": {"not": {"required": ["sha256"]}}, "then": {"required": ["reason"]}},
            )},
        },
    ),
    "devices.yml": _file(
        jetson=_row({"family": _TEXTS, "name": _TEXTS, "soc": _ref("texts"), "model_substrings": _ref("texts"),
                     "compute_capability": _ref("capability"), "source": _HTTPS}),
        gpus=_row({
            "token": {"type": "string", "pattern": "^[A-Za-z0-9]+( [A-Za-z0-9]+)*$",
                      "x-message": {k: "token {value!r} must be words of letters and digits, one space apart"
                                    for k in ("type", "pattern")}},
            "compute_capability": _ref("capability"),
            "source": _HTTPS,
        }),
    ),
    "precision.yml": _file(precisions=_row(
        {"name": _TEXTS, "source": _HTTPS},
        {"always": _FLAG, "capabilities": {"type": "array", "items": _ref("quoted_capability"),
                                           "x-message": _LIST_TYPE},
         "from": _VERSION},
        anyOf=[{"properties": {"always": {"const": True}}, "required": ["always"]},
               {"properties": {"capabilities": {"minItems": 1}}, "required": ["capabilities"]},
               {"required": ["from"]}],
        **{"x-message": {"anyOf": "needs always, capabilities or from"}},
    )),
    "cmake.yml": {
        "type": "object",
        "required": ["oss_build", "archives", "source_archives"],
        "properties": {
            "oss_build": _row({"minimum": _VERSION, "source": _HTTPS}),
            "archives": {"type": "array", "x-message": _LIST_TYPE, "items": _row(
                {"arch": {"enum": ["x86_64", "aarch64"],
                          "x-message": {"enum": "arch {value!r} is not x86_64 or aarch64"}}}
                | {k: _ARCHIVE["properties"][k] for k in _ARCHIVE["required"]},
                {"size": _SIZE},
            )},
            "source_archives": {"type": "array", "items": _ARCHIVE, "x-message": _LIST_TYPE},
        },
    },
}

# matrix/nvidia_stack.yml (provision/matrix/nvidia.py)
_PACKAGES = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9.+-]+$"},
             "x-message": {k: "{name} must be a non-empty list of Debian package names" for k in ("type", "minItems")}}


def _deb_version(pattern: str, like: str) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern,
            "x-message": {k: f"{{name}} {{value!r}} is not a Debian version like {like!r}" for k in ("type", "pattern")}}


_INSTALL = _row({"route": {"enum": ["deb"], "x-message": {"enum": "route must be deb"}},
                 "file": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._+-]*\.deb$",
                          "x-message": {k: "file {value!r} is not a .deb file name" for k in ("type", "pattern")}},
                 "url": _HTTPS, "package": _TEXTS, "version": _TEXTS})

FILES["nvidia_stack.yml"] = {
    "type": "object",
    "required": ["repository", "stacks", "l4t_repository", "jetson", "pci"],
    "additionalProperties": False,
    "properties": {
        "repository": _row({"url": {"type": "string", "pattern": r"^https://.*\{distro\}.*\{arch\}",
                                    "x-message": {k: "url must be an https:// URL with {{distro}} and {{arch}}"
                                                  for k in ("type", "pattern")}},
                            "keyring": _TEXTS,
                            "keyring_sha256": {"type": "object", "minProperties": 1,
                                               "additionalProperties": _ref("sha256"),
                                               "x-message": {k: "keyring_sha256 maps arch -> SHA-256"
                                                             for k in ("type", "minProperties")}},
                            "source": _HTTPS}),
        "stacks": {"type": "array", "x-message": _LIST_TYPE, "items": _row(
            {"deepstream": _VERSION, "platform": _ref("platform"), "ubuntu": _VERSION,
             "driver": _row({"branch": {"type": "string", "pattern": r"^\d{3}$",
                                        "x-message": {k: "branch {value!r} is not a quoted driver branch like '570'"
                                                      for k in ("type", "pattern")}},
                             "version": _VERSION}),
             "cuda": _VERSION,
             "tensorrt": _deb_version(r"^\d+\.\d+\.\d+\.\d+-\d+\+cuda\d+\.\d+$", "10.9.0.34-1+cuda12.8"),
             "tensorrt_packages": _PACKAGES,
             "install": _INSTALL,
             "system_packages": _PACKAGES,
             "source": _HTTPS},
            {"cudnn": _deb_version(r"^\d+\.\d+\.\d+\.\d+-\d+$", "9.20.0.48-1")} | _CAVEAT,
        )},
        "l4t_repository": _row({"url": _HTTPS, "key": _TEXTS,
                                "sources_list": {"type": "string", "pattern": r"^/etc/apt/sources\.list\.d/[a-z0-9._-]+\.list$",
                                                 "x-message": {k: "sources_list {value!r} is not a file in"
                                                               " /etc/apt/sources.list.d/" for k in ("type", "pattern")}},
                                "source": _HTTPS}),
        "jetson": {"type": "array", "x-message": _LIST_TYPE, "items": _row(
            {"deepstream": _VERSION, "jetpack": _VERSION, "l4t": _VERSION, "ubuntu": _VERSION,
             "components": _row({"version": _deb_version(r"^\d+\.\d+(\.\d+)?[+-]b\d+$", "6.1+b123"),
                                 "packages": _PACKAGES}),
             "cuda": _VERSION,
             "cudnn": _deb_version(r"^\d+\.\d+\.\d+\.\d+-\d+$", "9.3.0.75-1"),
             "tensorrt": _deb_version(r"^\d+\.\d+\.\d+\.\d+-\d+\+cuda\d+\.\d+$", "10.3.0.30-1+cuda12.5"),
             "tensorrt_packages": _PACKAGES,
             "install": _INSTALL,
             "system_packages": _PACKAGES,
             "source": _HTTPS},
            _CAVEAT,
        )},
        "pci": {
            "type": "object", "required": ["vendor", "classes", "pci_ids", "open_modules", "gpus"],
            "additionalProperties": False,
            "properties": {
                "vendor": {"const": "10de", "x-message": {"const": "vendor must be '10de' (NVIDIA)"}},
                "classes": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^03[0-9a-f]{2}$"},
                            "x-message": {k: "classes must list display classes like '0302'"
                                          for k in ("type", "minItems")}},
                "pci_ids": _HTTPS,
                "open_modules": _row({"minimum_capability": _ref("capability"), "source": _HTTPS}),
                "gpus": {"type": "array", "minItems": 1, "x-message": _LIST_TYPE, "items": _row(
                    {"device": {"type": "string", "pattern": "^[0-9a-f]{4}$",
                                "x-message": {k: "device {value!r} is not four lower-case hex digits"
                                              for k in ("type", "pattern")}},
                     "name": _TEXTS, "compute_capability": _ref("capability"), "source": _HTTPS})},
            },
        },
    },
}
