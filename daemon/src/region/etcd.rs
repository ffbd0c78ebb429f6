//! A small blocking client of etcd's v3 API through its JSON gateway (`POST /v3/kv/range`,
//! `/v3/kv/put`, `/v3/kv/txn`, `/v3/kv/deleterange`, `/v3/lease/grant`,
//! `/v3/lease/keepalive`, `/v3/lease/revoke`): one HTTP/1.1 request per connection, over a
//! UNIX socket (`unix:///run/etcd.sock:0`, what the lab uses, reachable from every network
//! namespace) or TCP (`http://127.0.0.1:2379`). Keys and values travel base64-encoded, as the
//! gateway wants them.
//!
//! This owns the wire format only; what the keys mean is in the parent module.

use std::io::{Read, Write};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

/// How long one request may take before it fails (etcd answers in milliseconds when up).
const TIMEOUT: Duration = Duration::from_secs(2);
/// The largest answer read (a configuration is at most etcd's 1.5 MiB request limit).
const MAX_ANSWER: u64 = 8 << 20;

/// Where etcd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A UNIX socket path.
    Unix(std::path::PathBuf),
    /// `host:port` over TCP.
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "http://{a}"),
        }
    }
}

impl std::str::FromStr for Endpoint {
    type Err = String;

    /// `unix://PATH` (etcd's own spelling of a socket listener) or `http://HOST:PORT`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(format!("{s}: no socket path after unix://"));
            }
            return Ok(Endpoint::Unix(path.into()));
        }
        if let Some(addr) = s.strip_prefix("http://") {
            let addr = addr.trim_end_matches('/');
            if !addr.contains(':') {
                return Err(format!("{s}: expected http://HOST:PORT"));
            }
            return Ok(Endpoint::Tcp(addr.to_string()));
        }
        Err(format!(
            "{s}: an etcd endpoint is unix://PATH or http://HOST:PORT (https is not supported)"
        ))
    }
}

/// What can go wrong talking to etcd: each names the endpoint and the call.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("etcd at {endpoint}: {call}: {source}")]
    Io {
        endpoint: Endpoint,
        call: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("etcd at {endpoint}: {call}: {message}")]
    Answer {
        endpoint: Endpoint,
        call: &'static str,
        message: String,
    },
}

/// One key's value and the revision that last changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    pub mod_revision: i64,
    /// The lease the key is attached to (0: none).
    pub lease: i64,
}

/// A client: cheap to clone, holds no connection between calls.
#[derive(Debug, Clone)]
pub struct Etcd {
    endpoint: Endpoint,
}

