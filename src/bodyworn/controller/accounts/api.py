"""JSON twins of login, logout and password change."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bodyworn.controller.accounts import service
from bodyworn.controller.accounts.guard import SESSION_COOKIE, set_session_cookie
from bodyworn.controller.accounts.pages import end_session, login_attempt, password_change
from bodyworn.controller.context import ctx_of, source_of

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
    ctx = ctx_of(request)
    try:
        new = await run_in_threadpool(
            login_attempt, ctx, body.username, body.password, source_of(request)
        )
    except service.LoginLocked as exc:
        seconds = int(exc.retry_after.total_seconds()) + 1
        return JSONResponse({"detail": "too many failed attempts"}, status_code=429,
                            headers={"Retry-After": str(seconds)})
    except service.LoginFailed:
        return JSONResponse({"detail": "wrong user name or password"}, status_code=401)
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
    await run_in_threadpool(end_session, ctx_of(request), request.cookies.get(SESSION_COOKIE, ""),
                            request.state.account.username, source_of(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/account/password", status_code=204)
async def api_change_password(request: Request, body: PasswordBody) -> Response:
    """Change the password; every session of the account ends, this one included."""
    ctx = ctx_of(request)
    problems = await run_in_threadpool(
        password_change, ctx, request.state.account.id, body.current_password,
        body.new_password, body.new_password, source_of(request),
    )
    if problems:
        return JSONResponse({"detail": problems}, status_code=400)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
