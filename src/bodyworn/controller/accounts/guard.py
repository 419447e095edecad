"""The gate in front of every route: setup first, then a session or an API token; CSRF on
every change made with a session."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import JSONResponse, RedirectResponse, Response

from bodyworn.controller.accounts import service
from bodyworn.controller.context import ControllerContext, ctx_of
from bodyworn.controller.tokens import service as tokens
from bodyworn.controller.web.routes import MACHINE

SESSION_COOKIE = "bw_session"
PRELOGIN_COOKIE = "bw_prelogin"
WIZARD_COOKIE = "bw_wizard"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

# Reachable without a session once setup is done (the manual's login page, static files).
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/api/v1/session")}
# The JSON login cannot carry a CSRF token yet; it only accepts application/json, which a
# cross-site form cannot send without a CORS preflight we never answer.
CSRF_EXEMPT = {("POST", "/api/v1/session")} | MACHINE


# Where an API token (Authorization: Bearer) stands in for a session: the JSON API and the
# metrics. A browser cannot be made to send the header cross-site without a CORS preflight
# we never answer, so token requests need no CSRF token.
METRICS = "/metrics"
# What a token never reaches, whatever its access: the tokens themselves, the session and
# password of the account, and a system reset (a person logged in does these).
SESSION_ONLY_PREFIXES = ("/api/v1/tokens", "/api/v1/session", "/api/v1/account",
                         "/api/v1/system/reset")


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == METRICS


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _lookup_token(ctx: ControllerContext, token: str) -> tokens.TokenCaller | None:
    with ctx.factory() as session, session.begin():
        return tokens.resolve(session, ctx.clock, token)


def _token_refused(status: int, detail: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _lookup(ctx: ControllerContext, token: str) -> tuple[object, object] | None:
    with ctx.factory() as session, session.begin():
        found = service.resolve_session(session, ctx.clock, token, ctx.idle_timeout)
        if found is None:
            return None
        web, account = found
        session.expunge(web)
        session.expunge(account)
        return web, account


class AuthGate(BaseHTTPMiddleware):
    """Sends every request to setup, to login, or through with its account attached."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        ctx = ctx_of(request)
        path = request.url.path
        request.state.account = None
        request.state.web_session = None
        request.state.csrf_expected = ""
        request.state.token = None
        if path.startswith("/static/") or path == "/favicon.ico":
            return await call_next(request)
        if not ctx.set_up:
            if path == "/setup" or path.startswith("/setup/"):
                draft = ctx.wizard.get(request.cookies.get(WIZARD_COOKIE))
                request.state.csrf_expected = draft.csrf_token if draft else ""
                request.state.language = draft.language if draft else None
                return await call_next(request)
            if _is_api(path) or (request.method, path) in MACHINE:
                return JSONResponse({"detail": "setup has not been finished"}, status_code=503)
            return RedirectResponse("/setup", status_code=303)
        if path == "/setup" or path.startswith("/setup/"):
            return RedirectResponse("/login", status_code=303)
        if (request.method, path) in MACHINE:
            return await call_next(request)
        if (request.method, path) in PUBLIC or (request.method == "HEAD" and path == "/login"):
            return await self._prelogin(request, call_next)
        bearer = _bearer(request) if _is_api(path) else None
        if bearer is not None:
            return await self._with_token(request, call_next, ctx, bearer)
        token = request.cookies.get(SESSION_COOKIE)
        found = await run_in_threadpool(_lookup, ctx, token) if token else None
        if found is None:
            if _is_api(path):
                return JSONResponse({"detail": "not logged in"}, status_code=401,
                                    headers={"WWW-Authenticate": 'Bearer realm="bodyworn"'})
            target = "/login"
            if request.method == "GET" and path != "/":
                target += "?next=" + quote(path, safe="/")
            response: Response = RedirectResponse(target, status_code=303)
            if token:
                response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        web, account = found
        request.state.web_session = web
        request.state.account = account
        request.state.csrf_expected = web.csrf_token  # type: ignore[attr-defined]
        return await call_next(request)

    async def _with_token(self, request: Request, call_next: RequestResponseEndpoint,
                          ctx: ControllerContext, bearer: str) -> Response:
        # The Authorization header alone decides: a cookie sent along is not looked at.
        caller = await run_in_threadpool(_lookup_token, ctx, bearer) if bearer else None
        if caller is None:
            return _token_refused(401, "API token unknown or revoked")
        if request.url.path.startswith(SESSION_ONLY_PREFIXES):
            return _token_refused(403, "an API token cannot do this; log in instead")
        if request.method in UNSAFE and not caller.can_write:
            return _token_refused(403, "this API token is read-only")
        request.state.account = caller
        request.state.token = caller
        return await call_next(request)

    async def _prelogin(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        # Login CSRF: a double-submit token tied to a cookie set with the login form.
        token = request.cookies.get(PRELOGIN_COOKIE)
        fresh = token is None or len(token) < 20
        if fresh:
            token = secrets.token_urlsafe(32)
        request.state.csrf_expected = token
        response = await call_next(request)
        if fresh:
            response.set_cookie(
                PRELOGIN_COOKIE, token or "", httponly=True, samesite="strict",
                secure=request.url.scheme == "https", path="/",
            )
        return response


async def csrf_guard(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token does not match (every route)."""
    if request.method not in UNSAFE or (request.method, request.url.path) in CSRF_EXEMPT:
        return
    if getattr(request.state, "token", None) is not None:
        return  # authenticated by its Authorization header, which no other site can set
    expected: str = getattr(request.state, "csrf_expected", "") or ""
    given = request.headers.get("x-csrf-token")
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            given = value if isinstance(value, str) else None
    if not expected or not service.csrf_matches(expected, given):
        raise HTTPException(status_code=403, detail="CSRF token missing or wrong")


def set_session_cookie(response: Response, token: str, secure: bool) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/"
    )
