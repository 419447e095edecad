"""JSON twins of login, logout and password change."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from bodyworn.controller.accounts import service
from bodyworn.controller.accounts.guard import SESSION_COOKIE, set_session_cookie
from bodyworn.controller.context import source_of
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class LoginBody(BaseModel):
    """Credentials."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class SessionInfo(BaseModel):
    """Who is logged in, and the token to send as X-CSRF-Token with every change."""

    username: str
    csrf_token: str


class PasswordBody(BaseModel):
    """A password change."""

    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


@router.post("/session", response_model=SessionInfo)
async def api_login(request: Request, body: LoginBody) -> Response:
    """Log in (JSON only); sets the session cookie."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "send application/json")
    new = await run(request).call(service.login, body.username, body.password,
                                  source_of(request))
    response = JSONResponse({"username": body.username, "csrf_token": new.csrf_token})
    set_session_cookie(response, new.token, secure=request.url.scheme == "https")
    return response


@router.get("/session", response_model=SessionInfo)
async def api_whoami(request: Request) -> SessionInfo:
    """The logged-in account."""
    return SessionInfo(
        username=request.state.account.username, csrf_token=request.state.csrf_expected
    )


@router.delete("/session", status_code=204)
async def api_logout(request: Request) -> Response:
    """Log out."""
    await run(request).write(service.logout, request.cookies.get(SESSION_COOKIE, ""),
                             **who(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/account/password", status_code=204)
async def api_change_password(request: Request, body: PasswordBody) -> Response:
    """Change the password; every session of the account ends, this one included."""
    await run(request).write(service.password_change, request.state.account.id,
                             body.current_password, body.new_password, body.new_password,
                             source=source_of(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
