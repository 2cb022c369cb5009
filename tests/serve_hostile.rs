//! The browser view under attack, with real sockets: malformed HTTP,
//! oversized heads and bodies, WebSocket frames of every opcode and
//! length, slowloris clients, 200 connections at once and a token guesser.
//! Each refusal is checked for what a client sees (the status, or the
//! connection closed), and after each the server still serves a good
//! request; threads and memory stay bounded.
//!
//! The tests of this file run one at a time (they count the process's
//! threads).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actmap::live::{Monitor, StoreOptions};
use actmap::serve::{ServeOptions, ServerHandle};
use tungstenite::Message;
use tungstenite::client::IntoClientRequest;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn start(opts: ServeOptions) -> (Monitor, ServerHandle) {
    let monitor = Monitor::new(StoreOptions::default()).unwrap();
    let sender = monitor.sender();
    for r in 0..8 {
        let row: Vec<f32> = (0..16).map(|c| (r * c) as f32).collect();
        sender.push_row("acts", &row).unwrap();
    }
    let server = monitor
        .serve(ServeOptions {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..opts
        })
        .unwrap();
    (monitor, server)
}

/// What came back for a raw request.
#[derive(Debug, PartialEq)]
enum Answer {
    /// A response with this status.
    Status(u16, String),
    /// The server closed the connection without a response.
    Closed,
    /// Nothing within the read timeout (the connection is still open).
    Silent,
}

/// Read one response (or the close) from `c`.
fn answer(c: &mut TcpStream, timeout: Duration) -> Answer {
    c.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match c.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if buf.is_empty() {
                    return Answer::Silent;
                }
                break;
            }
            Err(_) => break,
        }
    }
    if buf.is_empty() {
        return Answer::Closed;
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Answer::Status(code, text)
}

fn raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut c = TcpStream::connect(addr).unwrap();
    let _ = c.write_all(request);
    answer(&mut c, Duration::from_secs(15))
}

fn good_get(server: &ServerHandle) -> Answer {
    let addr = server.local_addr();
    let req = format!(
        "GET /?token={} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        server.token()
    );
    raw(addr, req.as_bytes())
}

fn assert_serves(server: &ServerHandle, after: &str) {
    match good_get(server) {
        Answer::Status(200, _) => {}
        other => panic!("after {after}: a good request got {other:?}"),
    }
}

/// Threads of this process whose name starts with `prefix` (all when "").
fn threads(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|n| n.starts_with(prefix)))
        .count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn malformed_http_is_refused_and_the_server_goes_on() {
    let _one = serial();
    let (_m, server) = start(ServeOptions::default());
    let addr = server.local_addr();
    let token = server.token().to_string();
    let host = format!("Host: {addr}\r\n");
    let long_uri = format!(
        "GET /?token={token}&{} HTTP/1.1\r\n{host}\r\n",
        "a".repeat(20_000)
    );
    let many_headers = format!(
        "GET /?token={token} HTTP/1.1\r\n{host}{}\r\n",
        (0..100).map(|i| format!("X-{i}: v\r\n")).collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("binary garbage", b"\x00\x01\x02\xff\xfe\r\n\r\n".to_vec()),
        ("a bare method", b"GET\r\n\r\n".to_vec()),
        (
            "no version",
            format!("GET /?token={token}\r\n{host}\r\n").into_bytes(),
        ),
        (
            "an unknown version",
            format!("GET /?token={token} HTTP/9.9\r\n{host}\r\n").into_bytes(),
        ),
        (
            "a header without a colon",
            format!("GET / HTTP/1.1\r\n{host}nonsense\r\n\r\n").into_bytes(),
        ),
        (
            "a control byte in a header",
            format!("GET / HTTP/1.1\r\n{host}X: a\x01b\r\n\r\n").into_bytes(),
        ),
        (
            "a space before the colon",
            format!("GET / HTTP/1.1\r\n{host}X : a\r\n\r\n").into_bytes(),
        ),
        (
            "a bad Content-Length",
            format!("GET / HTTP/1.1\r\n{host}Content-Length: abc\r\n\r\n").into_bytes(),
        ),
        (
            "two Content-Lengths",
            format!("GET / HTTP/1.1\r\n{host}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab").into_bytes(),
        ),
        (
            "a bad chunked body",
            format!("GET / HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\n\r\nzz\r\n").into_bytes(),
        ),
        ("a URI of 20 kB", long_uri.into_bytes()),
        ("100 headers", many_headers.into_bytes()),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        (
            "a CONNECT",
            format!("CONNECT 127.0.0.1:22 HTTP/1.1\r\n{host}\r\n").into_bytes(),
        ),
        (
            "an absolute URI elsewhere",
            format!("GET http://evil.example/?token={token} HTTP/1.1\r\nHost: evil.example\r\n\r\n")
                .into_bytes(),
        ),
    ];
    for (what, req) in &cases {
        match raw(addr, req) {
            Answer::Closed => {}
            Answer::Status(code, text) => assert!(
                (400..500).contains(&code) || code == 505,
                "{what}: expected a 4xx refusal, got {code}: {text}"
            ),
            Answer::Silent => panic!("{what}: no answer and no close"),
        }
        assert_serves(&server, what);
    }
    // A body announced as 1 TB is refused before a byte of it is read.
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(
        format!("GET /?token={token} HTTP/1.1\r\n{host}Content-Length: 1000000000000\r\n\r\n").as_bytes(),
    )
    .unwrap();
    match answer(&mut c, Duration::from_secs(15)) {
        Answer::Status(413, text) => assert!(text.contains("no body"), "{text}"),
        other => panic!("a 1 TB body: {other:?}"),
    }
    // A head of 1 MB is cut off at the limit (16 kB), not buffered.
    let before = rss_kib();
    let mut c = TcpStream::connect(addr).unwrap();
    let mut head = format!("GET /?token={token} HTTP/1.1\r\n{host}").into_bytes();
    head.extend(std::iter::repeat_n(b'a', 1 << 20));
    let _ = c.write_all(&head);
    assert!(
        matches!(
            answer(&mut c, Duration::from_secs(15)),
            Answer::Closed | Answer::Status(431, _)
        ),
        "a 1 MB head"
    );
    assert!(rss_kib() < before + 16 * 1024, "a 1 MB head was buffered");
    assert_serves(&server, "oversized heads and bodies");
}

