"""The demo's pages.

- ``main``: the dashboard, switching workspace, Settings → Connected apps, and the
  client's public accept page ``/p/<token>``;
- ``workspace``: everything under ``/w/<slug>/``, for signed-in members of that
  workspace only (404 otherwise, also for another workspace's object ids).
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select, update

from . import tenancy
from .forms import ClientForm, ProposalForm
from .models import Client, Engagement, Proposal, db

main = Blueprint("main", __name__)
workspace = Blueprint("workspace", __name__, url_prefix="/w/<slug>")


# -- main -------------------------------------------------------------------


@main.get("/")
@login_required
def dashboard():
    return render_template("dashboard.html", memberships=current_user.memberships)


@main.get("/w/<slug>")
@login_required
def switch_workspace(slug: str):
    membership = tenancy.membership_for_slug(slug)
    if membership is None:
        abort(404)
    tenancy.switch_workspace(membership)
    flash(f"Switched to {membership.workspace.name}.", "info")
    return redirect(url_for("main.dashboard"))


@main.get("/settings/connected-apps")
@login_required
def connected_apps():
    return render_template("connected_apps.html")


@main.route("/p/<token>", methods=["GET", "POST"])
def accept_proposal(token: str):
    """The client's accept link. Public: the unguessable token is the credential."""
    proposal = db.first_or_404(select(Proposal).filter_by(accept_token=token))
    if request.method == "POST":  # CSRF-checked by CSRFProtect; accepting twice changes nothing
        # A conditional UPDATE, so two concurrent clicks cannot both accept it.
        accepted = db.session.execute(
            update(Proposal)
            .where(Proposal.id == proposal.id, Proposal.accepted_at.is_(None))
            .values(accepted_at=datetime.now(timezone.utc))
        ).rowcount
        db.session.commit()
        if accepted:
            flash("Thank you: the proposal is accepted.", "success")
        else:
            flash("This proposal was already accepted.", "info")
        return redirect(url_for("main.accept_proposal", token=token))
    response = current_app.make_response(render_template("accept.html", proposal=proposal))
    response.headers["Referrer-Policy"] = "no-referrer"  # keep the token out of Referer headers
    return response


# -- workspace (/w/<slug>/...) -------------------------------------------------


@workspace.url_value_preprocessor
def pull_slug(endpoint, values):
    g.slug = values.pop("slug")


@workspace.url_defaults
def add_slug(endpoint, values):
    if "slug" not in values:
        current = tenancy.current_workspace()
        if current is not None:
            values["slug"] = current.slug


@workspace.before_request
def load_workspace():
    """Signed-in members only; the URL's workspace becomes the current one."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    membership = tenancy.membership_for_slug(g.slug)
    if membership is None:
        abort(404)
    tenancy.switch_workspace(membership)
    g.membership = membership
    g.workspace = membership.workspace


def _get_or_404(model, object_id: int):
    """``model`` row ``object_id`` of the current workspace, else 404."""
    return db.first_or_404(select(model).filter_by(id=object_id, workspace_id=g.workspace.id))


def _list(model, order_by):
    return db.session.scalars(select(model).filter_by(workspace_id=g.workspace.id).order_by(order_by)).all()


@workspace.route("/clients", methods=["GET", "POST"])
def clients():
    form = ClientForm()
    if form.validate_on_submit():
        client = Client(workspace=g.workspace, name=form.name.data.strip(), email=form.email.data.strip())
        db.session.add(client)
        db.session.commit()
        flash(f"Client {client.name} added.", "success")
        return redirect(url_for("workspace.clients"))
    return render_template("clients.html", clients=_list(Client, Client.name), form=form)


@workspace.get("/clients/<id:client_id>")
def client_detail(client_id: int):
    client = _get_or_404(Client, client_id)
    proposals = db.session.scalars(select(Proposal).filter_by(client_id=client.id).order_by(Proposal.id)).all()
    engagements = db.session.scalars(select(Engagement).filter_by(client_id=client.id).order_by(Engagement.id)).all()
    return render_template("client_detail.html", client=client, proposals=proposals, engagements=engagements)


@workspace.get("/proposals")
def proposals():
    return render_template("proposals.html", proposals=_list(Proposal, Proposal.id.desc()))


@workspace.route("/proposals/new", methods=["GET", "POST"])
def proposal_new():
    form = ProposalForm()
    form.client_id.choices = [(c.id, c.name) for c in _list(Client, Client.name)]
    if form.validate_on_submit():
        proposal = Proposal(
            workspace=g.workspace,
            client=_get_or_404(Client, form.client_id.data),
            title=form.title.data.strip(),
            total_minor=form.total_minor,
            currency=form.currency.data,
            approved=form.approved.data,
        )
        db.session.add(proposal)
        db.session.commit()
        flash("Proposal created.", "success")
        return redirect(url_for("workspace.proposal_detail", proposal_id=proposal.id))
    return render_template("proposal_new.html", form=form)


@workspace.get("/proposals/<id:proposal_id>")
def proposal_detail(proposal_id: int):
    proposal = _get_or_404(Proposal, proposal_id)
    accept_url = url_for("main.accept_proposal", token=proposal.accept_token, _external=True)
    return render_template("proposal_detail.html", proposal=proposal, accept_url=accept_url)


@workspace.post("/proposals/<id:proposal_id>/approve")
def proposal_approve(proposal_id: int):
    proposal = _get_or_404(Proposal, proposal_id)
    if not proposal.approved:
        proposal.approved = True
        db.session.commit()
        flash("Proposal approved internally.", "success")
    return redirect(url_for("workspace.proposal_detail", proposal_id=proposal.id))


@workspace.get("/engagements")
def engagements():
    return render_template("engagements.html", engagements=_list(Engagement, Engagement.title))


@workspace.get("/engagements/<id:engagement_id>")
def engagement_detail(engagement_id: int):
    return render_template("engagement_detail.html", engagement=_get_or_404(Engagement, engagement_id))
