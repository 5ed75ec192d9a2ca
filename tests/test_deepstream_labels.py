# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Labels from COCO categories: id order, BG first for DINO-style models, duplicate ids reported."""

import pytest

from provision.deepstream.labels import coco_labels
from provision.errors import ProvisionError

# The shape of the TAO DINO DeepStream guide's example (person, face, bag; ids from 1), with id 2
# given twice as a hand-merged annotation file does (authored for this test).
CATEGORIES = {"categories": [
    {"supercategory": "person", "id": 1, "name": "person"},
    {"supercategory": "face", "id": 2, "name": "face"},
    {"supercategory": "bag", "id": 3, "name": "bag"},
    {"supercategory": "face", "id": 2, "name": "Face"},
]}


def test_dino_labels_bg_first_duplicate_reported():
    labels = coco_labels(CATEGORIES, background_first=True)
    assert labels.text == "BG\nperson\nface\nbag\n"
    assert labels.duplicates == ("id 2 is used by 'face' and 'Face': kept 'face'",)


def test_plain_labels_in_id_order_not_file_order():
    coco = {"categories": [{"id": 3, "name": "bag"}, {"id": 1, "name": "person"}, {"id": 2, "name": "face"}]}
    labels = coco_labels(coco, background_first=False)
    assert labels.names == ("person", "face", "bag") and labels.duplicates == ()


def test_gaps_keep_class_ids_for_dino():
    labels = coco_labels({"categories": [{"id": 1, "name": "a"}, {"id": 3, "name": "c"}]}, background_first=True)
    assert labels.names == ("BG", "a", "unused_2", "c")


@pytest.mark.parametrize("coco, message", [
    ({}, "no 'categories'"),
    ({"categories": [{"id": "1", "name": "a"}]}, "integer 'id'"),
    ({"categories": [{"id": 0, "name": "a"}]}, "background class"),
])
def test_bad_input_is_one_clear_error(coco, message):
    with pytest.raises(ProvisionError, match=message):
        coco_labels(coco, background_first=True)