#[test]
fn slowloris_clients_are_closed_and_others_are_served() {
    let _one = serial();
    let (_m, server) = start(ServeOptions {
        head_timeout: Duration::from_secs(1),
        max_connections: 4,
        ..ServeOptions::default()
    });
    let addr = server.local_addr();
    // Two say nothing, two trickle a head a byte at a time: together they
    // hold every connection the server takes.
    let mut silent: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut trickle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let started = Instant::now();
    let mut closed = [false; 2];
    for &b in head.iter() {
        for (i, t) in trickle.iter_mut().enumerate() {
            if t.write_all(&[b]).is_err() {
                closed[i] = true;
            }
        }
        if closed.iter().all(|&c| c) || started.elapsed() > Duration::from_secs(20) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for t in &mut trickle {
        let a = answer(t, Duration::from_secs(10));
        assert!(
            matches!(a, Answer::Closed | Answer::Status(408, _)),
            "a trickling head is cut off at the head timeout: {a:?}"
        );
    }
    for s in &mut silent {
        let a = answer(s, Duration::from_secs(10));
        assert!(
            matches!(a, Answer::Closed | Answer::Status(408, _)),
            "a connection that sends nothing is closed: {a:?}"
        );
    }
    // Their places are free again.
    wait_until("the slow connections to be counted out", || {
        matches!(good_get(&server), Answer::Status(200, _))
    });
    // A keep-alive connection that goes quiet after a response is closed too.
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(format!("GET /?token={} HTTP/1.1\r\nHost: {addr}\r\n\r\n", server.token()).as_bytes())
        .unwrap();
    assert!(matches!(
        answer(&mut c, Duration::from_secs(10)),
        Answer::Status(200, _)
    ));
    let a = answer(&mut c, Duration::from_secs(10));
    assert!(
        matches!(a, Answer::Closed | Answer::Status(408, _)),
        "an idle keep-alive: {a:?}"
    );
}

type Ws = tungstenite::WebSocket<TcpStream>;

fn ws_connect(server: &ServerHandle) -> Ws {
    let addr = server.local_addr();
    let mut req = format!("ws://{addr}/ws?token={}", server.token())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Origin", format!("http://{addr}").parse().unwrap());
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tungstenite::client(req, stream).expect("handshake").0
}

/// A client frame with any header bits: FIN, RSV, opcode, mask, and a
/// length field that may claim more than the payload that follows.
fn ws_frame(fin: bool, rsv: u8, opcode: u8, masked: bool, claimed: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let m = if masked { 0x80 } else { 0 };
    if claimed < 126 {
        out.push(m | claimed as u8);
    } else if claimed <= u16::MAX as u64 {
        out.push(m | 126);
        out.extend_from_slice(&(claimed as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&claimed.to_be_bytes());
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if masked {
        out.extend_from_slice(&key);
    }
    out.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| if masked { b ^ key[i % 4] } else { *b }),
    );
    out
}

/// Send raw bytes on a view, then read what comes back: `true` when the
/// server ended the view (close frame, reset or end of stream).
fn hostile(ws: &mut Ws, bytes: &[u8], want_pong: Option<&[u8]>) -> bool {
    if ws.get_mut().write_all(bytes).is_err() {
        return true;
    }
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let start = Instant::now();
    loop {
        match ws.read() {
            Ok(Message::Pong(p)) if want_pong.is_some_and(|w| w == &p[..]) => return false,
            Ok(Message::Close(_)) => return true,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
        if start.elapsed() > Duration::from_secs(20) {
            return false;
        }
    }
}

#[test]
fn websocket_frames_of_every_opcode_and_length_are_taken_or_refused() {
    let _one = serial();
    let (_m, server) = start(ServeOptions {
        max_clients: 1,
        ..ServeOptions::default()
    });
    let big = vec![b'x'; 70_000];
    let mut cases: Vec<(String, Vec<u8>, bool)> = Vec::new();
    // Every opcode with a small payload; the reserved ones (3-7, 11-15) and
    // a continuation without a start end the view.
    for op in 0u8..16 {
        let ends = !matches!(op, 1 | 2 | 9 | 10);
        let payload: &[u8] = if op == 8 { b"\x03\xe8bye" } else { b"{\"t\":1}" };
        cases.push((
            format!("opcode {op}"),
            ws_frame(true, 0, op, true, payload.len() as u64, payload),
            ends || op == 8,
        ));
    }
    // The same frames unmasked (a client must mask): refused.
    for op in [1u8, 2, 9] {
        cases.push((
            format!("unmasked opcode {op}"),
            ws_frame(true, 0, op, false, 3, b"abc"),
            true,
        ));
    }
    // Reserved bits without an extension that defines them.
    for rsv in 1u8..8 {
        cases.push((format!("rsv {rsv}"), ws_frame(true, rsv, 1, true, 2, b"{}"), true));
    }
    // Lengths: empty, 125, the 16-bit form, at the limit, past the limit.
    for n in [0usize, 125, 126, 1000, 65_535] {
        cases.push((
            format!("binary of {n} bytes"),
            ws_frame(true, 0, 2, true, n as u64, &big[..n]),
            false,
        ));
    }
    cases.push((
        "text of 70 kB (over 64 kB)".into(),
        ws_frame(true, 0, 1, true, 70_000, &big),
        true,
    ));
    // A length claimed far past anything sent: refused from the header, nothing allocated.
    for claimed in [1u64 << 32, 1 << 62, (1 << 63) - 1, u64::MAX] {
        cases.push((
            format!("a claimed length of {claimed}"),
            ws_frame(true, 0, 2, true, claimed, b"abcd"),
            true,
        ));
    }
    // Control frames: longer than 125 bytes, or fragmented.
    cases.push((
        "a ping of 126 bytes".into(),
        ws_frame(true, 0, 9, true, 126, &big[..126]),
        true,
    ));
    cases.push((
        "a fragmented ping".into(),
        ws_frame(false, 0, 9, true, 2, b"hi"),
        true,
    ));
    // A message fragmented past the limit: 10 frames of 8 kB.
    let mut frag = ws_frame(false, 0, 1, true, 8000, &big[..8000]);
    for i in 0..9 {
        frag.extend(ws_frame(i == 8, 0, 0, true, 8000, &big[..8000]));
    }
    cases.push(("a message of 80 kB in 10 fragments".into(), frag, true));
    // Text that is not UTF-8 ends the view; text that is not a message is ignored.
    cases.push((
        "invalid UTF-8 text".into(),
        ws_frame(true, 0, 1, true, 3, b"\xff\xfe\xfd"),
        true,
    ));
    cases.push((
        "JSON of the wrong shape".into(),
        ws_frame(true, 0, 1, true, 24, b"{\"t\":\"wheel\",\"dy\":\"x\"}  "),
        false,
    ));

    let before = rss_kib();
    for (what, bytes, should_end) in &cases {
        let mut ws = ws_connect(&server);
        wait_until("the view to open", || server.clients() == 1);
        let pong = (bytes[0] & 0x0f == 9 && bytes[0] & 0x80 != 0 && !should_end).then_some(&b"{\"t\":1}"[..]);
        let ended = hostile(&mut ws, bytes, pong);
        assert_eq!(
            ended,
            *should_end,
            "{what}: the view {}",
            if ended { "was ended" } else { "went on" }
        );
        if !ended {
            // A view that took the frame still answers a ping.
            assert!(
                !hostile(&mut ws, &ws_frame(true, 0, 9, true, 2, b"ok"), Some(b"ok")),
                "{what}: no pong after"
            );
        }
        drop(ws);
        // One browser at most here: its place must come free for the next case.
        wait_until(&format!("{what}: the view's place to be freed"), || {
            server.clients() == 0
        });
    }
    assert!(
        rss_kib() < before + 64 * 1024,
        "memory grew by more than 64 MiB over the hostile frames"
    );
    assert_serves(&server, "hostile WebSocket frames");
}

#[test]
fn two_hundred_connections_at_once_are_bounded_in_threads_and_memory() {
    let _one = serial();
    let (_m, server) = start(ServeOptions::default());
    let addr = server.local_addr();
    let threads_before = threads("");
    let rss_before = rss_kib();
    // 200 keep-alive requests at once: 64 (the default limit) are served,
    // the rest closed at once; no thread per connection.
    let mut conns: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let req = format!("GET /?token={} HTTP/1.1\r\nHost: {addr}\r\n\r\n", server.token());
    for c in &mut conns {
        let _ = c.write_all(req.as_bytes());
    }
    let mut served = 0;
    let mut closed = 0;
    for c in &mut conns {
        match answer(c, Duration::from_secs(15)) {
            Answer::Status(200, _) => served += 1,
            Answer::Closed => closed += 1,
            other => panic!("one of 200 connections: {other:?}"),
        }
    }
    assert_eq!(served + closed, 200);
    assert!((1..=64).contains(&served), "{served} served at once (limit 64)");
    assert_eq!(threads(""), threads_before, "a connection costs no thread");
    assert!(
        rss_kib() < rss_before + 32 * 1024,
        "200 connections took more than 32 MiB"
    );
    drop(conns);
    wait_until("the connections to be counted out", || {
        matches!(good_get(&server), Answer::Status(200, _))
    });

    // 200 WebSocket views at once: 8 (the default) get a render thread, the rest 503.
    let views_before = threads("actmap-view");
    let mut req = format!("ws://{addr}/ws?token={}", server.token())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Origin", format!("http://{addr}").parse().unwrap());
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..200 {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        match tungstenite::client(req.clone(), stream) {
            Ok((ws, _)) => open.push(ws),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
                assert_eq!(r.status(), 503);
                refused += 1;
            }
            Err(e) => panic!("handshake: {e}"),
        }
    }
    assert_eq!(open.len(), 8, "the default 8 browsers");
    assert_eq!(refused, 192);
    assert!(
        threads("actmap-view") <= views_before + 8,
        "one render thread per view, 8 at most"
    );
    drop(open);
    wait_until("the views to close", || server.clients() == 0);
    wait_until("their render threads to end", || {
        threads("actmap-view") == views_before
    });
}

#[test]
fn token_guessing_is_slowed_to_two_tries_a_second() {
    let _one = serial();
    let (_m, server) = start(ServeOptions::default());
    let addr = server.local_addr();
    let get = |target: &str| -> Answer {
        raw(
            addr,
            format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    };
    let wrong = "/?token=0123456789abcdef0123456789abcdef0123456789abcdef";
    for i in 0..10 {
        match get(wrong) {
            Answer::Status(403, body) => assert!(body.contains("wrong token"), "{body}"),
            other => panic!("wrong token {i}: {other:?}"),
        }
    }
    // The burst is spent: tokens are no longer compared, not even the right one.
    match get(wrong) {
        Answer::Status(429, text) => {
            assert!(text.contains("too many wrong tokens"), "{text}");
            assert!(text.to_lowercase().contains("retry-after: 1"), "{text}");
        }
        other => panic!("the 11th wrong token: {other:?}"),
    }
    let right = format!("/?token={}", server.token());
    assert!(
        matches!(get(&right), Answer::Status(429, _)),
        "the right token waits too"
    );
    // A request without a token tells a guesser nothing and is not limited.
    assert!(matches!(get("/"), Answer::Status(403, t) if t.contains("needs its token")));
    // A WebSocket guess is limited the same way.
    let ws = format!(
        "GET /ws{} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        &wrong[1..]
    );
    assert!(matches!(raw(addr, ws.as_bytes()), Answer::Status(429, _)));
    // Two refills later (0.5 s each) the right token is let in again.
    std::thread::sleep(Duration::from_millis(1200));
    let after = get(&right);
    assert!(
        matches!(after, Answer::Status(200, _)),
        "the right token after the pause: {after:?}"
    );
    // 40 guesses in a row after that: only the tries the bucket holds (2.4
    // after the pause, plus one per 0.5 s the guesses took) are compared.
    let t = Instant::now();
    let compared = (0..40)
        .filter(|_| matches!(get(wrong), Answer::Status(403, _)))
        .count();
    let allowed = 3.4 + t.elapsed().as_secs_f64() / 0.5;
    assert!(
        compared as f64 <= allowed,
        "{compared} of 40 guesses were compared (at most {allowed:.1})"
    );
    assert!(compared < 40);
}
