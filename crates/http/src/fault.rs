//! WebOb-compatible HTTP error bodies.
//!
//! Glance raises `webob.exc.HTTP*` exceptions; clients (and tempest) see the
//! body WebOb renders for them, chosen by the request's `Accept` header:
//! JSON, HTML, or plain text. [`HttpError`] reproduces those bodies byte for
//! byte (WebOb 1.8.11), including the status titles, default explanations,
//! the per-status templates (405, 406, 415, 501, 3xx), escaping, and the
//! Accept negotiation quirks (an empty or missing Accept gives text/plain,
//! an unparseable one gives HTML).
//!
//! This is the one place HTTP errors are rendered.

use std::borrow::Cow;
use std::fmt;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::{Body, Response};

/// Content types WebOb sends for each body flavour.
pub const CONTENT_TYPE_HTML: &str = "text/html; charset=UTF-8";
pub const CONTENT_TYPE_JSON: &str = "application/json";
pub const CONTENT_TYPE_PLAIN: &str = "text/plain; charset=UTF-8";

/// Which body template a status uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Template {
    /// `${explanation}<br /><br />\n${detail}\n${html_comment}\n`
    Default,
    /// 3xx with a Location.
    Move,
    /// 405: names the request method.
    MethodNotAllowed,
    /// 406: names the Accept header.
    NotAcceptable,
    /// 415: names the request Content-Type.
    UnsupportedMediaType,
    /// 501: names the request method.
    NotImplemented,
    /// `body_template='${explanation}'`: the explanation alone.
    ExplanationOnly,
}

impl Template {
    fn text(self) -> &'static str {
        match self {
            Template::Default => "${explanation}<br /><br />\n${detail}\n${html_comment}\n",
            Template::ExplanationOnly => "${explanation}",
            Template::Move => {
                "${explanation} <a href=\"${location}\">${location}</a>;\n\
                 you should be redirected automatically.\n${detail}\n${html_comment}"
            }
            Template::MethodNotAllowed => {
                "The method ${REQUEST_METHOD} is not allowed for this resource. <br /><br />\n${detail}"
            }
            Template::NotAcceptable => {
                "The resource could not be generated that was acceptable to your browser\n\
                 (content of type ${HTTP_ACCEPT}. <br /><br />\n${detail}"
            }
            Template::UnsupportedMediaType => {
                "The request media type ${CONTENT_TYPE} is not supported by this server.\n\
                 <br /><br />\n${detail}"
            }
            Template::NotImplemented => {
                "\nThe request method ${REQUEST_METHOD} is not implemented for this server. \
                 <br /><br />\n${detail}"
            }
        }
    }
}

