"""Password rules for manager accounts (NIST SP 800-63B: length and a blocklist, no composition)."""

from __future__ import annotations

from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 8
MAX_LENGTH = 128


@cache
def _common_passwords() -> frozenset[str]:
    words: list[str] = FREQUENCY_LISTS["passwords"]
    return frozenset(w.lower() for w in words)


def password_problems(password: str, username: str = "") -> list[str]:
    """Every rule the password breaks, in words for the user; empty when it is acceptable."""
    problems: list[str] = []
    length = len(password)
    if length < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters")
    if length > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in _common_passwords():
        problems.append("is on a list of commonly used passwords")
    elif username and lowered == username.lower():
        problems.append("must not be the user name")
    elif length >= MIN_LENGTH and len(set(password)) == 1:
        problems.append("must not repeat a single character")
    return problems
