//! Test support: temporary directories, and one real Kafka-protocol broker
//! (tansu, in memory) per test binary.

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, Producer};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (in this or a concurrent run) uses.
pub fn unique_name(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{what}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A directory under the system temp dir, removed on drop. The directory
/// itself is not created, so a log can create it.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        TempDir {
            path: std::env::temp_dir().join(unique_name(&format!("reprise-{what}"))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A running tansu broker. Kept in a static for the life of the test
/// process; it and its directory go away with the process (see
/// [`spawn_tansu`]).
pub struct Broker {
    pub address: String,
    /// Never written: the broker's watchdog waits for this pipe to close,
    /// which happens when the test process exits, however it exits.
    pub _lifeline: Mutex<ChildStdin>,
    pub _child: Mutex<Child>,
}

static BROKER: OnceLock<Result<Broker, String>> = OnceLock::new();

/// `127.0.0.1:PORT` of this test binary's broker, started on first use.
/// Panics with the reason when tansu is missing or does not come up: the
/// Kafka tests must fail then, never pass by skipping.
pub fn kafka_brokers() -> String {
    match BROKER.get_or_init(start_broker) {
        Ok(broker) => broker.address.clone(),
        Err(reason) => panic!("no Kafka broker for the Kafka tests: {reason}"),
    }
}

/// Where the tansu binary is: `$TANSU_BIN`, else `tansu` on `PATH`, else
/// `$HOME/.cache-tansu/bin/tansu`.
fn find_tansu() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("TANSU_BIN") {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("TANSU_BIN={} is not a file", bin.display()))
        };
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("tansu"))
        .find(|candidate| candidate.is_file());
    let cached = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache-tansu/bin/tansu"));
    on_path.or(cached.filter(|c| c.is_file())).ok_or_else(|| {
        "tansu not found: set TANSU_BIN, put `tansu` on PATH, or install it with \
             `cargo install --locked tansu --features dynostore --root ~/.cache-tansu`"
            .to_string()
    })
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("finding a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

pub fn start_broker() -> Result<Broker, String> {
    let bin = find_tansu()?;
    // A few tries: another process may grab the port between our probe
    // and tansu's bind.
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        // Its own directory per try: a failed try's watchdog removes its one.
        let dir = TempDir::new("tansu");
        std::fs::create_dir_all(dir.path())
            .map_err(|e| format!("creating {}: {e}", dir.path().display()))?;
        let address = format!("127.0.0.1:{port}");
        let log_path = dir.path().join(format!("tansu-{port}.log"));
        let (mut child, lifeline) = spawn_tansu(&bin, &address, dir.path(), &log_path)?;
        match wait_until_ready(&address, &mut child) {
            Ok(()) => {
                // The watchdog removes the directory from now on.
                std::mem::forget(dir);
                return Ok(Broker {
                    address,
                    _lifeline: Mutex::new(lifeline),
                    _child: Mutex::new(child),
                });
            }
            Err(e) => {
                // Read tansu's output before the watchdog removes it.
                let mut output = String::new();
                let _ = std::fs::File::open(&log_path).map(|mut f| f.read_to_string(&mut output));
                drop(lifeline); // makes the watchdog stop tansu
                let _ = child.wait();
                last_error = format!(
                    "{} at {address} did not come up: {e}\n--- tansu output ---\n{output}",
                    bin.display()
                );
            }
        }
    }
    Err(last_error)
}

/// Starts tansu under a small shell watchdog that stops it, and removes
/// its directory, when our end of its stdin pipe closes, i.e. when the
/// test process exits (even when killed), since a broker handle in a
/// static is never dropped. The shell exits when tansu does, so a broker
/// that fails to start is noticed.
fn spawn_tansu(
    bin: &Path,
    address: &str,
    dir: &Path,
    log_path: &Path,
) -> Result<(Child, ChildStdin), String> {
    const WATCHDOG: &str = r#"
        exec 3<&0
        "$@" </dev/null 3<&- &
        broker=$!
        (
            read -r _ <&3
            kill "$broker" 2>/dev/null
            case "$TANSU_DIR" in */reprise-tansu-*) rm -rf -- "$TANSU_DIR" ;; esac
        ) &
        exec 3<&-
        wait "$broker"
    "#;
    let log = std::fs::File::create(log_path)
        .map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let url = format!("tcp://{address}");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("tansu-watchdog")
        .arg(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        // tansu reads a .env from its working directory: give it an empty one.
        .current_dir(dir)
        // Removed by the watchdog once the test process is gone.
        .env("TANSU_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let lifeline = child
        .stdin
        .take()
        .ok_or_else(|| "no stdin pipe to tansu's watchdog".to_string())?;
    Ok((child, lifeline))
}

/// Waits until the port accepts connections and a metadata request works.
fn wait_until_ready(address: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let socket: SocketAddr = address.parse().map_err(|e| format!("{address}: {e}"))?;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("tansu exited with {status}"));
        }
        if TcpStream::connect_timeout(&socket, Duration::from_millis(200)).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            return Err("the port never accepted connections".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let client: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", address)
        .create()
        .map_err(|e| format!("creating a metadata client: {e}"))?;
    loop {
        match client.client().fetch_metadata(None, Duration::from_secs(2)) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(format!("metadata: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
