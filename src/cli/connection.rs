//! The flags of the client listener that `serve` and `proxy` share: the
//! connection limits and TLS (see `net`).

use crate::net::{Limits, Tls, TlsFiles};
use clap::Args;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT: Limits = Limits::DEFAULT;

#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Most client connections open at once; one more is answered 503 and
    /// closed.
    #[arg(long, env = "REPRISE_MAX_CONNECTIONS", default_value_t = DEFAULT.max_connections)]
    pub max_connections: usize,
    /// Most requests handled at once; one more is answered 503 with
    /// Retry-After.
    #[arg(long, env = "REPRISE_MAX_REQUESTS_IN_FLIGHT", default_value_t = DEFAULT.max_requests_in_flight)]
    pub max_requests_in_flight: usize,
    /// Seconds a request's head (and a TLS handshake) may take from its
    /// first byte; a slower client is disconnected.
    #[arg(long, env = "REPRISE_HEADER_READ_TIMEOUT", value_name = "SECONDS", default_value_t = DEFAULT.header_read_timeout.as_secs())]
    pub header_read_timeout: u64,
    /// Seconds an idle kept-alive connection stays open.
    #[arg(long, env = "REPRISE_KEEP_ALIVE_TIMEOUT", value_name = "SECONDS", default_value_t = DEFAULT.keep_alive_timeout.as_secs())]
    pub keep_alive_timeout: u64,
    /// Seconds a request body may take, plus one per --min-body-rate bytes
    /// it has sent; a slower body is cut off with 408.
    #[arg(long, env = "REPRISE_BODY_READ_TIMEOUT", value_name = "SECONDS", default_value_t = DEFAULT.body_read_timeout.as_secs())]
    pub body_read_timeout: u64,
    /// Bytes per second a request body must average beyond
    /// --body-read-timeout (0: the whole body within it).
    #[arg(long, env = "REPRISE_MIN_BODY_RATE", value_name = "BYTES_PER_S", default_value_t = DEFAULT.min_body_rate)]
    pub min_body_rate: u64,
    /// Largest request head (request line and headers) in bytes, at least
    /// 8192; a larger one is answered 431.
    #[arg(long, env = "REPRISE_MAX_HEADER_SIZE", value_name = "BYTES", default_value_t = DEFAULT.max_header_size)]
    pub max_header_size: usize,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); read
    /// again, with the key, on SIGHUP.
    #[arg(
        long,
        env = "REPRISE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "REPRISE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<std::path::PathBuf>,
}

impl ConnectionArgs {
    pub fn limits(&self) -> anyhow::Result<Limits> {
        if self.max_header_size < Limits::MIN_HEADER_SIZE {
            anyhow::bail!(
                "--max-header-size {} is below the smallest head this server reads ({} bytes)",
                self.max_header_size,
                Limits::MIN_HEADER_SIZE
            );
        }
        for (value, flag) in [
            (self.max_connections as u64, "--max-connections"),
            (
                self.max_requests_in_flight as u64,
                "--max-requests-in-flight",
            ),
            (self.header_read_timeout, "--header-read-timeout"),
            (self.keep_alive_timeout, "--keep-alive-timeout"),
            (self.body_read_timeout, "--body-read-timeout"),
        ] {
            if value == 0 {
                anyhow::bail!("{flag} 0 would refuse every request");
            }
        }
        Ok(Limits {
            max_connections: self.max_connections,
            max_requests_in_flight: self.max_requests_in_flight,
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            keep_alive_timeout: Duration::from_secs(self.keep_alive_timeout),
            body_read_timeout: Duration::from_secs(self.body_read_timeout),
            min_body_rate: self.min_body_rate,
            max_header_size: self.max_header_size,
        })
    }

    /// The TLS settings when both files are named, read now (a bad file
    /// stops the start) and again on every SIGHUP.
    pub fn tls(&self) -> anyhow::Result<Option<Arc<Tls>>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let tls = Tls::load(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        })?;
        tls.reload_on_hangup()?;
        Ok(Some(tls))
    }
}
