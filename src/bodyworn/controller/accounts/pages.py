"""Login, logout and the password page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.accounts import service
from bodyworn.controller.accounts.guard import SESSION_COOKIE, set_session_cookie
from bodyworn.controller.accounts.models import Account
from bodyworn.controller.audit.service import record
from bodyworn.controller.context import ControllerContext, ctx_of, render, source_of

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only same-site absolute paths may be redirected to after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def login_attempt(
    ctx: ControllerContext, username: str, password: str, source: str
) -> service.NewSession:
    """Check credentials, audit the outcome, open a session on success."""
    with ctx.factory() as session:
        try:
            with session.begin():
                account = service.authenticate(
                    session, ctx.clock, username, password, ctx.settings.lockout_threshold
                )
                new = service.open_session(session, ctx.clock, account, source)
                record(session, ctx.clock, actor=account.username, action="login", source=source)
                return new
        except (service.LoginFailed, service.LoginLocked) as exc:
            # The failure count was changed in the rolled-back transaction: write it again.
            with session.begin():
                known = service.account_by_name(session, username)
                if known is not None and isinstance(exc, service.LoginFailed):
                    known.failed_logins += 1
                    wait = service.lockout_for(known.failed_logins, ctx.settings.lockout_threshold)
                    known.locked_until = ctx.clock.now() + wait if wait else None
                outcome = "denied" if isinstance(exc, service.LoginLocked) else "failure"
                record(session, ctx.clock, actor=username[:64] or "?", action="login",
                       outcome=outcome, source=source)
            raise


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
    ctx = ctx_of(request)
    try:
        new = await run_in_threadpool(login_attempt, ctx, username, password, source_of(request))
    except service.LoginLocked as exc:
        seconds = int(exc.retry_after.total_seconds()) + 1
        return render(request, "accounts/login.html", {
            "next": safe_next(next), "setup_done": False,
            "error": "locked", "seconds": seconds,
        }, status_code=429)
    except service.LoginFailed:
        return render(request, "accounts/login.html", {
            "next": safe_next(next), "setup_done": False,
            "error": "wrong",
        }, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, new.token, secure=request.url.scheme == "https")
    return response


def end_session(ctx: ControllerContext, token: str, username: str, source: str) -> None:
    """Log out one browser session, audited."""
    with ctx.factory() as session, session.begin():
        service.close_session(session, token)
        record(session, ctx.clock, actor=username, action="logout", source=source)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End this browser's session."""
    await run_in_threadpool(end_session, ctx_of(request), request.cookies.get(SESSION_COOKIE, ""),
                            request.state.account.username, source_of(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def password_change(
    ctx: ControllerContext, account_id: int, current: str, new: str, confirm: str, source: str
) -> list[str]:
    """Change a password; returns the problems (empty on success). Audited either way."""
    if new != confirm:
        return ["The new passwords do not match."]
    with ctx.factory() as session:
        try:
            with session.begin():
                account = session.get(Account, account_id)
                assert account is not None
                service.change_password(session, ctx.clock, account, current, new)
                record(session, ctx.clock, actor=account.username, action="password.change",
                       source=source)
                return []
        except service.LoginFailed:
            problems = ["The current password is wrong."]
        except service.PasswordRejected as exc:
            problems = exc.problems
        with session.begin():
            account = session.get(Account, account_id)
            record(session, ctx.clock, actor=account.username if account else "?",
                   action="password.change", outcome="failure", source=source,
                   detail=problems[0])
        return problems


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
    ctx = ctx_of(request)
    problems = await run_in_threadpool(
        password_change, ctx, request.state.account.id, current_password, new_password,
        new_password_confirm, source_of(request),
    )
    if problems:
        return render(request, "accounts/password.html", {"problems": problems, "changed": False},
                      status_code=400)
    # The change logged out every session of the account, this one too: start a new one.
    def reopen() -> service.NewSession:
        with ctx.factory() as session, session.begin():
            account = session.get(Account, request.state.account.id)
            assert account is not None
            return service.open_session(session, ctx.clock, account, source_of(request))

    new = await run_in_threadpool(reopen)
    request.state.csrf_expected = new.csrf_token
    response = render(request, "accounts/password.html", {"problems": [], "changed": True})
    set_session_cookie(response, new.token, secure=request.url.scheme == "https")
    return response