impl Etcd {
    pub fn new(endpoint: Endpoint) -> Etcd {
        Etcd { endpoint }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Entry>, EtcdError> {
        let v = self.call("/v3/kv/range", "get", json!({ "key": b64(key) }))?;
        Ok(self.entries(&v, "get")?.into_iter().next())
    }

    /// Every key starting with `prefix`, in key order.
    pub fn prefix(&self, prefix: &str) -> Result<Vec<Entry>, EtcdError> {
        let body = json!({ "key": b64(prefix), "range_end": b64(&range_end(prefix)) });
        let v = self.call("/v3/kv/range", "range", body)?;
        self.entries(&v, "range")
    }

    /// Sets `key` (attached to `lease` unless 0).
    pub fn put(&self, key: &str, value: &[u8], lease: i64) -> Result<(), EtcdError> {
        let mut body = json!({ "key": b64(key), "value": B64.encode(value) });
        if lease != 0 {
            body["lease"] = json!(lease.to_string());
        }
        self.call("/v3/kv/put", "put", body).map(drop)
    }

    /// Deletes `key`; whether it was there.
    pub fn delete(&self, key: &str) -> Result<bool, EtcdError> {
        let v = self.call("/v3/kv/deleterange", "delete", json!({ "key": b64(key) }))?;
        Ok(int(&v["deleted"]) > 0)
    }

    /// Sets every `(key, value)` at once if `key`'s last change is revision `expected` (0: if
    /// the key does not exist); false (nothing written) if someone changed it first.
    pub fn put_if(
        &self,
        key: &str,
        expected: i64,
        puts: &[(&str, &[u8])],
    ) -> Result<bool, EtcdError> {
        let success: Vec<Value> = puts
            .iter()
            .map(|(k, v)| json!({ "request_put": { "key": b64(k), "value": B64.encode(v) } }))
            .collect();
        let body = json!({
            "compare": [{
                "key": b64(key),
                "target": "MOD",
                "result": "EQUAL",
                "mod_revision": expected.to_string(),
            }],
            "success": success,
        });
        let v = self.call("/v3/kv/txn", "compare-and-swap", body)?;
        Ok(v["succeeded"].as_bool().unwrap_or(false))
    }

    /// A lease of `ttl` seconds: its id.
    pub fn grant(&self, ttl: u64) -> Result<i64, EtcdError> {
        let v = self.call(
            "/v3/lease/grant",
            "lease grant",
            json!({ "TTL": ttl.to_string() }),
        )?;
        match int(&v["ID"]) {
            0 => Err(self.answer("lease grant", "no lease id in the answer")),
            id => Ok(id),
        }
    }

    /// Renews `lease`; false when it has expired (the keys on it are gone).
    pub fn keep_alive(&self, lease: i64) -> Result<bool, EtcdError> {
        let v = self.call(
            "/v3/lease/keepalive",
            "lease keep-alive",
            json!({ "ID": lease.to_string() }),
        )?;
        // The gateway streams one answer: {"result": {"ID": .., "TTL": ..}}; TTL 0 or absent
        // means the lease is gone.
        Ok(int(&v["result"]["TTL"]) > 0)
    }

    /// Seconds `lease` has left; `None` when it has expired.
    pub fn time_to_live(&self, lease: i64) -> Result<Option<i64>, EtcdError> {
        let v = self.call(
            "/v3/lease/timetolive",
            "lease time-to-live",
            json!({ "ID": lease.to_string() }),
        )?;
        Ok(match int(&v["TTL"]) {
            ttl if ttl < 0 => None,
            ttl => Some(ttl),
        })
    }

    /// Ends `lease` now: the keys on it go with it.
    pub fn revoke(&self, lease: i64) -> Result<(), EtcdError> {
        self.call(
            "/v3/lease/revoke",
            "lease revoke",
            json!({ "ID": lease.to_string() }),
        )
        .map(drop)
    }

    fn entries(&self, v: &Value, call: &'static str) -> Result<Vec<Entry>, EtcdError> {
        let Some(kvs) = v.get("kvs") else {
            return Ok(Vec::new());
        };
        let kvs = kvs
            .as_array()
            .ok_or_else(|| self.answer(call, "kvs is not a list"))?;
        kvs.iter()
            .map(|kv| {
                let text = |f: &str| kv[f].as_str().unwrap_or("");
                let key = B64
                    .decode(text("key"))
                    .ok()
                    .and_then(|k| String::from_utf8(k).ok())
                    .ok_or_else(|| self.answer(call, "a key is not base64 UTF-8"))?;
                let value = B64
                    .decode(text("value"))
                    .map_err(|_| self.answer(call, &format!("{key}: value is not base64")))?;
                Ok(Entry {
                    key,
                    value,
                    mod_revision: int(&kv["mod_revision"]),
                    lease: int(&kv["lease"]),
                })
            })
            .collect()
    }

    fn answer(&self, call: &'static str, message: &str) -> EtcdError {
        EtcdError::Answer {
            endpoint: self.endpoint.clone(),
            call,
            message: message.to_string(),
        }
    }

    /// POSTs `body` to `path` and returns the JSON answer; an error answer (`{"error": ..}`
    /// or an HTTP status other than 200) is an [`EtcdError::Answer`].
    fn call(&self, path: &str, call: &'static str, body: Value) -> Result<Value, EtcdError> {
        let io = |source| EtcdError::Io {
            endpoint: self.endpoint.clone(),
            call,
            source,
        };
        let body = body.to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: etcd\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let raw = match &self.endpoint {
            Endpoint::Unix(p) => {
                let s = std::os::unix::net::UnixStream::connect(p).map_err(io)?;
                s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
                s.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
                exchange(s, request.as_bytes()).map_err(io)?
            }
            Endpoint::Tcp(a) => {
                let addr = std::net::ToSocketAddrs::to_socket_addrs(a)
                    .map_err(io)?
                    .next()
                    .ok_or_else(|| self.answer(call, "the host name has no address"))?;
                let s = std::net::TcpStream::connect_timeout(&addr, TIMEOUT).map_err(io)?;
                s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
                s.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
                exchange(s, request.as_bytes()).map_err(io)?
            }
        };
        let (status, body) = parse_response(&raw).map_err(|m| self.answer(call, &m))?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| self.answer(call, &format!("HTTP {status}, answer is not JSON: {e}")))?;
        if let Some(e) = v.get("error") {
            let message = v
                .get("message")
                .and_then(Value::as_str)
                .or(e.as_str())
                .unwrap_or("error");
            return Err(self.answer(call, message));
        }
        if status != 200 {
            return Err(self.answer(call, &format!("HTTP {status}")));
        }
        Ok(v)
    }
}

/// Writes the request and reads the whole answer (the server closes the connection).
fn exchange<S: Read + Write>(mut s: S, request: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(request)?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER).read_to_end(&mut raw)?;
    Ok(raw)
}

/// The status and body of an HTTP/1.1 answer (`Content-Length` or chunked).
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not text")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status")?;
    let body = &raw[end + 4..];
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk has no size line")?;
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .ok_or("a chunk size is not hexadecimal")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            break;
        }
        let chunk = rest.get(..size).ok_or("a chunk is cut short")?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
    Ok((status, out))
}

fn b64(s: &str) -> String {
    B64.encode(s.as_bytes())
}

/// The end of the range of keys starting with `prefix`: the prefix with its last byte plus
/// one (etcd's own rule; `prefix` here is ASCII).
fn range_end(prefix: &str) -> String {
    let mut b = prefix.as_bytes().to_vec();
    while let Some(last) = b.pop() {
        if last < 0x7F {
            b.push(last + 1);
            return String::from_utf8(b).expect("ASCII");
        }
    }
    "\0".into()
}

/// etcd's JSON writes 64-bit integers as strings.
fn int(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_bad_ones_say_why() {
        assert_eq!(
            "unix:///run/etcd.sock:0".parse::<Endpoint>().unwrap(),
            Endpoint::Unix("/run/etcd.sock:0".into())
        );
        assert_eq!(
            "http://127.0.0.1:2379/".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("127.0.0.1:2379".into())
        );
        for bad in ["https://x:1", "unix://", "http://host", "etcd"] {
            let e = bad.parse::<Endpoint>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn answers_with_length_and_chunked_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap(), (200, b"{}".to_vec()));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(chunked).unwrap(),
            (200, b"{\"a\":1}".to_vec())
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }

    #[test]
    fn prefix_ranges_end_after_the_prefix() {
        assert_eq!(range_end("/vpce/nodes/"), "/vpce/nodes0");
        assert_eq!(range_end("a"), "b");
        assert_eq!(int(&json!("42")), 42);
        assert_eq!(int(&json!(7)), 7);
        assert_eq!(int(&Value::Null), 0);
    }
}
