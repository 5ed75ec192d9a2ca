"""The plugin library's files on a host, and what the state file says is installed there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from provision.state import SAVED_DIR
from provision.steps.base import StepContext


@dataclass(frozen=True)
class PluginPaths:
    """Where the plugin library lives on the host."""

    lib_dir: str
    name: str  # the real file: libnvinfer_plugin.so.8.2.1

    @property
    def path(self) -> str:
        return f"{self.lib_dir}/{self.name}"

    @property
    def soname_link(self) -> str:  # libnvinfer_plugin.so.8
        return f"{self.lib_dir}/libnvinfer_plugin.so.{self.name.split('.so.')[1].split('.')[0]}"

    @property
    def dev_link(self) -> str:
        return f"{self.lib_dir}/libnvinfer_plugin.so"

    @property
    def saved(self) -> str:
        return f"{SAVED_DIR}/{self.name}"


def soname(library: Path) -> str | None:
    """The DT_SONAME of a shared library on the controller (None if it has none or is no ELF)."""
    try:
        with library.open("rb") as handle:
            for section in ELFFile(handle).iter_sections():
                if isinstance(section, DynamicSection):
                    return next((t.soname for t in section.iter_tags("DT_SONAME")), None)
    except (ELFError, OSError):
        return None
    return None


def installed_build(ctx: StepContext, p: PluginPaths) -> str | None:
    """The build key installed at `p` per the state file, if the file and link still say so."""
    plugin = ctx.state.get("plugin") or {}
    if not plugin.get("installed_sha256") or ctx.sha256(p.path) != plugin["installed_sha256"]:
        return None
    if ctx.resolved(p.soname_link) != p.path:
        return None
    return plugin.get("key")
