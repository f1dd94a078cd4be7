"""Validate real responses against schemas/openapi.json, or schemas/openapi-v4.json for the
v4 routes (OpenAPI 3.0 -> JSON Schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from query_api.app import OPENAPI_PATH, OPENAPI_V4_PATH

DOC: dict[str, Any] = json.loads(OPENAPI_PATH.read_text())
DOC_V4: dict[str, Any] = json.loads(OPENAPI_V4_PATH.read_text())


def _to_json_schema(node: Any) -> Any:
    # OpenAPI 3.0's `nullable: true` is JSON Schema's `type: [t, "null"]`.
    if isinstance(node, dict):
        out = {k: _to_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") and "type" in node:
            out["type"] = [node["type"], "null"]
        if "$ref" in out:
            out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
        return out
    if isinstance(node, list):
        return [_to_json_schema(v) for v in node]
    return node


def check(
    response: httpx.Response, path: str, method: str = "get", doc: dict[str, Any] = DOC
) -> None:
    """Raise if the status is undocumented or the body does not match its schema (in
    ``doc``: the v3 document unless told)."""
    operation = doc["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: undocumented {status}"
    documented = operation["responses"][status]
    for header in documented.get("headers", {}):
        assert header in response.headers, f"{method} {path} {status}: no {header} header"
    content = documented.get("content")
    if content is None:
        assert response.content == b"", f"{method} {path} {status}: body where none documented"
        return
    (media, spec), *_ = content.items()
    assert response.headers["content-type"].startswith(media)
    if media == "application/json":
        defs = _to_json_schema(doc["components"]["schemas"])
        schema = {**_to_json_schema(spec["schema"]), "$defs": defs}
        jsonschema.validate(response.json(), schema, format_checker=jsonschema.FormatChecker())


#: Fingerprint's own v4 schemas (bundled from the reference snapshot): what its hosted API
#: answers. Our v4 bodies must validate against them too, unknown properties refused.
FINGERPRINT_V4: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "fingerprint-v4.schema.json").read_text()
)


def check_fingerprint_v4(body: Any, definition: str) -> None:
    """Raise unless ``body`` is valid as Fingerprint's ``definition`` (``Event``,
    ``EventSearch``, ``error.ErrorResponse``)."""
    schema = {**FINGERPRINT_V4, "$ref": f"#/$defs/{definition}"}
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(body)
