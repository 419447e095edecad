"""Imports every table of the controller so Base.metadata knows them all."""

from bodyworn.controller.accounts.models import Account, WebSession
from bodyworn.controller.assignment.models import (
    AssignmentSettings,
    HolsterPairing,
    SelfAssignment,
    SelfAssignTag,
)
from bodyworn.controller.assistant_pairing.models import AssistantPairingRow
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.backup.models import BackupSettings
from bodyworn.controller.cameras.models import CameraRow
from bodyworn.controller.certificates.models import CertificateRow
from bodyworn.controller.destinations.models import ContentDestination
from bodyworn.controller.docks.models import DockingStationRow
from bodyworn.controller.firmware.models import FirmwareInstall
from bodyworn.controller.identity.models import SystemIdentity
from bodyworn.controller.integrity.models import AuditAnchor, CameraCertificate, IntegrityState
from bodyworn.controller.metrics.models import MetricTotal
from bodyworn.controller.notifications.models import (
    NotificationProblem,
    NotificationSettings,
    QueuedMail,
)
from bodyworn.controller.offload.models import OffloadClip, OffloadRecording
from bodyworn.controller.outbox.models import CdPendingObject
from bodyworn.controller.profiles.models import ProfileRow
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.controller.tokens.models import ApiToken
from bodyworn.controller.users.models import BodyWornUser
from bodyworn.store.db import Base

__all__ = [
    "Account",
    "ApiToken",
    "AssignmentSettings",
    "AssistantPairingRow",
    "AuditAnchor",
    "AuditEntry",
    "BackupSettings",
    "Base",
    "BodyWornUser",
    "CameraCertificate",
    "CameraRow",
    "CdPendingObject",
    "CertificateRow",
    "ContentDestination",
    "DockingStationRow",
    "FirmwareInstall",
    "HolsterPairing",
    "IntegrityState",
    "MetricTotal",
    "NotificationProblem",
    "NotificationSettings",
    "OffloadClip",
    "OffloadRecording",
    "ProfileRow",
    "QueuedMail",
    "SelfAssignTag",
    "SelfAssignment",
    "SystemIdentity",
    "SystemSettings",
    "WebSession",
]
