"""JSON twins of Settings → Certificates."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from bodyworn.controller.certificates import service
from bodyworn.controller.certificates.service import Subject
from bodyworn.controller.web.params import RowIdPath
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1/certificates", tags=["certificates"])
MISSING = "no such certificate"


class SubjectBody(BaseModel):
    """Subject values and the host names / IP addresses the certificate is for."""

    model_config = ConfigDict(extra="forbid")
    common_name: str = Field(max_length=64)
    organization: str = Field(default="", max_length=64)
    organizational_unit: str = Field(default="", max_length=64)
    locality: str = Field(default="", max_length=64)
    state: str = Field(default="", max_length=64)
    country: str = Field(default="", max_length=2)
    hosts: list[str] = Field(max_length=32)

    def subject(self) -> Subject:
        """As the service takes it."""
        return Subject(self.common_name.strip(), self.organization.strip(),
                       self.organizational_unit.strip(), self.locality.strip(),
                       self.state.strip(), self.country.strip().upper(),
                       tuple(h.strip() for h in self.hosts if h.strip()))


class CreateBody(SubjectBody):
    """A self-signed certificate to make."""

    name: str = Field(max_length=service.NAME_MAX)
    key_type: str = Field(default="ecdsa-p256", max_length=16)
    days: int = Field(default=365, ge=1, le=service.DAYS_MAX)


class CsrBody(BaseModel):
    """The subject of a signing request (left out: the certificate's own)."""

    model_config = ConfigDict(extra="forbid")
    subject: SubjectBody | None = None


class CertificateInfo(BaseModel):
    """A certificate as listed (never its key)."""

    id: int
    name: str
    origin: str
    active: bool
    subject: str
    issuer: str
    key_type: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    chain_pem: str


class CsrInfo(BaseModel):
    """A signing request to hand to a certificate authority."""

    csr: str
    filename: str


def _info(row: object) -> CertificateInfo:
    return CertificateInfo.model_validate({k: getattr(row, k)
                                           for k in CertificateInfo.model_fields})


def _list(session: Session) -> list[CertificateInfo]:
    return [_info(r) for r in service.certificates(session)]


def _one(session: Session, cert_id: int) -> CertificateInfo:
    return _info(service.get(session, cert_id))


@router.get("", response_model=list[CertificateInfo])
async def list_certificates(request: Request) -> list[CertificateInfo]:
    """Every certificate, Default first."""
    return await run(request).read(_list)


@router.post("", response_model=CertificateInfo, status_code=201)
async def create_certificate(request: Request, body: CreateBody) -> CertificateInfo:
    """Create a self-signed certificate with a new key."""
    row = await run(request).write(service.create_self_signed, body.name, body.subject(),
                                   body.key_type, body.days, **who(request))
    return await run(request).read(_one, row.id)


@router.post("/install", response_model=CertificateInfo, status_code=201,
             max_body_size=service.FORM_MAX)
async def install_certificate(request: Request,
                              certificate: UploadFile = File(...)) -> CertificateInfo:
    """Install a signed certificate (multipart field `certificate`, named `<name>.crt`)."""
    data = await certificate.read(service.FILE_MAX + 1)
    row = await run(request).write(service.install, certificate.filename or "", data,
                                   **who(request))
    return await run(request).read(_one, row.id)


@router.post("/{cert_id}/csr", response_model=CsrInfo)
async def create_csr(request: Request, cert_id: RowIdPath, body: CsrBody) -> CsrInfo:
    """A signing request for the certificate's key (Default included)."""
    pem = await run(request, MISSING).write(
        service.signing_request, cert_id, body.subject.subject() if body.subject else None,
        **who(request))
    row = await run(request, MISSING).read(_one, cert_id)
    return CsrInfo(csr=pem, filename=f"{row.name}.csr")


@router.post("/{cert_id}/activate", response_model=CertificateInfo)
async def activate_certificate(request: Request, cert_id: RowIdPath) -> CertificateInfo:
    """Serve this certificate on new connections from now on."""
    pair = await run(request, MISSING).write(service.activate, cert_id, **who(request))
    if request.app.state.tls is not None:
        request.app.state.tls.switch(pair)
    return await run(request).read(_one, cert_id)


@router.delete("/{cert_id}", status_code=204)
async def delete_certificate(request: Request, cert_id: RowIdPath) -> Response:
    """Delete a certificate that is not active (nor Default)."""
    await run(request, MISSING).write(service.delete, cert_id, **who(request))
    return Response(status_code=204)



