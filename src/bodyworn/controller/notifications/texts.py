"""What each notification mail says (English msgids; the Swedish catalog translates them).

A mail is written in the system's language when it is queued, so what is sent is what was
decided at the time of the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from bodyworn.i18n.catalog import translations

CONTENT_DESTINATION = "content_destination"
STORAGE = "storage"
BACKUP = "backup"
EXTENSION = "extension:"  # + the extension controller's name


@dataclass(frozen=True)
class Wording:
    """The subject and first line of a problem's two mails; `{name}` is filled in."""

    started: str
    started_line: str
    cleared: str
    cleared_line: str


WORDING: dict[str, Wording] = {
    CONTENT_DESTINATION: Wording(
        "Lost connection to content destination",
        "The system lost its connection to the content destination. Recordings stay on the "
        "system controllers and cameras until it is back.",
        "Connection to content destination restored",
        "The system is connected to the content destination again.",
    ),
    EXTENSION: Wording(
        "Lost connection to extension system controller {name}",
        "The system lost its connection to the extension system controller {name}.",
        "Connection to extension system controller {name} restored",
        "The extension system controller {name} is connected again.",
    ),
    STORAGE: Wording(
        "System controller storage space is low",
        "The system controller's storage space is low. Cameras may not be able to offload "
        "their recordings.",
        "System controller storage space is no longer low",
        "The system controller has enough storage space again.",
    ),
    BACKUP: Wording(
        "Failed to synchronize system backup",
        "The system backup could not be synchronized.",
        "System backup synchronized again",
        "The system backup was synchronized again.",
    ),
}

TEST_SUBJECT = "Test email from {system}"
TEST_BODY = ("This is a test email from the body worn system {system}. Notifications about "
             "critical system events will be sent to this address.")
WHEN = "When: {when}"
DETAIL = "Details: {detail}"
FOOTER = ("You receive this email because this address is set under Settings > Email "
          "notifications of the body worn system {system}.")


def wording(problem_key: str) -> tuple[Wording, str]:
    """The wording of a problem and the name it is about (an extension's), or ''."""
    if problem_key.startswith(EXTENSION):
        return WORDING[EXTENSION], problem_key[len(EXTENSION):]
    return WORDING[problem_key], ""


def problem_mail(problem_key: str, active: bool, *, system: str, when: str, detail: str,
                 language: str) -> tuple[str, str]:
    """Subject and body of the mail saying a problem started (active) or cleared."""
    tr = translations(language).gettext
    words, name = wording(problem_key)
    subject = tr(words.started if active else words.cleared).format(name=name)
    lines = [tr(words.started_line if active else words.cleared_line).format(name=name), "",
             tr(WHEN).format(when=when)]
    if detail:
        lines.append(tr(DETAIL).format(detail=detail))
    lines += ["", tr(FOOTER).format(system=system)]
    return f"[{system}] {subject}", "\n".join(lines) + "\n"


def test_mail(*, system: str, language: str) -> tuple[str, str]:
    """Subject and body of the test mail."""
    tr = translations(language).gettext
    return (f"[{system}] " + tr(TEST_SUBJECT).format(system=system),
            tr(TEST_BODY).format(system=system) + "\n")


def all_msgids() -> list[str]:
    """Every msgid a mail may use (the catalog test checks each has a translation)."""
    found = [TEST_SUBJECT, TEST_BODY, WHEN, DETAIL, FOOTER]
    for w in WORDING.values():
        found += [w.started, w.started_line, w.cleared, w.cleared_line]
    return found
