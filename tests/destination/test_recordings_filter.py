"""The evidence browser's filters match names whatever their case or Unicode form."""

from __future__ import annotations

import unicodedata

import pytest

from bodyworn.destination.recordings import Filters, Person, RecordingRow, _matches

ROW = RecordingRow("c", Person("u-1", "Åsa Öberg", "ÅÖ-17"),
                   Person("ACCC8E000001", "Straßenwache"), None, "Complete", 1)


@pytest.mark.parametrize(("filters", "hit"), [
    (Filters(user="åsa"), True),
    (Filters(user=unicodedata.normalize("NFD", "ÅSA ÖBERG")), True),
    (Filters(user="åö-17"), True),
    (Filters(camera="STRASSEN"), True),
    (Filters(user="asa"), False),
])
def test_filters_fold_case_and_form(filters: Filters, hit: bool) -> None:
    assert _matches(ROW, filters) is hit
