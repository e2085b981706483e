"""JSON responses the way the vendors send them."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the charset vendors send."""
    return Response(json.dumps(data, ensure_ascii=False), status, headers,
                    content_type="application/json; charset=utf-8")
