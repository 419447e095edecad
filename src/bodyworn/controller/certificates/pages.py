"""Settings → Certificates: list, create self-signed, signing requests, install, activate,
delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from bodyworn.controller.certificates import service
from bodyworn.controller.certificates.service import CertificateRefused, Subject
from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.refusals import FieldsRefused
from bodyworn.controller.setup.service import FieldError
from bodyworn.controller.web.params import RowIdPath, form_int
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)
MISSING = "No such certificate."


def _listing(session: Session) -> list[dict[str, Any]]:
    return [{"row": r, "subject": Subject.of(service.leaf(r))}
            for r in service.certificates(session)]


def subject_from_form(common_name: str, organization: str, organizational_unit: str,
                      locality: str, state: str, country: str, hosts: str) -> Subject:
    """The subject fields of a form."""
    return Subject(common_name.strip(), organization.strip(), organizational_unit.strip(),
                   locality.strip(), state.strip(), country.strip().upper(),
                   service.split_hosts(hosts))


async def _page(request: Request, *, errors: list[FieldError] | None = None,
                refusal: str | None = None, saved: tuple[str, str] | None = None,
                status_code: int = 200) -> Response:
    rows = await run(request).read(_listing)
    return render(request, "certificates/list.html", {
        "certs": rows, "key_types": service.KEY_TYPES, "origins": service.ORIGIN_LABELS,
        "defaults": Subject("", hosts=tuple(service.default_hosts())),
        "errors": {e.field: e.message for e in errors or []}, "refusal": refusal,
        "saved": saved, "now": ctx_of(request).clock.now(),
    }, status_code=status_code)


@router.get("/settings/certificates")
async def certificates_page(request: Request) -> Response:
    """Settings → Certificates."""
    return await _page(request)


@router.post("/settings/certificates")
async def certificates_create(
    request: Request, name: str = Form(""), common_name: str = Form(""),
    organization: str = Form(""), organizational_unit: str = Form(""),
    locality: str = Form(""), state: str = Form(""), country: str = Form(""),
    hosts: str = Form(""), key_type: str = Form("ecdsa-p256"), days: str = Form("365"),
) -> Response:
    """Create a self-signed certificate."""
    subject = subject_from_form(common_name, organization, organizational_unit, locality,
                                state, country, hosts)
    # Not a whole number in range: 0, which the service refuses with the range in words.
    valid_days = form_int(days, 1, service.DAYS_MAX) or 0
    try:
        row = await run(request).write(service.create_self_signed, name, subject, key_type,
                                       valid_days, **who(request))
    except FieldsRefused as exc:
        return await _page(request, errors=exc.errors, status_code=400)
    return await _page(request, saved=("Created {name}.", row.name))


@router.post("/settings/certificates/install", max_body_size=service.FORM_MAX)
async def certificates_install(request: Request) -> Response:
    """Install a signed certificate (.crt) for one of our keys."""
    form = await request.form()
    upload = form.get("certificate")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(request, refusal="Select the signed certificate file (.crt).",
                           status_code=400)
    data = await upload.read(service.FILE_MAX + 1)
    try:
        row = await run(request).write(service.install, upload.filename, data, **who(request))
    except CertificateRefused as exc:
        return await _page(request, refusal=exc.message, status_code=exc.status)
    return await _page(request, saved=("Installed {name}. Activate it to serve it.", row.name))


@router.get("/settings/certificates/{cert_id}/csr")
async def csr_page(request: Request, cert_id: RowIdPath) -> Response:
    """Create certificate signing request: the subject, prefilled from the certificate."""
    row = await run(request, MISSING).read(service.get, cert_id)
    return render(request, "certificates/csr.html", {
        "row": row, "subject": Subject.of(service.leaf(row)), "errors": {}, "csr": None})


@router.post("/settings/certificates/{cert_id}/csr")
async def csr_create(
    request: Request, cert_id: RowIdPath, common_name: str = Form(""),
    organization: str = Form(""), organizational_unit: str = Form(""),
    locality: str = Form(""), state: str = Form(""), country: str = Form(""),
    hosts: str = Form(""), download: str = Form(""),
) -> Response:
    """Show the signing request to copy, or download it as <name>.csr."""
    subject = subject_from_form(common_name, organization, organizational_unit, locality,
                                state, country, hosts)
    row = await run(request, MISSING).read(service.get, cert_id)
    try:
        pem = await run(request, MISSING).write(service.signing_request, cert_id, subject,
                                                **who(request))
    except FieldsRefused as exc:
        return render(request, "certificates/csr.html", {
            "row": row, "subject": subject, "csr": None,
            "errors": {e.field: e.message for e in exc.errors}}, status_code=400)
    if download:
        return Response(pem, media_type="application/pkcs10", headers={
            "Content-Disposition": f'attachment; filename="{_file_name(row.name)}.csr"'})
    return render(request, "certificates/csr.html", {"row": row, "subject": subject,
                                                     "errors": {}, "csr": pem})


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "certificate"


@router.post("/settings/certificates/{cert_id}/activate")
async def certificates_activate(request: Request, cert_id: RowIdPath) -> Response:
    """Serve this certificate on new connections from now on."""
    try:
        pair = await run(request, MISSING).write(service.activate, cert_id, **who(request))
    except CertificateRefused as exc:
        return await _page(request, refusal=exc.message, status_code=exc.status)
    switch = request.app.state.tls
    if switch is not None:
        switch.switch(pair)
    return await _page(request, saved=("Activated. New connections get this certificate.", ""))


@router.post("/settings/certificates/{cert_id}/delete")
async def certificates_delete(request: Request, cert_id: RowIdPath) -> Response:
    """Delete a certificate that is not active."""
    try:
        await run(request, MISSING).write(service.delete, cert_id, **who(request))
    except CertificateRefused as exc:
        return await _page(request, refusal=exc.message, status_code=exc.status)
    return await _page(request, saved=("Deleted.", ""))



