//! A minimal HTTP/1.1 client for DAV tests: any method, any header, the
//! raw response. Small on purpose, so a test sees exactly what went over
//! the wire.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The sync token of a `sync-collection` answer.
    pub fn sync_token(&self) -> String {
        let start = self.body.find("<d:sync-token>").expect("a sync token") + 14;
        let end = self.body[start..].find('<').expect("the token's end") + start;
        self.body[start..end].to_string()
    }

    pub fn etag(&self) -> String {
        self.header("etag").expect("an ETag header").to_string()
    }
}

/// Sends one request on a fresh connection and reads the whole reply.
pub fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    exchange(port, method, path, headers, body.len() as u64, body)
}

/// [`send`] to a server that may be killed meanwhile: None when the
/// connection fails or the answer is cut short.
pub fn try_send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    // A head without its whole body (by Content-Length) was cut short.
    let reply = parse(&raw);
    let declared = reply
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| raw.len() - (split + 4) < l) {
        return None;
    }
    Some(reply)
}

/// One request with a binary body and a binary answer (up to 64 MiB), for
/// files and attachments, which [`send`] reads as text.
pub fn binary(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(body.to_vec()).expect("a request");
    let response = agent.run(request).expect("an answer");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    (status, bytes)
}

/// Sends a request that declares a body of `length` bytes and sends none:
/// what a refusal before the body is read (413) must answer.
pub fn send_declaring(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    length: u64,
) -> Reply {
    exchange(port, method, path, headers, length, b"")
}

/// Sends a request whose body goes in two halves, running `between`
/// after the first: meanwhile the request is in flight, unanswered (a
/// proxy counts it as in flight on its backend).
pub fn send_in_two_parts(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    between: impl FnOnce(),
) -> Reply {
    let (first, second) = body.split_at(body.len() / 2);
    let mut stream = open(port, method, path, headers, body.len() as u64);
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    between();
    stream.write_all(second).unwrap();
    answer(stream)
}

fn exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    length: u64,
    body: &[u8],
) -> Reply {
    let mut stream = open(port, method, path, headers, length);
    stream.write_all(body).unwrap();
    answer(stream)
}

/// Sends one request from `source`, a local address of the test's
/// choosing (any of 127.0.0.0/8 on loopback), as a client elsewhere would.
pub fn send_from(
    source: std::net::IpAddr,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = connect_from(source, port);
    head(&mut stream, port, method, path, headers, body.len() as u64);
    stream.write_all(body).unwrap();
    answer(stream)
}

/// A connection to `port` on 127.0.0.1 from `source` (std cannot bind
/// before connecting; tokio's socket can).
fn connect_from(source: std::net::IpAddr, port: u16) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a runtime");
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::new(source, 0))?;
            let stream = socket
                .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
                .await?;
            stream.into_std()
        })
        .unwrap_or_else(|e| panic!("connecting from {source}: {e}"));
    stream.set_nonblocking(false).unwrap();
    stream
}

/// A connection with the request's head sent.
fn open(port: u16, method: &str, path: &str, headers: &[(&str, &str)], length: u64) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    head(&mut stream, port, method, path, headers, length);
    stream
}

/// Writes a request's head.
fn head(
    stream: &mut TcpStream,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    length: u64,
) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {length}\r\n\r\n"));
    stream.write_all(head.as_bytes()).unwrap();
}

fn answer(mut stream: TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// A client bound to one server and one user.
pub struct Dav {
    pub port: u16,
    auth: String,
}

/// An `Authorization: Basic` value.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

impl Dav {
    pub fn new(port: u16, user: &str, password: &str) -> Dav {
        Dav {
            port,
            auth: basic_auth(user, password),
        }
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut all = vec![("Authorization", self.auth.as_str())];
        all.extend_from_slice(headers);
        send(self.port, method, path, &all, body.as_bytes())
    }

    pub fn propfind(&self, path: &str, depth: &str, body: &str) -> Reply {
        self.request(
            "PROPFIND",
            path,
            &[("Depth", depth), ("Content-Type", "application/xml")],
            body,
        )
    }

    pub fn report(&self, path: &str, body: &str) -> Reply {
        self.request(
            "REPORT",
            path,
            &[("Depth", "1"), ("Content-Type", "application/xml")],
            body,
        )
    }

    pub fn put(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut all = vec![("Content-Type", content_type)];
        all.extend_from_slice(headers);
        self.request("PUT", path, &all, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], "")
    }

    /// A `sync-collection` REPORT for getetag since `token` ("" for the
    /// initial sync), with at most `limit` results when given.
    pub fn sync_collection(&self, path: &str, token: &str, limit: Option<u32>) -> Reply {
        let limit = limit
            .map(|n| format!("<limit><nresults>{n}</nresults></limit>"))
            .unwrap_or_default();
        self.report(
            path,
            &format!(
                r#"<sync-collection xmlns="DAV:"><sync-token>{token}</sync-token><sync-level>1</sync-level>{limit}<prop><getetag/></prop></sync-collection>"#
            ),
        )
    }
}

/// Asserts a reply's status, showing the whole reply when it differs.
pub fn assert_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{reply:#?}");
}
