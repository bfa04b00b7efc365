//! `--server URL`: run a command through a running server, which holds the
//! data directory. Authenticates with the local admin token the server
//! left in `serve.json` when this machine can read it, else with an admin
//! user's credentials from `REPRISE_ADMIN_USER` / `REPRISE_ADMIN_PASSWORD`.

mod operations;

use crate::ops::log::wire::{LogInfo, ReadRequest, ReadResponse, TopicInfo, WireStart};
use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use events::log::{LogReader, ReadBatch, ReadStart};
use events::{Domain, EventLog, LogError, LogPosition, OutgoingRecord};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

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
    pub fn new(data_dir: &Path, url: &str) -> anyhow::Result<Client> {
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
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client { base, auth, agent })
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

    pub fn get<T: DeserializeOwned>(
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

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let result = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .send_json(body);
        self.finish(path, result)
    }

    pub fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let result = self
            .agent
            .put(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .send_json(body);
        self.finish(path, result)
    }

    pub fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let result = self
            .agent
            .patch(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .send_json(body);
        self.finish(path, result)
    }

    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let result = self
            .agent
            .delete(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .call();
        self.finish(path, result)
    }

    pub fn post_text<T: DeserializeOwned>(
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

/// The log of a running server, read through its admin API: what `log
/// tail` and `log stats` use with `--server`. Appending is refused; writes
/// go through the commands that have their own endpoints.
pub struct RemoteLog {
    client: std::sync::Arc<Client>,
    info: LogInfo,
}

impl RemoteLog {
    pub fn connect(data_dir: &Path, url: &str) -> anyhow::Result<RemoteLog> {
        let client = Client::new(data_dir, url)?;
        let info: LogInfo = client.get("/admin/v1/log", &[])?;
        Ok(RemoteLog {
            client: std::sync::Arc::new(client),
            info,
        })
    }

    fn topic(&self, domain: Domain) -> Option<&TopicInfo> {
        self.info.topics.iter().find(|t| t.domain == domain)
    }

    fn error(&self, e: anyhow::Error) -> LogError {
        LogError::Storage {
            path: self.client.base.clone(),
            reason: format!("{e:#}"),
        }
    }
}

#[async_trait::async_trait]
impl EventLog for RemoteLog {
    fn describe(&self) -> String {
        format!("{}, through {}", self.info.describe, self.client.base)
    }

    fn topic_name(&self, domain: Domain) -> String {
        self.topic(domain)
            .map_or_else(|| domain.to_string(), |t| t.name.clone())
    }

    fn partitions(&self, domain: Domain) -> u32 {
        self.topic(domain).map_or(0, |t| t.partitions)
    }

    async fn append(
        &self,
        _domain: Domain,
        _records: Vec<OutgoingRecord>,
    ) -> Result<Vec<LogPosition>, LogError> {
        Err(self.error(anyhow!("the log is read-only through --server")))
    }

    fn reader(&self, starts: &[ReadStart]) -> Result<Box<dyn LogReader>, LogError> {
        Ok(Box::new(RemoteReader {
            client: self.client.clone(),
            positions: starts.iter().map(WireStart::from).collect(),
        }))
    }

    async fn end_offsets(&self, domain: Domain) -> Result<Vec<u64>, LogError> {
        let client = self.client.clone();
        tokio::task::spawn_blocking(move || {
            client.get::<Vec<u64>>("/admin/v1/log/end", &[("domain", domain.as_str())])
        })
        .await
        .map_err(|e| self.error(e.into()))?
        .map_err(|e| self.error(e))
    }
}

struct RemoteReader {
    client: std::sync::Arc<Client>,
    positions: Vec<WireStart>,
}

impl LogReader for RemoteReader {
    fn poll(&mut self, max: usize, timeout: Duration) -> Result<ReadBatch, LogError> {
        let storage = |reason: String| LogError::Storage {
            path: self.client.base.clone(),
            reason,
        };
        let request = ReadRequest {
            starts: self.positions.clone(),
            max,
            timeout_ms: timeout.as_millis().min(u128::from(u64::MAX)) as u64,
        };
        let response: ReadResponse = self
            .client
            .post("/admin/v1/log/read", &request)
            .map_err(|e| storage(format!("{e:#}")))?;
        let mut records = Vec::with_capacity(response.records.len());
        for wire in response.records {
            let record = wire
                .into_record()
                .map_err(|e| storage(format!("bad record from the server: {e}")))?;
            if let Some(p) = self
                .positions
                .iter_mut()
                .find(|p| p.domain == record.domain && p.partition == record.partition)
            {
                p.offset = record.offset + 1;
            }
            records.push(record);
        }
        Ok(ReadBatch {
            records,
            caught_up: response.caught_up,
        })
    }
}
