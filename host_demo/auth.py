"""Signing in and out (Flask-Login, password hashes from werkzeug.security)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, login_user, logout_user
from sqlalchemy import select

from . import tenancy
from .forms import LoginForm
from .models import User, db

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def _safe_next(target: str | None) -> str | None:
    """Only follow ``?next=`` to a path on this site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalars(select(User).filter_by(email=form.email.data.strip().lower())).first()
        if user is not None and user.check_password(form.password.data):
            tenancy.forget_workspace()
            login_user(user)
            flash(f"Signed in as {user.name}.", "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("main.dashboard"))
        flash("Wrong email or password.", "error")
    return render_template("login.html", form=form)


@bp.post("/logout")  # POST only (CSRF-protected), so other sites cannot sign users out
def logout():
    logout_user()
    tenancy.forget_workspace()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
