//! The HTTP client of the admin API and its authentication: the local
//! admin token the server left in `serve.json` when this machine can read
//! it, else an admin user's credentials from `REPRISE_ADMIN_USER` /
//! `REPRISE_ADMIN_PASSWORD`.

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// Where the router nests the admin API; every endpoint path starts so.
pub const API: &str = "/admin/v1";

/// A running server's admin API, authenticated once at [`Client::new`];
/// cloning shares its connections.
#[derive(Clone)]
pub struct Client {
    base: String,
    auth: String,
    agent: ureq::Agent,
}

/// The JSON body of an API error.
#[derive(serde::Deserialize)]
struct ApiError {
    error: String,
}

impl Client {
    /// A client of the server at `url`; over https, trusting the public
    /// CAs, or only the certificates in the PEM file `ca`.
    pub fn new(data_dir: &Path, url: &str, ca: Option<&Path>) -> anyhow::Result<Client> {
        let base = url.trim_end_matches('/').to_string();
        let auth = match crate::config::serve_info(data_dir) {
            Some(info) if info.url.trim_end_matches('/') == base => {
                format!("Bearer {}", info.token)
            }
            _ => {
                let user = std::env::var("REPRISE_ADMIN_USER").map_err(|_| {
                    anyhow!(
                        "no local admin token for {base} in {}; set REPRISE_ADMIN_USER and \
                         REPRISE_ADMIN_PASSWORD to an admin's credentials",
                        crate::config::serve_file(data_dir).display()
                    )
                })?;
                let password = std::env::var("REPRISE_ADMIN_PASSWORD")
                    .context("REPRISE_ADMIN_PASSWORD is not set")?;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                )
            }
        };
        let roots = match ca {
            None => ureq::tls::RootCerts::WebPki,
            Some(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading the server's CA in {}", path.display()))?;
                let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("reading the server's CA in {}", path.display()))?;
                if certs.is_empty() {
                    bail!("{} holds no certificate", path.display());
                }
                ureq::tls::RootCerts::new_with_certs(&certs)
            }
        };
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client { base, auth, agent })
    }

    /// The server's URL, as errors name it.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn finish<T: DeserializeOwned>(
        &self,
        path: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<T> {
        let mut response = result.with_context(|| format!("calling {}{path}", self.base))?;
        let status = response.status();
        if status.is_success() {
            return response
                .body_mut()
                .read_json()
                .with_context(|| format!("reading the answer of {}{path}", self.base));
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        match serde_json::from_str::<ApiError>(&body) {
            Ok(e) => bail!("{}: {}", status, e.error),
            Err(_) => bail!("{}: {}", status, body.trim()),
        }
    }

    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<T> {
        let result = self
            .agent
            .get(format!("{}{path}", self.base))
            .query_pairs(query.iter().copied())
            .header("Authorization", &self.auth)
            .call();
        self.finish(path, result)
    }

    pub(crate) fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self.agent.post(format!("{}{path}", self.base));
        self.send_json(request, path, body)
    }

    pub(crate) fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self.agent.put(format!("{}{path}", self.base));
        self.send_json(request, path, body)
    }

    pub(crate) fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self.agent.patch(format!("{}{path}", self.base));
        self.send_json(request, path, body)
    }

    /// A JSON body to `path`, whatever the method.
    fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let result = request.header("Authorization", &self.auth).send_json(body);
        self.finish(path, result)
    }

    pub(crate) fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let result = self
            .agent
            .delete(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .call();
        self.finish(path, result)
    }

    pub(crate) fn post_text<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<T> {
        let result = self
            .agent
            .post(format!("{}{path}", self.base))
            .query_pairs(query.iter().copied())
            .header("Authorization", &self.auth)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(body);
        self.finish(path, result)
    }
}

/// A path segment as typed by the user (`alice@example.com`), encoded so
/// that no character of it changes the path.
pub fn segment(text: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'@')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    utf8_percent_encode(text, KEEP).to_string()
}
