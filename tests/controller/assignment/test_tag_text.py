"""Self-assign tags are hexadecimal: no letter may become a digit by changing its case."""

from __future__ import annotations

import pytest

from bodyworn.controller.assignment.service import AssignmentRefused, parse_tag


def test_a_tag_is_read_in_either_case() -> None:
    assert parse_tag("125kHz:01234abcde").key == parse_tag("01234ABCDE").key


@pytest.mark.parametrize("text", [
    "\ufb0000112233",  # "ﬀ" upper-cases to "FF": ten hex digits
    "125kHz:\ufb0000112233",
    "０１２３４５６７８９",
    "0123456789ǆ",
])
def test_non_ascii_letters_are_not_tag_digits(text: str) -> None:
    with pytest.raises(AssignmentRefused):
        parse_tag(text)