/// WebOb's class attributes for a status: (title, explanation, template,
/// empty_body). Explanations are already whitespace-normalised, as WebOb
/// does at import time.
fn webob_info(code: u16) -> Option<(&'static str, &'static str, Template, bool)> {
    const BAD_REQUEST: &str = "The server could not comply with the request since it is \
                               either malformed or otherwise incorrect.";
    const SERVER_ERROR: &str = "The server has either erred or is incapable of performing \
                                the requested operation.";
    const MOVED: &str = "The resource has been moved to";
    use Template::*;
    Some(match code {
        200 => ("OK", "", Default, false),
        201 => ("Created", "", Default, false),
        202 => (
            "Accepted",
            "The request is accepted for processing.",
            Default,
            false,
        ),
        203 => ("Non-Authoritative Information", "", Default, false),
        204 => ("No Content", "", Default, true),
        205 => ("Reset Content", "", Default, true),
        206 => ("Partial Content", "", Default, false),
        300 => ("Multiple Choices", MOVED, Move, false),
        301 => ("Moved Permanently", MOVED, Move, false),
        302 => ("Found", "The resource was found at", Move, false),
        303 => ("See Other", MOVED, Move, false),
        304 => ("Not Modified", "", Default, true),
        305 => (
            "Use Proxy",
            "The resource must be accessed through a proxy located at",
            Move,
            false,
        ),
        307 => ("Temporary Redirect", MOVED, Move, false),
        308 => ("Permanent Redirect", MOVED, Move, false),
        400 => ("Bad Request", BAD_REQUEST, Default, false),
        401 => (
            "Unauthorized",
            "This server could not verify that you are authorized to access the document you \
             requested. Either you supplied the wrong credentials (e.g., bad password), or your \
             browser does not understand how to supply the credentials required.",
            Default,
            false,
        ),
        402 => (
            "Payment Required",
            "Access was denied for financial reasons.",
            Default,
            false,
        ),
        403 => (
            "Forbidden",
            "Access was denied to this resource.",
            Default,
            false,
        ),
        404 => (
            "Not Found",
            "The resource could not be found.",
            Default,
            false,
        ),
        405 => ("Method Not Allowed", BAD_REQUEST, MethodNotAllowed, false),
        406 => ("Not Acceptable", BAD_REQUEST, NotAcceptable, false),
        407 => (
            "Proxy Authentication Required",
            "Authentication with a local proxy is needed.",
            Default,
            false,
        ),
        408 => (
            "Request Timeout",
            "The server has waited too long for the request to be sent by the client.",
            Default,
            false,
        ),
        409 => (
            "Conflict",
            "There was a conflict when trying to complete your request.",
            Default,
            false,
        ),
        410 => (
            "Gone",
            "This resource is no longer available. No forwarding address is given.",
            Default,
            false,
        ),
        411 => (
            "Length Required",
            "Content-Length header required.",
            Default,
            false,
        ),
        412 => (
            "Precondition Failed",
            "Request precondition failed.",
            Default,
            false,
        ),
        413 => (
            "Request Entity Too Large",
            "The body of your request was too large for this server.",
            Default,
            false,
        ),
        414 => (
            "Request-URI Too Long",
            "The request URI was too long for this server.",
            Default,
            false,
        ),
        415 => (
            "Unsupported Media Type",
            BAD_REQUEST,
            UnsupportedMediaType,
            false,
        ),
        416 => (
            "Request Range Not Satisfiable",
            "The Range requested is not available.",
            Default,
            false,
        ),
        417 => ("Expectation Failed", "Expectation failed.", Default, false),
        422 => (
            "Unprocessable Entity",
            "Unable to process the contained instructions",
            Default,
            false,
        ),
        423 => ("Locked", "The resource is locked", Default, false),
        424 => (
            "Failed Dependency",
            "The method could not be performed because the requested action dependended on \
             another action and that action failed",
            Default,
            false,
        ),
        428 => (
            "Precondition Required",
            "This request is required to be conditional",
            Default,
            false,
        ),
        429 => (
            "Too Many Requests",
            "The client has sent too many requests in a given amount of time",
            Default,
            false,
        ),
        431 => (
            "Request Header Fields Too Large",
            "The request header fields were too large",
            Default,
            false,
        ),
        451 => (
            "Unavailable For Legal Reasons",
            "The resource is not available due to legal reasons.",
            Default,
            false,
        ),
        500 => ("Internal Server Error", SERVER_ERROR, Default, false),
        501 => ("Not Implemented", SERVER_ERROR, NotImplemented, false),
        502 => ("Bad Gateway", "Bad gateway.", Default, false),
        503 => (
            "Service Unavailable",
            "The server is currently unavailable. Please try again at a later time.",
            Default,
            false,
        ),
        504 => (
            "Gateway Timeout",
            "The gateway has timed out.",
            Default,
            false,
        ),
        505 => (
            "HTTP Version Not Supported",
            "The HTTP version is not supported.",
            Default,
            false,
        ),
        507 => (
            "Insufficient Storage",
            "There was not enough space to save the resource",
            Default,
            false,
        ),
        511 => (
            "Network Authentication Required",
            "Network authentication is required",
            Default,
            false,
        ),
        _ => return None,
    })
}

/// The reason phrase for a status line: WebOb's title where it has one
/// (Glance's status lines come from WebOb), else the IANA phrase.
pub fn reason_phrase(status: StatusCode) -> &'static str {
    match webob_info(status.as_u16()) {
        Some((title, ..)) => title,
        None => status.canonical_reason().unwrap_or("Unknown"),
    }
}

/// An HTTP error rendered like a `webob.exc.HTTP*` exception.
#[derive(Clone, Debug)]
pub struct HttpError {
    status: StatusCode,
    title: &'static str,
    explanation: Cow<'static, str>,
    detail: Option<String>,
    comment: Option<String>,
    template: Template,
    empty_body: bool,
    headers: HeaderMap,
}

