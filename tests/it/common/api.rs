//! A client of reprise's JSON APIs (admin and mail) with one
//! `Authorization` value, for the tests of both.

use super::http::{send, Reply};
use super::server::TestServer;
use serde_json::Value;

#[derive(Clone)]
pub struct Api {
    port: u16,
    auth: Option<String>,
    /// Prepended to every path (`/admin/v1`, or nothing).
    base: &'static str,
}

impl Api {
    /// The local admin token the server left in `serve.json`.
    pub fn token(server: &TestServer) -> Api {
        let info = std::fs::read_to_string(server.data.join("serve.json")).expect("serve.json");
        let info: Value = serde_json::from_str(&info).expect("serve.json is JSON");
        let token = info["token"].as_str().expect("a token in serve.json");
        Api::bearer(server, token)
    }

    pub fn bearer(server: &TestServer, token: &str) -> Api {
        Api::with(server, Some(format!("Bearer {token}")))
    }

    pub fn basic(server: &TestServer, user: &str, password: &str) -> Api {
        Api::with(server, Some(super::http::basic_auth(user, password)))
    }

    pub fn anonymous(server: &TestServer) -> Api {
        Api::with(server, None)
    }

    fn with(server: &TestServer, auth: Option<String>) -> Api {
        Api {
            port: server.port,
            auth,
            base: "",
        }
    }

    /// The `Authorization` value it sends.
    pub fn authorization(&self) -> Option<&str> {
        self.auth.as_deref()
    }

    /// The same client with every path under `base`.
    pub fn under(self, base: &'static str) -> Api {
        Api { base, ..self }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(auth) = &self.auth {
            all.push(("Authorization", auth));
        }
        send(
            self.port,
            method,
            &format!("{}{path}", self.base),
            &all,
            body,
        )
    }

    /// A request with a JSON (or would-be JSON) body.
    pub fn raw(&self, method: &str, path: &str, body: &str) -> Reply {
        let json = [("Content-Type", "application/json")];
        self.request(method, path, &json, body.as_bytes())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.raw("POST", path, &body.to_string())
    }

    /// (status, JSON body or null).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let reply = self.raw(method, path, &text);
        let json = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        (reply.status, json)
    }

    /// A call that must answer `status`; its body. Errors must be
    /// `{"error": "..."}`.
    pub fn expect(&self, status: u16, method: &str, path: &str, body: Option<Value>) -> Value {
        let (got, json) = self.call(method, path, body);
        assert_eq!(got, status, "{method} {path}: {json}");
        if status >= 400 {
            assert!(
                json["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{method} {path}: errors are {{\"error\": ...}}, got {json}"
            );
        }
        json
    }

    /// A GET that must answer 200; its JSON.
    pub fn json(&self, path: &str) -> Value {
        self.expect(200, "GET", path, None)
    }
}
