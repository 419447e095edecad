"""Imports every table of the controller so Base.metadata knows them all."""

from bodyworn.controller.accounts.models import Account, WebSession
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.destinations.models import ContentDestination
from bodyworn.controller.identity.models import SystemIdentity
from bodyworn.controller.outbox.models import CdPendingObject
from bodyworn.controller.profiles.models import ProfileRow
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.controller.users.models import BodyWornUser
from bodyworn.store.db import Base

__all__ = [
    "Account",
    "AuditEntry",
    "Base",
    "BodyWornUser",
    "CdPendingObject",
    "ContentDestination",
    "ProfileRow",
    "SystemIdentity",
    "SystemSettings",
    "WebSession",
]