impl HttpError {
    /// The error for `status`, with WebOb's title and default explanation.
    pub fn new(status: StatusCode) -> Self {
        let (title, explanation, template, empty_body) = webob_info(status.as_u16()).unwrap_or((
            status.canonical_reason().unwrap_or("Unknown"),
            "",
            Template::Default,
            false,
        ));
        HttpError {
            status,
            title,
            explanation: Cow::Borrowed(explanation),
            detail: None,
            comment: None,
            template,
            empty_body,
            headers: HeaderMap::new(),
        }
    }

    /// Like [`HttpError::new`]; an invalid code gives a 500.
    pub fn from_status(code: u16) -> Self {
        HttpError::new(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
    }

    /// Replace the explanation (WebOb's `explanation=` keyword, which Glance
    /// uses for most messages). The 405/406/415/501 templates ignore it.
    pub fn explanation(mut self, text: impl Into<String>) -> Self {
        self.explanation = Cow::Owned(text.into());
        self
    }

    /// WebOb's `body_template='${explanation}'`: the body is the
    /// explanation alone, whatever the status's own template.
    pub fn explanation_only(mut self) -> Self {
        self.template = Template::ExplanationOnly;
        self
    }

    /// WebOb's `detail=`: shown after the explanation.
    pub fn detail(mut self, text: impl Into<String>) -> Self {
        self.detail = Some(text.into());
        self
    }

    /// WebOb's `comment=`: an HTML comment in the body.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }

    /// Add a response header (`Allow` for 405, `WWW-Authenticate` for 401,
    /// `Location` for 3xx). Invalid names or values are skipped.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => log::warn!(
                "dropping invalid header on HTTP {} error",
                self.status.as_u16()
            ),
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// WebOb's title, e.g. `Not Found`.
    pub fn title(&self) -> &str {
        self.title
    }

    /// `404 Not Found`, as in the JSON `code` field and the status line.
    pub fn status_line(&self) -> String {
        format!("{} {}", self.status.as_u16(), self.title)
    }

    pub fn explanation_text(&self) -> &str {
        &self.explanation
    }

    pub fn detail_text(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Render the response WebOb would send for this request.
    pub fn render(&self, req_headers: &HeaderMap, method: &Method) -> Response {
        let mut headers = HeaderMap::new();
        let body = if method == Method::HEAD || self.empty_body {
            // WebOb answers these with the exception's own (empty) response;
            // that keeps its default HTML content type, except for statuses
            // that must not carry one.
            if !self.empty_body {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(CONTENT_TYPE_HTML),
                );
            }
            extend(&mut headers, &self.headers);
            Body::empty()
        } else {
            let accept = joined(req_headers, header::ACCEPT);
            let (ctype, text) = match negotiate(accept.as_deref().unwrap_or("")) {
                Flavour::Html => (CONTENT_TYPE_HTML, self.html_body(req_headers, method)),
                Flavour::Json => (CONTENT_TYPE_JSON, self.json_body(req_headers, method)),
                Flavour::Plain => (CONTENT_TYPE_PLAIN, self.plain_body(req_headers, method)),
            };
            extend(&mut headers, &self.headers);
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
            Body::from(text)
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = self.status;
        *resp.headers_mut() = headers;
        resp
    }

    /// The text/plain body.
    pub fn plain_body(&self, req_headers: &HeaderMap, method: &Method) -> String {
        let body = strip_tags(&self.make_body(req_headers, method, no_escape));
        format!("{}\n\n{}", self.status_line(), body)
    }

    /// The text/html body.
    pub fn html_body(&self, req_headers: &HeaderMap, method: &Method) -> String {
        let status = self.status_line();
        let body = self.make_body(req_headers, method, html_escape);
        format!(
            "<html>\n <head>\n  <title>{status}</title>\n </head>\n <body>\n  <h1>{status}</h1>\n  {body}\n </body>\n</html>"
        )
    }

    /// The application/json body.
    pub fn json_body(&self, req_headers: &HeaderMap, method: &Method) -> String {
        let body = self.make_body(req_headers, method, no_escape);
        format!(
            "{{\"message\": {}, \"code\": {}, \"title\": {}}}",
            py_json_str(&body),
            py_json_str(&self.status_line()),
            py_json_str(self.title)
        )
    }

    /// WebOb's `_make_body`: fill the status's template.
    fn make_body(
        &self,
        req_headers: &HeaderMap,
        method: &Method,
        escape: fn(&str) -> String,
    ) -> String {
        let detail = self.detail.as_deref().unwrap_or("");
        let html_comment = match self.comment.as_deref() {
            Some(c) if !c.is_empty() => format!("<!-- {} -->", escape(c)),
            _ => String::new(),
        };
        let custom = self.template != Template::Default;
        substitute(self.template.text(), |name| match name {
            "explanation" => Some(escape(&self.explanation)),
            "detail" => Some(escape(detail)),
            "comment" => Some(escape(self.comment.as_deref().unwrap_or(""))),
            "html_comment" => Some(html_comment.clone()),
            // Custom templates also see the WSGI environ and the response
            // headers (lower-cased names).
            _ if !custom => None,
            "REQUEST_METHOD" => Some(escape(method.as_str())),
            "HTTP_ACCEPT" => joined(req_headers, header::ACCEPT).map(|v| escape(&v)),
            // eventlet always sets CONTENT_TYPE, defaulting to text/plain.
            "CONTENT_TYPE" => Some(escape(
                &joined(req_headers, header::CONTENT_TYPE).unwrap_or_else(|| "text/plain".into()),
            )),
            other => self
                .headers
                .get(other)
                .map(|v| escape(&String::from_utf8_lossy(v.as_bytes()))),
        })
    }
}

impl fmt::Display for HttpError {
    /// WebOb's `str(exc)`: the detail, else the explanation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail.as_deref() {
            Some(d) if !d.is_empty() => f.write_str(d),
            _ => f.write_str(&self.explanation),
        }
    }
}

