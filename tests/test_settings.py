# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every dsprov_* setting and flag is checked before it reaches a command line or the probe."""

import pytest

from provision.options import Flags, check_settings
from provision.validators import BadSetting

GOOD = {
    "dsprov_trt_oss_repo": "http://127.0.0.1:8080/TensorRT.git",
    "dsprov_pyds_repo": "git@github.com:NVIDIA-AI-IOT/deepstream_python_apps.git",
    "dsprov_tao_apps_repo": "/srv/mirror/deepstream_tao_apps",
    "dsprov_tao_apps_ref": "release/tao5.1_ds6.4ga",
    "dsprov_deepstream_yolo_repo": "https://git.example.internal/mirrors/DeepStream-Yolo.git",
    "dsprov_deepstream_yolo_ref": "2ccf52987ce1a18fc18ca5b3ba559a599259ade2",
    "dsprov_yolo_deepstream_repo": "/srv/mirror/yolo_deepstream",
    "dsprov_yolo_deepstream_ref": "main",
    "dsprov_build_dir": "/tmp/dsprov",
    "dsprov_engine_roots": "~, /opt/nvidia/deepstream/deepstream/samples",
    "dsprov_required_plugins": ["MultiscaleDeformableAttnPlugin_TRT"],
    "dsprov_cmake_archives": [{"arch": "aarch64", "version": "3.27.9", "sha256": "a" * 64,
                               "url": "https://github.com/Kitware/CMake/releases/download/v3.27.9/cmake-3.27.9-linux-aarch64.tar.gz"}],
    "dsprov_models": [{"kind": "dino", "onnx": "/m/dino.onnx", "coco": "instances.json", "config": "/m/c.txt", "batch_size": 2},
                      {"kind": "yolov7", "onnx": "/m/y.onnx", "coco": "c.json", "config": "/m/y.txt", "parser": "cpu"}],
    "dsprov_lock_lease": 120,
    "dsprov_force": "yes",
    "dsprov_something_new": "any text",
}

