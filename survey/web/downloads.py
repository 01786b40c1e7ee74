"""Files staff download (exports, charts, the infoblad): one way to send them."""

from __future__ import annotations

import io

from flask import Response, send_file


def download(body: str | bytes, filename: str, mimetype: str) -> Response:
    """`body` as an attachment called `filename`; text is sent as UTF-8.

    `send_file` writes the Content-Disposition (with an RFC 5987 name when it is not ASCII)
    and the length; downloads are never cached (`max_age=0`; the security headers add
    `no-store` for staff pages).
    """
    data = body.encode("utf-8") if isinstance(body, str) else body
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=filename,
        max_age=0,
    )