impl std::error::Error for HttpError {}

fn extend(into: &mut HeaderMap, from: &HeaderMap) {
    for (k, v) in from {
        into.append(k.clone(), v.clone());
    }
}

/// All values of a header joined the way WSGI joins repeated headers.
fn joined(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    let mut out: Option<String> = None;
    for v in headers.get_all(name) {
        // Header bytes are latin-1 in WSGI.
        let s: String = v.as_bytes().iter().map(|&b| b as char).collect();
        match &mut out {
            Some(o) => {
                o.push_str(", ");
                o.push_str(&s);
            }
            None => out = Some(s),
        }
    }
    out
}

/// `string.Template.safe_substitute` for `${name}` placeholders: unknown
/// names stay as written.
fn substitute(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[pos..pos + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[pos..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn no_escape(s: &str) -> String {
    s.to_string()
}

/// `webob.util.html_escape`: `html.escape(quote=True)`, then non-ASCII as
/// decimal character references.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c if c.is_ascii() => out.push(c),
            c => {
                out.push_str("&#");
                out.push_str(&(c as u32).to_string());
                out.push(';');
            }
        }
    }
    out
}

/// WebOb's `strip_tags`, applied to the plain-text body: newlines become
/// spaces, `<br...>` becomes a newline, comment markers and tags go.
fn strip_tags(s: &str) -> String {
    let s: String = s
        .chars()
        .filter(|&c| c != '\r')
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    // `<br.*?>` (case-insensitive) -> "\n"
    let s = replace_tags(
        &s,
        |rest| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"<br"),
        "\n",
    );
    // `<!--|-->` -> ""
    let mut t = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i..].starts_with(b"<!--") {
            t.push_str(&s[last..i]);
            i += 4;
            last = i;
        } else if b[i..].starts_with(b"-->") {
            t.push_str(&s[last..i]);
            i += 3;
            last = i;
        } else {
            i += 1;
        }
    }
    t.push_str(&s[last..]);
    // `<.*?>` -> ""
    replace_tags(&t, |rest| rest.first() == Some(&b'<'), "")
}

/// Replace each match of `<start>.*?>` (DOTALL) where `starts(rest)` says a
/// match may begin at this byte.
fn replace_tags(s: &str, starts: impl Fn(&[u8]) -> bool, with: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if starts(&b[i..]) {
            // The shortest match ends at the first '>' after the '<'.
            if let Some(off) = b[i + 1..].iter().position(|&c| c == b'>') {
                out.push_str(&s[last..i]);
                out.push_str(with);
                i = i + 1 + off + 1;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    out
}

/// Python `json.dumps` of a string (ensure_ascii): escapes everything
/// outside printable ASCII as `\uXXXX` (surrogate pairs above the BMP).
pub fn py_json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{:04x}", u));
                }
            }
        }
    }
    out.push('"');
    out
}

/// Which body WebOb picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Html,
    Json,
    Plain,
}

