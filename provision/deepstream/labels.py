# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A DeepStream labels file from a COCO annotation's `categories` (pure).

nvinfer reads one label per line, line N naming class id N. TAO DINO / Deformable DETR keep id 0
for the background ("The category_id from your COCO JSON file should start from 1 because 0 is set
as a background class ... num_classes should be set to max class_id + 1", TAO DINO docs:
https://docs.nvidia.com/tao/tao-toolkit/text/object_detection/dino.html), so their labels start
with `BG` and ids without a category leave a placeholder line; other models list the categories
in id order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from provision.errors import ProvisionError

BACKGROUND = "BG"
MAX_ID = 65535  # a label line per id up to the largest: bounds the file (COCO's own ids end at 90)
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\s]+")


def label_name(name: object) -> str:
    """A category name as one label line: control characters and runs of whitespace become one space."""
    return UNPRINTABLE.sub(" ", str(name)).strip()


@dataclass(frozen=True)
class Labels:
    names: tuple[str, ...]
    duplicates: tuple[str, ...] = field(default=())  # the first duplicated id, for the user
    duplicate_count: int = 0  # every duplicated category: a file with thousands gives one line, not thousands

    def duplicate_note(self) -> str | None:
        """One line for the user about duplicated ids, however many."""
        if not self.duplicates:
            return None
        more = self.duplicate_count - 1
        return f"duplicate category {self.duplicates[0]}" + (
            f" (and {more} more duplicated categor{'y' if more == 1 else 'ies'}, each id keeps its first name)" if more else "")

    @property
    def text(self) -> str:
        return "".join(f"{n}\n" for n in self.names)


def coco_labels(coco: dict[str, Any], background_first: bool) -> Labels:
    """Class names in id order; a duplicated id keeps its first name and is reported."""
    categories = coco.get("categories") if isinstance(coco, dict) else None
    if not isinstance(categories, list) or not categories:
        raise ProvisionError("the COCO annotation has no 'categories' list")
    by_id: dict[int, str] = {}
    duplicates: list[str] = []
    count = 0
    for position, category in enumerate(categories):
        if (not isinstance(category, dict) or not isinstance(category.get("id"), int) or isinstance(category["id"], bool)
                or not label_name(category.get("name") or "")):
            raise ProvisionError(f"categories[{position}] needs an integer 'id' and a 'name': {_short(repr(category))}")
        cid, name = category["id"], label_name(category["name"])
        if not 0 <= cid <= MAX_ID:
            raise ProvisionError(f"categories[{position}]: id {cid} is not between 0 and {MAX_ID}")
        if cid in by_id:
            if not duplicates:
                duplicates.append(f"id {cid} is used by {_short(by_id[cid])!r} and {_short(name)!r}: kept {_short(by_id[cid])!r}")
            count += 1
            continue
        by_id[cid] = name
    if background_first:
        if 0 in by_id:
            raise ProvisionError(f"id 0 ({by_id[0]!r}) is the background class of DINO-style models: ids start at 1")
        names = [BACKGROUND] + [by_id.get(i, f"unused_{i}") for i in range(1, max(by_id) + 1)]
    else:
        names = [by_id[i] for i in sorted(by_id)]
    return Labels(tuple(names), tuple(duplicates), count)


def _short(name: str, most: int = 80) -> str:
    return name if len(name) <= most else name[:most] + "..."
