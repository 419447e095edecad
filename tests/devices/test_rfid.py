"""The RFID reader and tag enrolment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bodyworn.devices.rfid import Host, RfidReader
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.led import AMBER, GREEN, OFF
from bodyworn.domain.rfid import EnrolmentError, Tag, TagEnrolment, TagFrequency

LF = Tag("0A1B2C3D4E", TagFrequency.LF_125KHZ)
HF = Tag("04A1B2C3D4E5F6", TagFrequency.HF_13_56MHZ)


@pytest.mark.parametrize(
    ("uid", "frequency"),
    [("0A1B2C3D4", TagFrequency.LF_125KHZ), ("0a1b2c3d4e", TagFrequency.LF_125KHZ),
     ("04A1B2", TagFrequency.HF_13_56MHZ)],
)
def test_malformed_tag_ids_are_refused(uid: str, frequency: TagFrequency) -> None:
    with pytest.raises(ValueError):
        Tag(uid, frequency)


def test_tag_key_names_frequency_and_id() -> None:
    assert LF.key == "125kHz:0A1B2C3D4E"
    assert Tag("04A1B2C3", TagFrequency.HF_13_56MHZ).uid == "04A1B2C3"


def test_first_plug_into_a_controller_takes_fifteen_seconds() -> None:
    clock = ManualClock()
    reader = RfidReader("rfid-1", clock)
    taps: list[Tag] = []
    assert reader.led == OFF and not reader.tap(LF)
    reader.plug_into(Host.CONTROLLER, taps.append)
    assert reader.led == AMBER
    assert not reader.tap(LF)
    clock.advance(timedelta(seconds=15))
    assert reader.led == GREEN
    assert reader.tap(LF) and reader.tap(HF)
    assert taps == [LF, HF]
    reader.unplug()
    reader.plug_into(Host.CONTROLLER, taps.append)
    assert reader.ready


def test_enrolment_on_a_computer_needs_repeated_taps_of_one_tag() -> None:
    clock = ManualClock()
    reader = RfidReader("rfid-1", clock)
    enrolment = TagEnrolment()
    reader.plug_into(Host.COMPUTER, enrolment)
    reader.tap(LF)
    reader.tap(LF)
    with pytest.raises(EnrolmentError):
        _ = enrolment.tag
    reader.tap(HF)
    assert enrolment.taps == 1
    reader.tap(HF)
    reader.tap(HF)
    assert enrolment.done and enrolment.tag == HF