/// WebOb's `acceptable_offers(['text/html', 'application/json'])` on the
/// Accept header value ('' when absent): the best offer, or plain text when
/// none is acceptable. An invalid header accepts everything, so HTML.
pub fn negotiate(accept: &str) -> Flavour {
    let Some(ranges) = parse_accept(accept.as_bytes()) else {
        return Flavour::Html;
    };
    // (qvalue, specificity) of the most specific matching range per offer.
    let offers: [(&str, &str); 2] = [("text", "html"), ("application", "json")];
    let mut best: [Option<(f64, u8)>; 2] = [None, None];
    for r in &ranges {
        for (i, (ty, sub)) in offers.iter().enumerate() {
            let spec = if r.ty == *ty && r.sub == *sub {
                // A range with media-type parameters only matches an offer
                // with the same parameters, and ours have none.
                if r.has_params {
                    continue;
                }
                3
            } else if r.sub == "*" && r.ty == *ty {
                2
            } else if r.ty == "*" && r.sub == "*" {
                1
            } else {
                continue;
            };
            if best[i].is_some_and(|(_, s)| spec <= s) {
                continue;
            }
            best[i] = Some((r.q, spec));
        }
    }
    let html = best[0].map(|b| b.0).filter(|q| *q > 0.0);
    let json = best[1].map(|b| b.0).filter(|q| *q > 0.0);
    match (html, json) {
        (Some(h), Some(j)) if j > h => Flavour::Json,
        (Some(_), _) => Flavour::Html,
        (None, Some(_)) => Flavour::Json,
        (None, None) => Flavour::Plain,
    }
}

struct AcceptRange {
    ty: String,
    sub: String,
    has_params: bool,
    q: f64,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// A cursor over the Accept grammar WebOb validates with its regexes.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<&str> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i]).ok()
    }
    fn quoted(&mut self) -> bool {
        if self.peek() != Some(b'"') {
            return false;
        }
        let start = self.i;
        self.i += 1;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return true;
                }
                Some(b'\\') => match self.b.get(self.i + 1) {
                    Some(&c)
                        if c == b'\t' || c == b' ' || (0x21..=0x7e).contains(&c) || c >= 0x80 =>
                    {
                        self.i += 2
                    }
                    _ => break,
                },
                Some(c)
                    if c == b'\t'
                        || c == b' '
                        || c == 0x21
                        || (0x23..=0x7e).contains(&c)
                        || c >= 0x80 =>
                {
                    self.i += 1
                }
                _ => break,
            }
        }
        self.i = start;
        false
    }
    fn token_or_quoted(&mut self) -> bool {
        self.quoted() || self.token().is_some()
    }
    /// `OWS ';' OWS` followed by what `f` accepts; rewinds on failure.
    fn semi_then(&mut self, f: impl FnOnce(&mut Self) -> bool) -> bool {
        let save = self.i;
        self.ows();
        if self.peek() == Some(b';') {
            self.i += 1;
            self.ows();
            if f(self) {
                return true;
            }
        }
        self.i = save;
        false
    }
}

/// qvalue = `0(\.\d{0,3})?` | `1(\.0{0,3})?`
fn qvalue(c: &mut Cur<'_>) -> Option<f64> {
    let start = c.i;
    let first = c.peek().filter(|d| *d == b'0' || *d == b'1')?;
    c.i += 1;
    if c.peek() == Some(b'.') {
        c.i += 1;
        let mut n = 0;
        while n < 3
            && c.peek().is_some_and(|d| {
                if first == b'1' {
                    d == b'0'
                } else {
                    d.is_ascii_digit()
                }
            })
        {
            c.i += 1;
            n += 1;
        }
    }
    let text = std::str::from_utf8(&c.b[start..c.i]).ok()?;
    text.trim_end_matches('.').parse().ok()
}

