//! Test support: temporary directories, and one Apache Kafka broker per
//! test process (`tests/kafka/broker`: a single-node KRaft broker from
//! Maven Central's jars), or the one `REPRISE_TEST_KAFKA` names.

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

/// A running broker. Kept in a static for the life of the test process;
/// it and its directory go away with the process (see [`spawn_broker`]).
pub struct Broker {
    pub address: String,
    /// Its SASL_PLAINTEXT (PLAIN) listener, where ACLs apply.
    pub sasl_address: String,
    /// Its SASL_SSL listener, and the CA its certificate is signed by.
    pub tls_address: String,
    pub ca: PathBuf,
    /// Its storage, and the ports it listens on (clients, controller,
    /// SASL): what a restart reuses (`own_broker.rs`, which only the
    /// server's tests include).
    #[allow(dead_code)]
    pub dir: PathBuf,
    #[allow(dead_code)]
    pub ports: [u16; 4],
    /// Never written: the broker's watchdog waits for this pipe to close,
    /// which happens when the test process exits, however it exits.
    pub _lifeline: Mutex<ChildStdin>,
    pub _child: Mutex<Child>,
}

static BROKER: OnceLock<Result<Broker, String>> = OnceLock::new();

/// `127.0.0.1:PORT` of this test binary's broker, started on first use.
/// Panics with the reason when the broker cannot be fetched or does not
/// come up: the Kafka tests must fail then, never pass by skipping.
pub fn kafka_brokers() -> String {
    // A broker the caller runs (e.g. a whole test run's, started once).
    if let Ok(address) = std::env::var("REPRISE_TEST_KAFKA") {
        if !address.is_empty() {
            return address;
        }
    }
    match BROKER.get_or_init(start_broker) {
        Ok(broker) => broker.address.clone(),
        Err(reason) => panic!("no Kafka broker for the Kafka tests: {reason}"),
    }
}

/// A configuration for the test broker's topics `prefix.*`. Its timeouts
/// are longer than an installation's defaults: the CI machine has two
/// cores shared by brokers, servers and clients, and a metadata or
/// watermark query that waits there is slow, not broken.
#[allow(dead_code)]
pub fn kafka_config(prefix: &str) -> events::log::KafkaConfig {
    let mut config = events::log::KafkaConfig::new(kafka_brokers(), prefix);
    config.connect_timeout = Duration::from_secs(30);
    config
}

/// `127.0.0.1:PORT` of the SASL_PLAINTEXT listener of this test binary's
/// broker (see `tests/kafka/broker` for its users), or the one
/// `REPRISE_TEST_KAFKA_SASL` names beside `REPRISE_TEST_KAFKA`.
pub fn kafka_sasl_brokers() -> String {
    if std::env::var("REPRISE_TEST_KAFKA").is_ok_and(|a| !a.is_empty()) {
        return std::env::var("REPRISE_TEST_KAFKA_SASL").unwrap_or_else(|_| {
            panic!("REPRISE_TEST_KAFKA is set: set REPRISE_TEST_KAFKA_SASL to its SASL listener")
        });
    }
    kafka_brokers();
    match BROKER.get() {
        Some(Ok(broker)) => broker.sasl_address.clone(),
        _ => unreachable!("kafka_brokers() panics without a broker"),
    }
}

/// `127.0.0.1:PORT` of the SASL_SSL listener of this test binary's broker,
/// and the CA file that verifies it (or `REPRISE_TEST_KAFKA_TLS` and
/// `REPRISE_TEST_KAFKA_CA` beside `REPRISE_TEST_KAFKA`).
pub fn kafka_tls_brokers() -> (String, PathBuf) {
    if std::env::var("REPRISE_TEST_KAFKA").is_ok_and(|a| !a.is_empty()) {
        let named = |var: &str| {
            std::env::var(var).unwrap_or_else(|_| {
                panic!("REPRISE_TEST_KAFKA is set: set {var} for its TLS listener")
            })
        };
        return (
            named("REPRISE_TEST_KAFKA_TLS"),
            named("REPRISE_TEST_KAFKA_CA").into(),
        );
    }
    kafka_brokers();
    match BROKER.get() {
        Some(Ok(broker)) => (broker.tls_address.clone(), broker.ca.clone()),
        _ => unreachable!("kafka_brokers() panics without a broker"),
    }
}

/// The client properties of a user of the SASL listener.
pub fn sasl_properties(user: &str, password: &str) -> String {
    format!(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
         sasl.username={user}\nsasl.password={password}\n"
    )
}

/// The rights reprise needs on its topics, as the README's Kafka section
/// lists them, and no others.
pub const TOPIC_OPERATIONS: [&str; 5] = ["Describe", "DescribeConfigs", "Read", "Write", "Create"];

