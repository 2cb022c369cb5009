//! HTTP: the accept loop (connections bounded, request heads bounded and
//! timed out), and the one handler every request goes through: Host check,
//! GET only and no body, token (query or cookie), then the page or the
//! WebSocket (Origin checked, browsers bounded). Nothing is read from disk.

use std::net::{IpAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use super::Shared;
use super::client;

/// The page, embedded in the binary.
const PAGE: &str = include_str!("page.html");
/// Largest request head (request line and headers), in bytes.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in a request.
const MAX_HEADERS: usize = 64;
/// Wrong tokens taken at full speed before guessing is slowed down.
pub(crate) const TOKEN_BURST: f64 = 10.0;
/// Once the burst is spent, one more try per this interval.
pub(crate) const TOKEN_REFILL: Duration = Duration::from_millis(500);
/// Largest WebSocket message from a browser (input events are tiny).
pub(crate) const MAX_WS_MESSAGE: usize = 64 * 1024;

/// The page with its token and title filled in (HTML-escaped).
pub(super) fn page(token: &str, title: &str) -> String {
    PAGE.replace("{{TOKEN}}", &escape_html(token))
        .replace("{{TITLE}}", &escape_html(title))
}

fn escape_html(s: &str) -> String {
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

/// Rate limit on wrong tokens (a token bucket for the whole server: every
/// client is on this machine, so one address is as good as another). Once
/// [`TOKEN_BURST`] wrong tokens have come in quick succession, every
/// request that carries a token is answered 429 without being compared
/// until the bucket refills (one try per [`TOKEN_REFILL`]): a guesser gets
/// two tries a second. Views already open are not touched.
#[derive(Debug)]
pub(crate) struct TokenGuard {
    /// Tries left and when that was last brought up to date.
    state: Mutex<(f64, Instant)>,
    /// Whether the current lockout was reported on stderr.
    reported: std::sync::atomic::AtomicBool,
}

impl Default for TokenGuard {
    fn default() -> Self {
        TokenGuard {
            state: Mutex::new((TOKEN_BURST, Instant::now())),
            reported: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl TokenGuard {
    fn refill(state: &mut (f64, Instant)) {
        let now = Instant::now();
        let gained = now.duration_since(state.1).as_secs_f64() / TOKEN_REFILL.as_secs_f64();
        state.0 = (state.0 + gained).min(TOKEN_BURST);
        state.1 = now;
    }

    /// `Some(wait)` while tokens are not checked (the bucket is empty).
    fn locked(&self) -> Option<Duration> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Self::refill(&mut state);
        if state.0 >= 1.0 {
            self.reported.store(false, Ordering::Relaxed);
            return None;
        }
        Some(TOKEN_REFILL.mul_f64(1.0 - state.0))
    }

    /// A wrong token came in.
    fn failed(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Self::refill(&mut state);
        state.0 = (state.0 - 1.0).max(0.0);
        if state.0 < 1.0 && !self.reported.swap(true, Ordering::Relaxed) {
            eprintln!(
                "actmap: serve: {} wrong tokens in a row: someone is guessing; tokens are now checked at most every {} ms",
                TOKEN_BURST as u32,
                TOKEN_REFILL.as_millis()
            );
        }
    }
}

/// Counts an open connection until dropped.
struct ConnectionSlot(Arc<Shared>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connection_count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accept connections until `shutdown` is notified.
pub(super) async fn run(listener: TcpListener, shared: Arc<Shared>, shutdown: Arc<tokio::sync::Notify>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("actmap: serve: {e}");
            return;
        }
    };
    let router = Router::new().fallback(handle).with_state(shared.clone());
    let service = TowerToHyperService::new(router);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(shared.opts.head_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.notified() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(_) => {
                // Out of file descriptors, say: wait a little, go on.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let open = shared.connection_count.fetch_add(1, Ordering::AcqRel);
        let slot = ConnectionSlot(shared.clone());
        if open >= shared.opts.max_connections {
            // Refused: closed at once.
            drop(stream);
            drop(slot);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let conn = http
            .serve_connection(TokioIo::new(stream), service.clone())
            .with_upgrades();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = conn.await;
        });
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut r = (status, format!("actmap: {message}\n")).into_response();
    secure_headers(r.headers_mut());
    r
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// The host part of a `Host` header or an origin's authority, lowercased,
/// without port or IPv6 brackets.
pub(crate) fn host_name(authority: &str) -> String {
    let a = authority.trim().to_ascii_lowercase();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    match a.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => a,
    }
}

/// Whether a request for `host` (the Host header's name) is for this
/// server: loopback names always; any IP address when bound beyond
/// loopback; and the names the user allowed. A DNS-rebinding page comes
/// with its own domain name, which is refused.
pub(crate) fn host_allowed(host: &str, loopback_only: bool, allowed: &[String]) -> bool {
    if host.is_empty() {
        return false;
    }
    if host == "localhost" || allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || !loopback_only,
        Err(_) => false,
    }
}

/// Compare without an early exit (no timing hint about the token).
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("token="))
}

fn cookie_token<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// Every request comes here.
async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    drop(body);
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let loopback_only = super::is_loopback(&shared.opts.bind);
    if !host_allowed(&host_name(&host), loopback_only, &shared.opts.allowed_hosts) {
        return refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "refused: Host '{host}' is not this server (DNS rebinding protection); open the URL actmap printed, \
                 or allow the name with --allow-host"
            ),
        );
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "refused: only GET requests are served",
        );
    }
    let has_body = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || parts.headers.contains_key(header::TRANSFER_ENCODING);
    if has_body {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "refused: requests carry no body here",
        );
    }
    let from_query = query_token(parts.uri.query());
    let from_cookie = cookie_token(&parts.headers, &shared.cookie_name);
    if (from_query.is_some() || from_cookie.is_some())
        && let Some(wait) = shared.token_guard.locked()
    {
        let mut r = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "refused: too many wrong tokens lately; try again in a second",
        );
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    let good = |t: Option<&str>| t.is_some_and(|t| same_secret(t, &shared.token));
    if !good(from_query) && !good(from_cookie) {
        let why = if from_query.is_some() || from_cookie.is_some() {
            shared.token_guard.failed();
            "refused: wrong token"
        } else {
            "refused: this page needs its token; open the URL `actmap serve` printed (…/?token=…)"
        };
        return refuse(StatusCode::FORBIDDEN, why);
    }
    match parts.uri.path() {
        "/" => {
            let mut r = Response::new(Body::from(shared.page.clone()));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                     img-src blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'",
                ),
            );
            secure_headers(h);
            if good(from_query)
                && let Ok(v) = HeaderValue::from_str(&format!(
                    "{}={}; Path=/; HttpOnly; SameSite=Strict",
                    shared.cookie_name, shared.token
                ))
            {
                h.insert(header::SET_COOKIE, v);
            }
            r
        }
        "/ws" => {
            let origin = parts
                .headers
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok())
                .unwrap_or("");
            // Same origin only: the page this server sent.
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .unwrap_or("");
            if authority.is_empty() || !authority.eq_ignore_ascii_case(&host) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    &format!("refused: WebSocket from origin '{origin}', not this server's page"),
                );
            }
            let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                Ok(u) => u,
                Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("not a WebSocket request: {e}")),
            };
            let Some(slot) = client::ClientSlot::take(&shared) else {
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "refused: {} browsers are watching already (the most this server takes)",
                        shared.opts.max_clients
                    ),
                );
            };
            upgrade
                .max_message_size(MAX_WS_MESSAGE)
                .max_frame_size(MAX_WS_MESSAGE)
                .write_buffer_size(0)
                .on_upgrade(move |socket| client::run(socket, slot))
        }
        path => refuse(
            StatusCode::NOT_FOUND,
            &format!("{path}: not found (only / is served)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_name("127.0.0.1:8787"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8787"), "::1");
        assert_eq!(host_name("LocalHost"), "localhost");
        assert!(host_allowed("127.0.0.1", true, &[]));
        assert!(host_allowed("127.0.0.2", true, &[]));
        assert!(host_allowed("::1", true, &[]));
        assert!(host_allowed("localhost", true, &[]));
        assert!(!host_allowed("evil.example", true, &[]));
        assert!(!host_allowed("192.168.1.5", true, &[]));
        assert!(host_allowed("192.168.1.5", false, &[]));
        assert!(!host_allowed("gpu-box", false, &[]));
        assert!(host_allowed("gpu-box", false, &["GPU-box".into()]));
        assert!(!host_allowed("", true, &[]));
    }

    #[test]
    fn tokens_from_query_and_cookie() {
        assert_eq!(query_token(Some("a=1&token=abc")), Some("abc"));
        assert_eq!(query_token(Some("tokens=abc")), None);
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("x=1; actmap-token-1=zz"));
        assert_eq!(cookie_token(&h, "actmap-token-1"), Some("zz"));
        assert_eq!(cookie_token(&h, "actmap-token-2"), None);
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
        assert!(page("t<", "x\"y").contains("content=\"t&lt;\""));
    }
}