fn media_range(c: &mut Cur<'_>) -> Option<AcceptRange> {
    let ty = c.token()?.to_ascii_lowercase();
    if c.peek() != Some(b'/') {
        return None;
    }
    c.i += 1;
    let sub = c.token()?.to_ascii_lowercase();
    let mut has_params = false;
    // Media type parameters: `;name=value`, never named q.
    while c.semi_then(|c| {
        if matches!(c.peek(), Some(b'q' | b'Q')) && c.b.get(c.i + 1) == Some(&b'=') {
            return false;
        }
        c.token().is_some() && c.peek() == Some(b'=') && {
            c.i += 1;
            c.token_or_quoted()
        }
    }) {
        has_params = true;
    }
    let mut q = 1.0;
    let mut weight = None;
    if c.semi_then(|c| {
        if matches!(c.peek(), Some(b'q' | b'Q')) && c.b.get(c.i + 1) == Some(&b'=') {
            c.i += 2;
            weight = qvalue(c);
            weight.is_some()
        } else {
            false
        }
    }) {
        q = weight.unwrap_or(1.0);
        // Accept extensions: `;token[=value]`.
        while c.semi_then(|c| {
            c.token().is_some() && {
                if c.peek() == Some(b'=') {
                    c.i += 1;
                    c.token_or_quoted()
                } else {
                    true
                }
            }
        }) {}
    }
    Some(AcceptRange {
        ty,
        sub,
        has_params,
        q,
    })
}

