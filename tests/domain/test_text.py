"""One folding of names for comparing them: case and Unicode form do not matter."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bodyworn.domain.text import fold


def test_fold_ignores_case_and_normal_form() -> None:
    assert fold("Öga") == fold("öga") == fold("ÖGA") == fold(unicodedata.normalize("NFD", "öga"))
    assert fold("Straße") == fold("STRASSE") == "strasse"
    assert fold("Öga") != fold("Oga")


@given(st.text(max_size=40))
def test_fold_is_idempotent_and_form_blind(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert fold(unicodedata.normalize("NFD", text)) == folded
    assert fold(unicodedata.normalize("NFC", text)) == folded
    assert unicodedata.is_normalized("NFC", folded)
