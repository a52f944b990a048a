//! The API reference page (`GET /api/reference/`): one HTML page rendered on the server from the
//! OpenAPI document, so it says exactly what `/api/openapi.json` says. No script, no external
//! asset (the page works with no internet): operations by tag with their credentials,
//! parameters, bodies and answers, then every schema with its properties.

use std::fmt::Write;

use serde_json::Value;

/// HTML-escapes text.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text with `code spans` shown as code (the documents' descriptions use Markdown's backticks).
fn prose(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

/// The anchor of a schema.
fn schema_anchor(name: &str) -> String {
    format!("schema-{}", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "-"))
}

/// The anchor of an operation.
fn op_anchor(method: &str, path: &str) -> String {
    let p: String = path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("op-{method}{p}")
}

/// A schema in one line: a link for a `$ref`, else its type (`array of X`, `A | B`, …).
fn type_of(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#{}\">{}</a>", schema_anchor(name), esc(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(items) = s.get(key).and_then(Value::as_array) {
            let sep = if key == "allOf" { " &amp; " } else { " | " };
            return items.iter().map(type_of).collect::<Vec<_>>().join(sep);
        }
    }
    let types: Vec<String> = match s.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![],
    };
    if types.is_empty() {
        return if s.get("properties").is_some() { "object".into() } else { "any".into() };
    }
    types
        .iter()
        .map(|t| match t.as_str() {
            "array" => format!("array of {}", s.get("items").map(type_of).unwrap_or_else(|| "any".into())),
            "object" => match s.get("additionalProperties") {
                Some(v @ Value::Object(_)) => format!("map of {}", type_of(v)),
                _ => "object".into(),
            },
            other => match s.get("format").and_then(Value::as_str) {
                Some(f) => format!("{} ({})", esc(other), esc(f)),
                None => esc(other),
            },
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn security_of(op: &Value) -> String {
    let Some(reqs) = op.get("security").and_then(Value::as_array) else {
        return "none".into();
    };
    let alts: Vec<String> = reqs
        .iter()
        .filter_map(Value::as_object)
        .map(|r| r.keys().map(|k| format!("<code>{}</code>", esc(k))).collect::<Vec<_>>().join(" + "))
        .filter(|s| !s.is_empty())
        .collect();
    if alts.is_empty() { "none".into() } else { alts.join(" or ") }
}

fn content_of(content: Option<&Value>) -> String {
    let Some(c) = content.and_then(Value::as_object) else {
        return String::new();
    };
    c.iter()
        .map(|(media, v)| {
            let t = v.get("schema").map(type_of).unwrap_or_default();
            format!("<code>{}</code> {t}", esc(media))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let desc = op.get("description").or_else(|| op.get("summary")).and_then(Value::as_str).unwrap_or("");
    let _ = write!(
        out,
        "<section class=\"op\" id=\"{}\"><h3><span class=\"m {m}\">{}</span> <code>{}</code></h3>",
        op_anchor(method, path),
        esc(&method.to_uppercase()),
        esc(path),
        m = esc(method),
    );
    if let Some(s) = op.get("summary").and_then(Value::as_str)
        && s != desc
    {
        let _ = write!(out, "<p>{}</p>", prose(s));
    }
    for para in desc.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let _ = write!(out, "<p>{}</p>", prose(para));
    }
    let _ = write!(out, "<p class=\"auth\">Credentials: {}</p>", security_of(op));
    if let Some(params) = op.get("parameters").and_then(Value::as_array).filter(|p| !p.is_empty()) {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>");
        for p in params {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                if required { " <b>required</b>" } else { "" },
                esc(p.get("in").and_then(Value::as_str).unwrap_or("")),
                p.get("schema").map(type_of).unwrap_or_default(),
                prose(p.get("description").and_then(Value::as_str).unwrap_or("")),
            );
        }
        out.push_str("</table>");
    }
    if let Some(body) = op.get("requestBody") {
        let _ = write!(out, "<p><b>Body</b>: {}</p>", content_of(body.get("content")));
        if let Some(d) = body.get("description").and_then(Value::as_str) {
            let _ = write!(out, "<p>{}</p>", prose(d));
        }
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        out.push_str("<table><tr><th>status</th><th>body</th><th>when</th></tr>");
        for (status, r) in responses {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                content_of(r.get("content")),
                prose(r.get("description").and_then(Value::as_str).unwrap_or("")),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
}

fn schema(out: &mut String, name: &str, s: &Value) {
    let _ = write!(out, "<section class=\"schema\" id=\"{}\"><h3>{}</h3>", schema_anchor(name), esc(name));
    if let Some(d) = s.get("description").and_then(Value::as_str) {
        let _ = write!(out, "<p>{}</p>", prose(d));
    }
    // The properties of the object itself and of the parts of an `allOf` (flattened fields).
    let mut parts = vec![s];
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        parts.extend(all.iter());
    }
    let props: Vec<(&Value, &String, &Value)> = parts
        .iter()
        .filter_map(|p| p.get("properties").and_then(Value::as_object).map(|m| (*p, m)))
        .flat_map(|(p, m)| m.iter().map(move |(k, v)| (p, k, v)))
        .collect();
    if props.is_empty() {
        let _ = write!(out, "<p>Type: {}</p>", type_of(s));
    } else {
        if s.get("allOf").is_some() {
            let _ = write!(out, "<p>All of: {}</p>", type_of(s));
        }
        out.push_str("<table><tr><th>property</th><th>type</th><th>description</th></tr>");
        for (part, k, v) in props {
            let required = part
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(k)));
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                esc(k),
                if required { " <b>required</b>" } else { "" },
                type_of(v),
                prose(v.get("description").and_then(Value::as_str).unwrap_or("")),
            );
        }
        out.push_str("</table>");
        if s.get("additionalProperties") == Some(&Value::Bool(false)) {
            out.push_str("<p>No other properties are accepted.</p>");
        }
    }
    out.push_str("</section>");
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330}\
main{max-width:980px;margin:0 auto;padding:1rem 1.5rem 4rem}\
h1{margin:.5rem 0}h2{border-bottom:2px solid #dde2ea;padding-bottom:.2rem;margin-top:2.5rem}\
code{font:13px ui-monospace,monospace;background:#f2f4f7;padding:0 .2rem;border-radius:3px}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border:1px solid #dde2ea;\
padding:.25rem .45rem;text-align:left;vertical-align:top}th{background:#f7f8fa}\
.op,.schema{border-top:1px solid #eef0f4;padding-top:.5rem}.m{font:bold 12px monospace;\
padding:.1rem .4rem;border-radius:3px;color:#fff;background:#5b6578}.get{background:#2f7d4f}\
.post{background:#2f5fa8}.patch{background:#a8702f}.delete{background:#a83232}\
.auth{color:#5b6578}nav ul{columns:2}a{color:#2f5fa8}";

/// The page, from the document as JSON.
pub(crate) fn render_value(doc: &Value) -> String {
    let info = &doc["info"];
    let title = info["title"].as_str().unwrap_or("API");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{t} API reference</title>\
         <style>{STYLE}</style></head><body><main><h1>{t} API reference</h1><p>{}</p>\
         <p>OpenAPI {} · version {} · the document: <a href=\"/api/openapi.json\">/api/openapi.json</a></p>",
        prose(info["description"].as_str().unwrap_or("")),
        esc(doc["openapi"].as_str().unwrap_or("")),
        esc(info["version"].as_str().unwrap_or("")),
        t = esc(title),
    );
    // Operations grouped by their first tag, in the order the document lists its tags.
    let mut tags: Vec<(String, String)> = doc["tags"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap_or("").to_string(),
                        t["description"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ops: Vec<(String, String, String, &Value)> = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for m in ["get", "post", "put", "patch", "delete"] {
                if let Some(op) = item.get(m) {
                    let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
                    if !tags.iter().any(|(t, _)| *t == tag) {
                        tags.push((tag.clone(), String::new()));
                    }
                    ops.push((tag, m.to_string(), path.clone(), op));
                }
            }
        }
    }
    out.push_str("<nav><h2>Operations</h2>");
    for (tag, _) in &tags {
        let _ = write!(out, "<h4>{}</h4><ul>", esc(tag));
        for (_, m, p, _) in ops.iter().filter(|o| o.0 == *tag) {
            let _ = write!(
                out,
                "<li><a href=\"#{}\">{} {}</a></li>",
                op_anchor(m, p),
                esc(&m.to_uppercase()),
                esc(p)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("<p><a href=\"#schemas\">Schemas</a> · <a href=\"#security\">Credentials</a></p></nav>");
    out.push_str(
        "<h2 id=\"security\">Credentials</h2><table><tr><th>name</th><th>kind</th><th>description</th></tr>",
    );
    if let Some(schemes) = doc["components"]["securitySchemes"].as_object() {
        for (name, s) in schemes {
            let kind = match (s["type"].as_str(), s["in"].as_str(), s["name"].as_str()) {
                (Some("apiKey"), Some(place), Some(n)) => format!("{place} <code>{}</code>", esc(n)),
                (Some("http"), _, _) => format!("HTTP {}", esc(s["scheme"].as_str().unwrap_or(""))),
                (t, _, _) => esc(t.unwrap_or("")),
            };
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{kind}</td><td>{}</td></tr>",
                esc(name),
                prose(s["description"].as_str().unwrap_or(""))
            );
        }
    }
    out.push_str("</table>");
    for (tag, desc) in &tags {
        let _ = write!(out, "<h2>{}</h2><p>{}</p>", esc(tag), prose(desc));
        for (_, m, p, op) in ops.iter().filter(|o| o.0 == *tag) {
            operation(&mut out, m, p, op);
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, s) in schemas {
            schema(&mut out, name, s);
        }
    }
    out.push_str("</main></body></html>\n");
    out
}

/// The page, from the document.
pub(crate) fn render(doc: &utoipa::openapi::OpenApi) -> String {
    render_value(&serde_json::to_value(doc).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_operation_and_schema_of_the_document_is_on_the_page() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(super::super::openapi::ApiDoc::openapi()).unwrap();
        let page = render_value(&doc);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in item.as_object().unwrap().keys() {
                assert!(page.contains(&format!("id=\"{}\"", op_anchor(m, path))), "{m} {path}");
            }
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(page.contains(&format!("id=\"{}\"", schema_anchor(name))), "{name}");
        }
        assert!(!page.contains("<script"), "the page has no script");
    }

    #[test]
    fn text_of_the_document_is_escaped_and_types_are_read() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "T<x>", "version": "1", "description": "a `b<c>` d"},
            "paths": {"/p/{id}/": {"get": {
                "tags": ["t"], "description": "<script>alert(1)</script>",
                "security": [{"api_key": []}, {"session": [], "csrf": []}],
                "parameters": [{"name": "id", "in": "path", "required": true,
                                "schema": {"type": "integer", "format": "int64"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/X"}}}}}}
            }}},
            "components": {"schemas": {"X": {"type": "object", "required": ["a"],
                "properties": {"a": {"type": ["string", "null"]}}, "additionalProperties": false}}}
        });
        let page = render_value(&doc);
        assert!(page.contains("T&lt;x&gt; API reference"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("<code>b&lt;c&gt;</code>"));
        assert!(page.contains("<code>api_key</code> or <code>csrf</code> + <code>session</code>"));
        assert!(page.contains("integer (int64)"));
        assert!(page.contains("array of <a href=\"#schema-X\">X</a>"));
        assert!(page.contains("<code>a</code> <b>required</b></td><td>string | null"));
        assert!(page.contains("No other properties are accepted."));
    }
}
