"""SCIM error bodies (RFC 7644 §3.12): every answer under /scim/v2 that is not
a success, including the app's own 404 and 405, is a SCIM Error in JSON."""

from __future__ import annotations

import json

from flask import Response
from scim2_models import Error

MEDIA_TYPE = "application/scim+json"
PREFIX = "/scim/v2"


class ScimProblem(Exception):
    """A request refused with a SCIM error (`scim_type`: RFC 7644 Table 9)."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def scim_json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)


def error_response(status: int, detail: str, scim_type: str | None = None) -> Response:
    error = Error(status=status, detail=detail, scim_type=scim_type)
    response = scim_json(error.model_dump(), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="SCIM"'
    return response


def is_scim_request(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")