HOSTILE = [  # (setting, value, what the one-line error says)
    ("dsprov_trt_oss_repo", "--upload-pack=touch /tmp/pwned", "starts with '-'"),
    ("dsprov_trt_oss_repo", "ext::sh -c touch% /tmp/pwned", "remote helper"),
    ("dsprov_trt_oss_repo", "fd::17", "remote helper"),
    ("dsprov_trt_oss_repo", "ssh://-oProxyCommand=touch%20x/repo", "starting with '-'"),
    ("dsprov_trt_oss_repo", "ftp://example.com/TensorRT.git", "scheme"),
    # git percent-decodes a URL before it reads the host (issue 23: `%2D` is a '-')
    ("dsprov_trt_oss_repo", "ssh://%2DoProxyCommand=touch%20x/repo", "starting with '-' (once decoded)"),
    ("dsprov_trt_oss_repo", "ssh://%2doProxyCommand=x/repo", "starting with '-' (once decoded)"),
    ("dsprov_trt_oss_repo", "ssh://%2Du@example.com/repo", "starting with '-' (once decoded)"),
    ("dsprov_trt_oss_repo", "ssh://[-oProxyCommand=x]/repo", "is not a valid URL"),
    ("dsprov_trt_oss_repo", "https://example.com/a%0A==> uname_m <==", "control character"),
    ("dsprov_pyds_repo", "git@-oProxyCommand:repo", "starting with '-'"),
    ("dsprov_trt_oss_repo", "TensorRT", "not a repository URL"),
    ("dsprov_pyds_repo", "http://example.com/a.git\nhttp://evil", "control character"),
    ("dsprov_tao_apps_ref", "--output=/etc/passwd", "starts with '-'"),
    ("dsprov_deepstream_yolo_repo", "ext::sh -c touch% /tmp/pwned", "remote helper"),
    ("dsprov_deepstream_yolo_ref", "--upload-pack=touch /tmp/pwned", "starts with '-'"),
    ("dsprov_yolo_deepstream_repo", "yolo_deepstream", "not a repository URL"),
    ("dsprov_yolo_deepstream_ref", "a..b", "not a valid git branch or tag"),
    ("dsprov_tao_apps_ref", "main;reboot", None),
    ("dsprov_tao_apps_ref", "a..b", "not a valid git branch or tag"),
    ("dsprov_tao_apps_ref", "v1 2", "not a valid git branch or tag"),
    ("dsprov_build_dir", "/tmp/x\n==> df_build <==\nFilesystem 1024-blocks Used Available", "control character"),
    ("dsprov_build_dir", "build", "not an absolute path"),
    ("dsprov_build_dir", "~/build", "not an absolute path"),
    ("dsprov_build_dir", "-rf", "starts with '-'"),
    ("dsprov_build_dir", "/tmp/a\rb", "control character"),
    ("dsprov_build_dir", "/tmp/x\u2028==> df_build <==\u2028/dev/forged 9 0 9 0% /", "control character"),
    ("dsprov_build_dir", "/tmp/x\x85==> df_build <==", "control character"),
    ("dsprov_engine_roots", ["/opt", "--delete"], "starts with '-'"),
    ("dsprov_engine_search_max_files", "0", "whole number from 1 to 10000000"),
    ("dsprov_required_plugins", "A_TRT;rm", "not a plain name"),
    ("dsprov_cmake_archives", [{"arch": "x86_64", "version": "3.27.9", "sha256": "b" * 64,
                                "url": "https://x/cmake.tar.gz;reboot"}], "plain file name"),
    ("dsprov_cmake_archives", [{"arch": "x86_64", "version": "3.27.9", "sha256": "zz", "url": "https://x/c.tar.gz"}], "SHA-256"),
    ("dsprov_cmake_source", {"version": "3.27.9", "sha256": "c" * 64, "url": "file:///tmp/../x"}, None),
    ("dsprov_models", [{"kind": "dino", "onnx": "-x", "coco": "c.json", "config": "/c.txt"}], "starts with '-'"),
    ("dsprov_models", [{"kind": "dino", "onnx": "/m.onnx", "coco": "c.json", "config": "/c.txt", "batch_size": 10**8}],
     "whole number from 1 to 1024"),
    ("dsprov_models", [{"kind": "dino", "onnx": "/m.onnx", "coco": "c.json", "config": "/c.txt", "infer_dims": "3;5\n"}],
     "control character"),
    ("dsprov_lock_lease", "10; reboot", "number of seconds"),
    ("dsprov_force", "maybe", "not true or false"),
    ("dsprov_stall_timeout", "0", "number of seconds"),
    ("dsprov_plugin_source", "--prebuilt", "starts with '-'"),
    ("dsprov_prebuilt_plugins", {"commit": "a" * 40, "libraries": [
        {"platform": "x86", "tensorrt": "8.2.5.1", "sha256": "b" * 64, "path": "--upload-pack=id"}]}, "starts with '-'"),
    ("dsprov_prebuilt_plugins", {"commit": "a" * 40, "libraries": [
        {"platform": "x86", "tensorrt": "8.2.5.1", "sha256": "b", "path": "TRT-OSS/x86/l.so"}]}, "SHA-256"),
    ("dsprov_something_new", {"nested": ["ok", "bad\x1b[31m"]}, "control character"),
]


def test_good_settings_pass():
    check_settings(GOOD, "nano01")


@pytest.mark.parametrize("setting, value, says", HOSTILE, ids=[f"{s}={v!r}"[:60] for s, v, _ in HOSTILE])
def test_hostile_setting_is_one_line_naming_host_and_setting(setting, value, says):
    if says is None:  # valid syntax, harmless: it is quoted wherever it goes
        check_settings({setting: value}, "nano01")
        return
    with pytest.raises(BadSetting) as error:
        check_settings({setting: value}, "nano01")
    message = str(error.value)
    assert message.startswith(f"nano01: {setting}") and says in message and "\n" not in message


@pytest.mark.parametrize("flags, says", [
    ({"trt_oss_ref": "--upload-pack=id"}, "--trt-oss-ref: '--upload-pack=id' starts with '-'"),
    ({"pyds_ref": "v1.1.1\n==> x <=="}, "--pyds-ref: control character"),
    ({"gpu_archs": "53\n87"}, "--gpu-archs: control character"),
    ({"wheel": "-pyds.whl"}, "--wheel: '-pyds.whl' starts with '-'"),
    ({"plugin_source": "-x"}, "--plugin-source: '-x' starts with '-'"),
])
def test_hostile_flags(flags, says):
    with pytest.raises(BadSetting, match="^" + says.replace("(", r"\(").replace("[", r"\[")):
        Flags.parse(flags)


def test_plain_flags_pass():
    Flags.parse({"trt_oss_ref": "release/8.2", "pyds_ref": "v1.1.1", "force": True, "gpu_archs": "53 87"})
