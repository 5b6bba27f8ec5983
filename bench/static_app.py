"""The static baseline: a bare FastAPI app answering one path with fixed bytes (bench only).

``GRIDSAFE_BENCH_BODY`` names the file holding the body; ``bench.bench_serving`` fills it with the
exact bytes gridsafe returned for the same request, so both servers send the same payload.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

BODY = Path(os.environ.get("GRIDSAFE_BENCH_BODY", "/dev/null")).read_bytes()

app = FastAPI()


@app.get("/api/v1/units")
def units() -> Response:
    return Response(BODY, media_type="application/json")