/// Grants `user` [`TOPIC_OPERATIONS`] on the topics `PREFIX.*`, with
/// `kafka-acls` (through the broker's plain listener, whose users are super users).
pub fn grant_topic_acls(user: &str, prefix: &str) {
    let script = find_script().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(&script);
    cmd.args(["acls", &kafka_brokers(), "--add", "--allow-principal"])
        .arg(format!("User:{user}"));
    for operation in TOPIC_OPERATIONS {
        cmd.args(["--operation", operation]);
    }
    cmd.args([
        "--topic",
        &format!("{prefix}."),
        "--resource-pattern-type",
        "prefixed",
    ]);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running kafka-acls: {e}"));
    assert!(
        out.status.success(),
        "kafka-acls failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The controller commits the ACLs; the broker's authorizer learns them
    // from the metadata log a moment later. A test that connects at once
    // could be refused (seen on a loaded CI machine): wait until the
    // broker lists them.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = Command::new(&script)
            .args(["acls", &kafka_brokers(), "--list", "--topic"])
            .arg(format!("{prefix}."))
            .args(["--resource-pattern-type", "prefixed"])
            .output()
            .unwrap_or_else(|e| panic!("running kafka-acls: {e}"));
        let text = String::from_utf8_lossy(&listed.stdout);
        let granted = text
            .lines()
            .filter(|l| l.contains(&format!("principal=User:{user},")))
            .count();
        if granted >= TOPIC_OPERATIONS.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the broker never listed the ACLs granted to {user}: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `tests/kafka/broker`, found upwards from the crate running the tests
/// (the workspace root's or `events/`).
pub(crate) fn find_script() -> Result<PathBuf, String> {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join("tests/kafka/broker"))
        .find(|script| script.is_file())
        .ok_or_else(|| format!("no tests/kafka/broker above {}", start.display()))
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
    let script = find_script()?;
    // A few tries: another process may grab a port between our probe and
    // the broker's bind.
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        let controller_port = free_port()?;
        let sasl_port = free_port()?;
        let tls_port = free_port()?;
        // Its own directory per try: a failed try's watchdog removes its one.
        let dir = TempDir::new("kafka");
        std::fs::create_dir_all(dir.path())
            .map_err(|e| format!("creating {}: {e}", dir.path().display()))?;
        let address = format!("127.0.0.1:{port}");
        let log_path = dir.path().join(format!("broker-{port}.log"));
        let ports = [port, controller_port, sasl_port, tls_port];
        let (mut child, lifeline) = spawn_broker(&script, ports, dir.path(), &log_path)?;
        match wait_until_ready(&address, &mut child) {
            Ok(()) => {
                // The watchdog removes the directory from now on.
                let path = dir.path().to_path_buf();
                std::mem::forget(dir);
                return Ok(Broker {
                    address,
                    sasl_address: format!("127.0.0.1:{sasl_port}"),
                    tls_address: format!("127.0.0.1:{tls_port}"),
                    ca: path.join("tls/ca.pem"),
                    dir: path,
                    ports,
                    _lifeline: Mutex::new(lifeline),
                    _child: Mutex::new(child),
                });
            }
            Err(e) => {
                // Read the broker's output before the watchdog removes it.
                let mut output = String::new();
                let _ = std::fs::File::open(&log_path).map(|mut f| f.read_to_string(&mut output));
                drop(lifeline); // makes the watchdog stop the broker
                let _ = child.wait();
                last_error = format!(
                    "{} at {address} did not come up: {e}\n--- broker output ---\n{output}",
                    script.display()
                );
            }
        }
    }
    Err(last_error)
}

/// Starts the broker under a small shell watchdog that stops it, and
/// removes its directory, when our end of its stdin pipe closes, i.e. when
/// the test process exits (even when killed), since a broker handle in a
/// static is never dropped. The shell exits when the broker does, so a
/// broker that fails to start is noticed.
pub(crate) fn spawn_broker(
    script: &Path,
    ports: [u16; 4],
    dir: &Path,
    log_path: &Path,
) -> Result<(Child, ChildStdin), String> {
    const WATCHDOG: &str = r#"
        exec 3<&0
        "$@" </dev/null 3<&- &
        broker=$!
        echo "$broker" >"$BROKER_DIR/broker.pid"
        (
            read -r _ <&3
            kill -KILL "$broker" 2>/dev/null
            case "$BROKER_DIR" in */reprise-kafka-*) rm -rf -- "$BROKER_DIR" ;; esac
        ) &
        exec 3<&-
        wait "$broker"
    "#;
    let log = std::fs::File::create(log_path)
        .map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("kafka-watchdog")
        .arg(script)
        .arg("run")
        .arg(dir)
        .args(ports.map(|p| p.to_string()))
        // Removed by the watchdog once the test process is gone.
        .env("BROKER_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", script.display()))?;
    let lifeline = child
        .stdin
        .take()
        .ok_or_else(|| "no stdin pipe to the broker's watchdog".to_string())?;
    Ok((child, lifeline))
}

/// Waits until the port accepts connections and a metadata request works.
pub(crate) fn wait_until_ready(address: &str, child: &mut Child) -> Result<(), String> {
    // A JVM formatting its storage and starting on a busy 2-core machine.
    let deadline = Instant::now() + Duration::from_secs(120);
    let socket: SocketAddr = address.parse().map_err(|e| format!("{address}: {e}"))?;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the broker exited with {status}"));
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
