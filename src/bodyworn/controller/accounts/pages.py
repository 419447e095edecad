"""Login, logout and the password page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.accounts import service
from bodyworn.controller.accounts.guard import SESSION_COOKIE, set_session_cookie
from bodyworn.controller.context import render, source_of
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only same-site absolute paths may be redirected to after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
async def login_page(
    request: Request, next: str | None = None, setup: str | None = None
) -> Response:
    """The login form."""
    return render(request, "accounts/login.html", {
        "next": safe_next(next), "setup_done": setup == "done", "error": None,
    })


@router.post("/login")
async def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    """Log in; wrong credentials count towards a lockout that grows with each failure."""
    try:
        new = await run(request).call(service.login, username, password, source_of(request))
    except service.LoginLocked as exc:
        return render(request, "accounts/login.html", {
            "next": safe_next(next), "setup_done": False,
            "error": "locked", "seconds": exc.seconds,
        }, status_code=429)
    except service.LoginFailed:
        return render(request, "accounts/login.html", {
            "next": safe_next(next), "setup_done": False,
            "error": "wrong",
        }, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, new.token, secure=request.url.scheme == "https")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End this browser's session."""
    await run(request).write(service.logout, request.cookies.get(SESSION_COOKIE, ""),
                             **who(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/settings/password")
async def password_page(request: Request) -> Response:
    """Settings → Password."""
    return render(request, "accounts/password.html", {"problems": [], "changed": False})


@router.post("/settings/password")
async def password_submit(
    request: Request,
    current_password: str = Form(""),
    new_password: str = Form(""),
    new_password_confirm: str = Form(""),
) -> Response:
    """Change root's password; other sessions of the account are logged out."""
    account_id = request.state.account.id
    try:
        await run(request).write(service.password_change, account_id, current_password,
                                 new_password, new_password_confirm, source=source_of(request))
    except service.PasswordChangeRefused as exc:
        return render(request, "accounts/password.html",
                      {"problems": exc.problems, "changed": False}, status_code=400)
    # The change logged out every session of the account, this one too: start a new one.
    new = await run(request).write(service.reopen_session, account_id, source_of(request))
    request.state.csrf_expected = new.csrf_token
    response = render(request, "accounts/password.html", {"problems": [], "changed": True})
    set_session_cookie(response, new.token, secure=request.url.scheme == "https")
    return response
