"""An OpenAPI 3.1 document as one self-contained HTML page (no script, nothing fetched)."""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any

_METHODS = ("get", "post", "put", "patch", "delete")
_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.5rem}
section.op{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4rem;font-weight:bold;text-transform:uppercase}
.get{color:#0b5394}.post{color:#38761d}code,pre{background:#f4f4f4;padding:0 .25rem;border-radius:3px}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}
.lock{color:#7f6000}nav a{margin-right:.8rem}
"""


# The page's policy: its one inline stylesheet (by hash), nothing else at all, never framed.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'", f"style-src 'sha256-{base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()}'",
    "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
])


def render(spec_text: str) -> str:
    spec = json.loads(spec_text)
    info = spec.get("info", {})
    out = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(info.get('title', 'API'))}</title>",
           f"<style>{_STYLE}</style></head><body>",
           f"<h1>{escape(info.get('title', 'API'))} <small>v{escape(str(info.get('version', '')))}</small></h1>",
           _paragraphs(info.get("description", "")),
           "<p>Machine-readable: <a href='openapi.json'><code>GET /openapi.json</code></a> (OpenAPI "
           f"{escape(spec.get('openapi', ''))}).</p>"]
    ops_by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                ops_by_tag.setdefault(tag, []).append((method, path, item[method]))
    order = [t["name"] for t in spec.get("tags", [])]
    ops_by_tag = dict(sorted(ops_by_tag.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    out.append("<nav>" + "".join(f"<a href='#{escape(t)}'>{escape(t)}</a>" for t in ops_by_tag)
               + "<a href='#schemas'>schemas</a></nav>")
    for tag, ops in ops_by_tag.items():
        out.append(f"<h2 id='{escape(tag)}'>{escape(tag)}</h2>")
        out += [_operation(spec, method, path, op) for method, path, op in ops]
    out.append("<h2 id='schemas'>Schemas</h2>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        out.append(f"<h3 id='schema-{escape(name)}'>{escape(name)}</h3>{_schema(spec, schema)}")
    out.append("</body></html>")
    return "\n".join(out)


def _operation(spec: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> str:
    parts = [f"<section class=op id='{escape(op.get('operationId', ''))}'>",
             f"<h3><span class='m {method}'>{method}</span> <code>{escape(path)}</code></h3>",
             f"<p>{escape(op.get('summary', ''))}</p>", _paragraphs(op.get("description", ""))]
    if op.get("security"):
        parts.append("<p class=lock>&#128274; Needs <code>Authorization: Bearer &lt;ID token&gt;</code>.</p>")
    params = [_resolve(spec, p) for p in op.get("parameters", [])]
    if params:
        rows = "".join(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                       f"<td>{'yes' if p.get('required') else 'no'}</td><td>{_type(spec, p.get('schema', {}))}</td>"
                       f"<td>{_inline(p.get('description', ''))}</td></tr>" for p in params)
        parts.append("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th>"
                     f"<th></th></tr>{rows}</table>")
    body = op.get("requestBody")
    if body:
        for ctype, media in body.get("content", {}).items():
            parts.append(f"<h4>Body <code>{escape(ctype)}</code></h4>{_type(spec, media.get('schema', {}))}")
    responses = []
    for status, response in op.get("responses", {}).items():
        response = _resolve(spec, response)
        content = ", ".join(f"<code>{escape(c)}</code> {_type(spec, m.get('schema', {}))}"
                            for c, m in response.get("content", {}).items())
        responses.append(f"<tr><td><b>{escape(status)}</b></td><td>{_inline(response.get('description', ''))}</td>"
                    f"<td>{content}</td></tr>")
    parts.append(f"<h4>Responses</h4><table>{''.join(responses)}</table></section>")
    return "".join(parts)


def _schema(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    schema = _resolve(spec, schema)
    text = _paragraphs(schema.get("description", ""))
    props = schema.get("properties")
    if not props:
        return text + f"<p>{_type(spec, schema)}</p>"
    required = set(schema.get("required", []))
    rows = "".join(f"<tr><td><code>{escape(name)}</code>{'' if name in required else ' (optional)'}</td>"
                   f"<td>{_type(spec, sub)}</td><td>{_inline(_resolve(spec, sub).get('description', ''))}</td></tr>"
                   for name, sub in props.items())
    return text + f"<table><tr><th>field</th><th>type</th><th></th></tr>{rows}</table>"


def _type(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"<a href='#schema-{escape(name)}'>{escape(name)}</a>"
    if "allOf" in schema:
        return " &amp; ".join(_type(spec, s) for s in schema["allOf"] if "$ref" in s)
    kind = schema.get("type", "any")
    plain = " | ".join(kind) if isinstance(kind, list) else str(kind)
    text = f"array of {_type(spec, schema.get('items', {}))}" if kind == "array" else escape(plain)
    facts = [f"{k} {json.dumps(schema[k])}" for k in ("enum", "const", "format", "pattern", "minimum", "maximum",
                                                      "minLength", "maxLength", "default") if k in schema]
    return text + (f" <small>({escape('; '.join(facts))})</small>" if facts else "")


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/components/") \
            and "/schemas/" not in node["$ref"]:
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    if isinstance(node, dict) and "$ref" in node and "/schemas/" in node["$ref"]:
        return dict(spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]])
    return node


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_inline(p)}</p>" for p in text.split("\n\n") if p.strip())


def _inline(text: str) -> str:
    """Just enough Markdown for the descriptions: `code` and **bold**."""
    out, code, bold = [], False, False
    for i, piece in enumerate(escape(text).split("`")):
        if i:
            code = not code
        if code:
            out.append(f"<code>{piece}</code>")
            continue
        segments = piece.split("**")
        for j, seg in enumerate(segments):
            if j:
                bold = not bold
                out.append("<b>" if bold else "</b>")
            out.append(seg)
    return "".join(out)
