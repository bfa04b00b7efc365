//! `reprise switch`: asks a proxy (its admin API) to cut over to another
//! backend; the proxy does the work (see [`super::proxy`]).

use super::proxy::SwitchReport;
use std::time::Duration;

/// Why a switch was not done, or its outcome is unknown.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("reaching the proxy at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("reading the proxy's answer ({status})")]
    Answer {
        status: u16,
        #[source]
        source: ureq::Error,
    },
    /// The proxy refused, or the switch failed there.
    #[error("switch to {to} failed ({status}): {reason}")]
    Failed {
        to: String,
        status: u16,
        reason: String,
    },
    #[error(transparent)]
    Report(#[from] serde_json::Error),
    #[error(transparent)]
    Interrupted(#[from] tokio::task::JoinError),
}

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
pub async fn switch(args: SwitchOptions) -> Result<SwitchReport, SwitchError> {
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
        let mut response =
            request
                .send_json(serde_json::json!({ "to": to }))
                .map_err(|source| SwitchError::Unreachable {
                    url: url.clone(),
                    source,
                })?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response
            .body_mut()
            .read_json()
            .map_err(|source| SwitchError::Answer { status, source })?;
        Ok::<_, SwitchError>((status, body))
    })
    .await??;
    let (status, body) = answer;
    if status != 200 {
        return Err(SwitchError::Failed {
            to: args.to,
            status,
            reason: body["error"]
                .as_str()
                .unwrap_or("no reason given")
                .to_string(),
        });
    }
    Ok(serde_json::from_value(body)?)
}