/// Parse per WebOb's `_list_0_or_more` regex: empty, or (`,` | element)
/// then any number of `OWS , [OWS element]`. `None` when invalid.
fn parse_accept(b: &[u8]) -> Option<Vec<AcceptRange>> {
    let mut ranges = Vec::new();
    if b.is_empty() {
        return Some(ranges);
    }
    let mut c = Cur { b, i: 0 };
    if c.peek() == Some(b',') {
        c.i += 1;
    } else {
        ranges.push(media_range(&mut c)?);
    }
    loop {
        if c.i == b.len() {
            return Some(ranges);
        }
        c.ows();
        if c.peek() != Some(b',') {
            return None;
        }
        c.i += 1;
        // `(OWS element)?`: on failure nothing after the comma is consumed.
        let save = c.i;
        c.ows();
        match media_range(&mut c) {
            Some(r) => ranges.push(r),
            None => c.i = save,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hdrs(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn accept(a: &str) -> HeaderMap {
        hdrs(&[("accept", a)])
    }

    fn body_of(e: &HttpError, h: &HeaderMap, m: &Method) -> (String, String) {
        let r = e.render(h, m);
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = match e.render(h, m).into_body().exact_len() {
            Some(0) => String::new(),
            _ => {
                let fut = e.render(h, m).into_body().collect(1 << 20);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                String::from_utf8(rt.block_on(fut).unwrap().to_vec()).unwrap()
            }
        };
        (ct, text)
    }

    // Expected bodies below were produced by WebOb 1.8.11
    // (`Request.blank(...).get_response(webob.exc.HTTP...())`).

    #[test]
    fn not_found_flavours() {
        let e = HttpError::new(StatusCode::NOT_FOUND);
        let get = Method::GET;
        assert_eq!(
            body_of(&e, &HeaderMap::new(), &get),
            (
                CONTENT_TYPE_PLAIN.into(),
                "404 Not Found\n\nThe resource could not be found.\n\n   ".into()
            )
        );
        assert_eq!(
            body_of(&e, &accept(""), &get).1,
            "404 Not Found\n\nThe resource could not be found.\n\n   "
        );
        assert_eq!(
            body_of(&e, &accept("application/json"), &get),
            (
                CONTENT_TYPE_JSON.into(),
                r#"{"message": "The resource could not be found.<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}"#.into()
            )
        );
        let html = "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  The resource could not be found.<br /><br />\n\n\n\n </body>\n</html>";
        assert_eq!(
            body_of(&e, &accept("text/html"), &get),
            (CONTENT_TYPE_HTML.into(), html.into())
        );
        assert_eq!(body_of(&e, &accept("*/*"), &get).1, html);
    }

    #[test]
    fn explanation_override() {
        let e = HttpError::new(StatusCode::NOT_FOUND).explanation("Image 1 not found.");
        assert_eq!(
            body_of(&e, &accept("application/json"), &Method::GET).1,
            r#"{"message": "Image 1 not found.<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}"#
        );
        assert_eq!(
            body_of(&e, &accept("text/plain"), &Method::GET).1,
            "404 Not Found\n\nImage 1 not found.\n\n   "
        );
    }

    #[test]
    fn detail_escaping() {
        let e = HttpError::new(StatusCode::BAD_REQUEST).detail("bad \"x\" <y> & \u{e9}");
        assert_eq!(
            body_of(&e, &accept("application/json"), &Method::GET).1,
            r#"{"message": "The server could not comply with the request since it is either malformed or otherwise incorrect.<br /><br />\nbad \"x\" <y> & \u00e9\n\n", "code": "400 Bad Request", "title": "Bad Request"}"#
        );
        assert_eq!(
            body_of(&e, &accept("text/html"), &Method::GET).1,
            "<html>\n <head>\n  <title>400 Bad Request</title>\n </head>\n <body>\n  <h1>400 Bad Request</h1>\n  The server could not comply with the request since it is either malformed or otherwise incorrect.<br /><br />\nbad &quot;x&quot; &lt;y&gt; &amp; &#233;\n\n\n </body>\n</html>"
        );
        assert_eq!(
            body_of(&e, &HeaderMap::new(), &Method::GET).1,
            "400 Bad Request\n\nThe server could not comply with the request since it is either malformed or otherwise incorrect.\n\n bad \"x\"  & \u{e9}  "
        );
        let e = HttpError::new(StatusCode::BAD_REQUEST)
            .explanation("it's <b>bold</b>\u{2603} \u{1F600}");
        assert_eq!(
            body_of(&e, &accept("text/html"), &Method::GET).1,
            "<html>\n <head>\n  <title>400 Bad Request</title>\n </head>\n <body>\n  <h1>400 Bad Request</h1>\n  it&#x27;s &lt;b&gt;bold&lt;/b&gt;&#9731; &#128512;<br /><br />\n\n\n\n </body>\n</html>"
        );
        assert_eq!(
            body_of(&e, &accept("application/json"), &Method::GET).1,
            r#"{"message": "it's <b>bold</b>\u2603 \ud83d\ude00<br /><br />\n\n\n", "code": "400 Bad Request", "title": "Bad Request"}"#
        );
        assert_eq!(
            body_of(&e, &accept("text/plain"), &Method::GET).1,
            "400 Bad Request\n\nit's bold\u{2603} \u{1F600}\n\n   "
        );
    }

    #[test]
    fn custom_templates() {
        let e = HttpError::new(StatusCode::METHOD_NOT_ALLOWED).header("Allow", "GET, HEAD");
        let r = e.render(&accept("application/json"), &Method::GET);
        assert_eq!(r.headers().get("allow").unwrap(), "GET, HEAD");
        assert_eq!(
            body_of(&e, &accept("application/json"), &Method::GET).1,
            r#"{"message": "The method GET is not allowed for this resource. <br /><br />\n", "code": "405 Method Not Allowed", "title": "Method Not Allowed"}"#
        );
        assert_eq!(
            body_of(&e, &HeaderMap::new(), &Method::GET).1,
            "405 Method Not Allowed\n\nThe method GET is not allowed for this resource. \n\n "
        );
        assert_eq!(
            body_of(&e, &accept("text/html"), &Method::GET).1,
            "<html>\n <head>\n  <title>405 Method Not Allowed</title>\n </head>\n <body>\n  <h1>405 Method Not Allowed</h1>\n  The method GET is not allowed for this resource. <br /><br />\n\n </body>\n</html>"
        );
        let e = HttpError::new(StatusCode::NOT_ACCEPTABLE);
        assert_eq!(
            body_of(&e, &accept("application/json"), &Method::GET).1,
            r#"{"message": "The resource could not be generated that was acceptable to your browser\n(content of type application/json. <br /><br />\n", "code": "406 Not Acceptable", "title": "Not Acceptable"}"#
        );
        assert_eq!(
            body_of(&e, &HeaderMap::new(), &Method::GET).1,
            "406 Not Acceptable\n\nThe resource could not be generated that was acceptable to your browser (content of type ${HTTP_ACCEPT}. \n\n "
        );
        let e = HttpError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            body_of(
                &e,
                &hdrs(&[
                    ("accept", "text/html"),
                    ("content-type", "application/x<y>")
                ]),
                &Method::POST
            )
            .1,
            "<html>\n <head>\n  <title>415 Unsupported Media Type</title>\n </head>\n <body>\n  <h1>415 Unsupported Media Type</h1>\n  The request media type application/x&lt;y&gt; is not supported by this server.\n<br /><br />\n\n </body>\n</html>"
        );
        assert_eq!(
            body_of(
                &e.clone().detail("d"),
                &accept("application/json"),
                &Method::POST
            )
            .1,
            r#"{"message": "The request media type text/plain is not supported by this server.\n<br /><br />\nd", "code": "415 Unsupported Media Type", "title": "Unsupported Media Type"}"#
        );
        let e = HttpError::new(StatusCode::NOT_IMPLEMENTED);
        assert_eq!(
            body_of(&e, &HeaderMap::new(), &Method::GET).1,
            "501 Not Implemented\n\n The request method GET is not implemented for this server. \n\n "
        );
    }

    #[test]
    fn other_statuses() {
        let e = HttpError::new(StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body_of(&e, &accept("application/json"), &Method::GET).1,
            r#"{"message": "The server has either erred or is incapable of performing the requested operation.<br /><br />\n\n\n", "code": "500 Internal Server Error", "title": "Internal Server Error"}"#
        );
        let e = HttpError::new(StatusCode::UNAUTHORIZED)
            .header("WWW-Authenticate", "Keystone uri=\"http://k\"");
        let (ct, b) = body_of(&e, &HeaderMap::new(), &Method::GET);
        assert_eq!(ct, CONTENT_TYPE_PLAIN);
        assert_eq!(
            b,
            "401 Unauthorized\n\nThis server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.\n\n   "
        );
        assert_eq!(
            body_of(
                &HttpError::from_status(413),
                &accept("application/json"),
                &Method::GET
            )
            .1,
            r#"{"message": "The body of your request was too large for this server.<br /><br />\n\n\n", "code": "413 Request Entity Too Large", "title": "Request Entity Too Large"}"#
        );
        let e = HttpError::new(StatusCode::FORBIDDEN)
            .comment("c<1>")
            .detail("d");
        assert_eq!(
            body_of(&e, &accept("text/html"), &Method::GET).1,
            "<html>\n <head>\n  <title>403 Forbidden</title>\n </head>\n <body>\n  <h1>403 Forbidden</h1>\n  Access was denied to this resource.<br /><br />\nd\n<!-- c&lt;1&gt; -->\n\n </body>\n</html>"
        );
        assert_eq!(
            body_of(&e, &HeaderMap::new(), &Method::GET).1,
            "403 Forbidden\n\nAccess was denied to this resource.\n\n d  c  "
        );
        assert_eq!(e.to_string(), "d");
        assert_eq!(
            reason_phrase(StatusCode::PAYLOAD_TOO_LARGE),
            "Request Entity Too Large"
        );
        assert_eq!(reason_phrase(StatusCode::IM_A_TEAPOT), "I'm a teapot");
    }

    #[test]
    fn head_is_empty_html() {
        let e = HttpError::new(StatusCode::METHOD_NOT_ALLOWED).header("Allow", "GET");
        let r = e.render(&accept("application/json"), &Method::HEAD);
        let names: Vec<_> = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            vec![("content-type", CONTENT_TYPE_HTML), ("allow", "GET")]
        );
        assert_eq!(r.body().exact_len(), Some(0));
        let r = HttpError::new(StatusCode::NO_CONTENT).render(&HeaderMap::new(), &Method::GET);
        assert!(r.headers().get("content-type").is_none());
    }

    #[test]
    fn accept_negotiation() {
        // (header, WebOb's choice)
        let cases = [
            ("", Flavour::Plain),
            ("application/json", Flavour::Json),
            ("application/json, text/html;q=0.9", Flavour::Json),
            ("application/json;q=0.5, text/html", Flavour::Html),
            ("application/xml", Flavour::Plain),
            ("text/*", Flavour::Html),
            ("application/*", Flavour::Json),
            ("application/json;q=0", Flavour::Plain),
            ("foo bar, ;;", Flavour::Html),
            ("application/json;charset=utf-8", Flavour::Plain),
            ("application/json ;q=0.8, text/*;q=0.7", Flavour::Json),
            ("*/*;q=0.5, application/json;q=0.5", Flavour::Html),
            ("application/json;Q=1.0;ext", Flavour::Json),
            (",application/json", Flavour::Html),
            ("application/json,", Flavour::Json),
            ("application/json ", Flavour::Html),
            (" application/json", Flavour::Html),
            ("application/json;q=1.5", Flavour::Html),
            ("text/html;q=0,*/*", Flavour::Json),
            ("APPLICATION/JSON", Flavour::Json),
            ("application/json;q=0.001, */*;q=0.0001", Flavour::Html),
            ("*/*", Flavour::Html),
        ];
        for (h, want) in cases {
            assert_eq!(negotiate(h), want, "Accept: {h:?}");
        }
    }
}
