"""The public survey blueprint: `/s/<token>` for families, no account needed."""

from flask import Blueprint

bp = Blueprint("respond", __name__)

from survey.respond import views  # noqa: E402,F401  (registers the routes)
