//! `reprise switch`: asks a proxy (its admin API) to cut over to another
//! backend; the proxy does the work (see [`super::proxy`]).

use super::proxy::SwitchReport;
use anyhow::{bail, Context};
use std::time::Duration;

/// What `reprise switch` asks of a proxy.
#[derive(Clone, Debug)]
pub struct SwitchOptions {
    /// The proxy's admin URL (its `--admin` address).
    pub proxy: String,
    /// The backend to make active.
    pub to: String,
    pub cluster_token: Option<String>,
}

/// Asks the proxy to switch, and waits for its report.
pub async fn switch(args: SwitchOptions) -> anyhow::Result<SwitchReport> {
    let url = format!("{}/switch", args.proxy.trim_end_matches('/'));
    let token = args.cluster_token.clone();
    let to = args.to.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .new_agent();
        let mut request = agent.post(&url);
        if let Some(token) = &token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let mut response = request
            .send_json(serde_json::json!({ "to": to }))
            .with_context(|| format!("reaching the proxy at {url}"))?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response
            .body_mut()
            .read_json()
            .with_context(|| format!("reading the proxy's answer ({status})"))?;
        anyhow::Ok((status, body))
    })
    .await??;
    let (status, body) = answer;
    if status != 200 {
        bail!(
            "switch to {} failed ({status}): {}",
            args.to,
            body["error"].as_str().unwrap_or("no reason given")
        );
    }
    Ok(serde_json::from_value(body)?)
}
