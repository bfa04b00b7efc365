//! Operating reprise: its metrics scraped by a real Prometheus (Debian's
//! `prometheus` package), the alert rules and the dashboard checked
//! against what the servers and the proxy really expose, JSON logs that
//! name each request once with its id and never a secret, and a metrics
//! port that cannot be had stopping the start with one line.

use crate::common::cluster::{add_users, Installation, Proxy};
use crate::common::cmd::reprise;
use crate::common::http::{basic_auth, send, Dav};
use crate::common::ical;
use crate::common::server::{free_port, wait_ready};
use crate::support;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A program Debian's `prometheus` package installs (scripts/test does).
fn tool(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!("{name} is not installed: scripts/test installs Debian's prometheus package")
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().expect("run a tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let rules = repository().join("deploy/prometheus/alerts.yml");
    let mut check = Command::new(tool("promtool"));
    check.arg("check").arg("rules").arg(&rules);
    let checked = run(check);
    assert!(checked.contains("SUCCESS: 11 rules found"), "{checked}");
    let mut test = Command::new(tool("promtool"));
    test.arg("test")
        .arg("rules")
        .arg(repository().join("deploy/prometheus/alerts.test.yml"));
    let tested = run(test);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// A Prometheus server scraping `targets` (job name → addresses) every
/// second, with the alert rules loaded; killed on drop.
struct Prometheus {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(targets: &[(&str, Vec<String>)]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n",
        );
        config.push_str(&format!(
            "  - {}\nscrape_configs:\n",
            repository().join("deploy/prometheus/alerts.yml").display()
        ));
        for (job, addresses) in targets {
            let list: Vec<String> = addresses.iter().map(|a| format!("'{a}'")).collect();
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
                list.join(", ")
            ));
        }
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !crate::common::server::raw_get(port, "/-/ready")
            .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
        {
            assert!(Instant::now() < deadline, "prometheus never became ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        Prometheus {
            port,
            child,
            _dir: dir,
        }
    }

    /// The result vector of an instant query.
    fn query(&self, promql: &str) -> Vec<Value> {
        let encoded: String =
            percent_encoding::utf8_percent_encode(promql, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let reply = send(
            self.port,
            "GET",
            &format!("/api/v1/query?query={encoded}"),
            &[],
            b"",
        );
        assert_eq!(reply.status, 200, "{promql}: {}", reply.body);
        let answer: Value = serde_json::from_str(&reply.body).unwrap();
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The single value of a query that sums to one series.
    fn value(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql);
        let first = result.first()?;
        first["value"][1].as_str()?.parse().ok()
    }

    /// Waits (at most a minute: scrapes are every second) until `promql`
    /// has the value `want`.
    fn wait_for(&self, promql: &str, want: f64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.value(promql);
            if got == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{promql}: {got:?}, expected {want}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The metric names a scrape declares (`# TYPE name kind`), with the
/// suffixes their series carry (`_total`, `_bucket`, ...).
fn declared(port: u16) -> BTreeSet<String> {
    let reply = send(port, "GET", "/metrics", &[], b"");
    assert_eq!(reply.status, 200);
    let mut names = BTreeSet::new();
    for line in reply.body.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        names.insert(name.to_string());
        if kind == "counter" {
            names.insert(format!("{name}_total"));
        }
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
    }
    names
}

/// Every metric name a PromQL expression (or a rules file) uses.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with("reprise_") || word.starts_with("process_"))
        .map(str::to_string)
        .collect()
}

/// Blue leads and green stands by on one Kafka log, behind the proxy;
/// Prometheus scrapes all three. Five PUTs go to blue, a switch makes
/// green the leader, three more PUTs go to green: Prometheus sees those
/// counts, one switch with its hold, the proxy's requests per backend,
/// each installation's role, every projection's lag series at 0, and the
/// alert rules evaluated without error; the dashboard uses only names the
/// servers and the proxy declare.
#[test]
fn a_real_prometheus_scrapes_servers_and_proxy_and_sees_what_the_test_did() {
    let prefix = support::unique_name("prometheus");
    let root = support::TempDir::new("prometheus");
    let (blue_dir, green_dir) = (root.path().join("blue"), root.path().join("green"));
    add_users(&blue_dir, &prefix);
    let (blue_metrics, green_metrics, proxy_metrics) = (free_port(), free_port(), free_port());
    let metrics_flag = |port: u16| format!("127.0.0.1:{port}");
    let blue = Installation::start(
        "blue",
        &blue_dir,
        &prefix,
        &["--metrics-listen", &metrics_flag(blue_metrics)],
    );
    let green = Installation::start(
        "green",
        &green_dir,
        &prefix,
        &[
            "--standby",
            "--metrics-listen",
            &metrics_flag(green_metrics),
        ],
    );
    let proxy = Proxy::start_with(
        &[&blue, &green],
        &["--metrics-listen", &metrics_flag(proxy_metrics)],
    );
    let prometheus = Prometheus::start(&[
        (
            "reprise",
            vec![metrics_flag(blue_metrics), metrics_flag(green_metrics)],
        ),
        ("reprise-proxy", vec![metrics_flag(proxy_metrics)]),
    ]);
    prometheus.wait_for("count(up == 1)", 3.0);

    let alice = Dav::new(proxy.port, "alice", "alice-secret");
    let calendar = "/dav/calendars/alice@example.com/default/";
    let put = |name: &str| {
        let reply = alice.put(
            &format!("{calendar}{name}.ics"),
            "text/calendar",
            &ical(name, "Metrics"),
            &[],
        );
        assert_eq!(reply.status, 201, "{reply:?}");
        // The proxy passes an id to the backend and answers with it.
        assert!(reply
            .header("x-request-id")
            .is_some_and(|id| id.len() == 32));
    };
    for i in 0..5 {
        put(&format!("blue-{i}"));
    }
    let report = proxy.switch("green");
    for i in 0..3 {
        put(&format!("green-{i}"));
    }
    // A request id the client chose comes back as it was.
    let given = send(
        proxy.port,
        "GET",
        &format!("{calendar}green-0.ics"),
        &[
            ("Authorization", &basic_auth("alice", "alice-secret")),
            ("X-Request-Id", "trace-4711"),
        ],
        b"",
    );
    assert_eq!(given.status, 200);
    assert_eq!(given.header("x-request-id"), Some("trace-4711"));

    let at = |port: u16| format!("instance=\"127.0.0.1:{port}\"");
    let puts = |port: u16| {
        format!(
            "sum(reprise_http_requests_total{{{},method=\"PUT\",kind=\"object\",status_class=\"2xx\"}})",
            at(port)
        )
    };
    prometheus.wait_for(&puts(blue_metrics), 5.0);
    prometheus.wait_for(&puts(green_metrics), 3.0);
    prometheus.wait_for("sum(reprise_proxy_switches_total{outcome=\"done\"})", 1.0);
    prometheus.wait_for("sum(reprise_proxy_switch_hold_seconds_count)", 1.0);
    let hold = prometheus
        .value("sum(reprise_proxy_switch_hold_seconds_sum)")
        .expect("a hold");
    let reported = report["total_ms"].as_f64().unwrap() / 1000.0;
    assert!(
        (hold - reported).abs() < 0.002,
        "hold {hold} s, report {reported} s"
    );
    // Blue also had the proxy's readiness probes before the switch.
    let deadline = Instant::now() + Duration::from_secs(60);
    while prometheus
        .value("sum(reprise_proxy_requests_total{backend=\"blue\"})")
        .is_none_or(|n| n < 5.0)
    {
        assert!(Instant::now() < deadline, "the proxy's requests to blue");
        std::thread::sleep(Duration::from_millis(250));
    }
    prometheus.wait_for("sum(reprise_proxy_requests_total{backend=\"green\"})", 4.0);
    prometheus.wait_for("reprise_proxy_active_backend{backend=\"green\"}", 1.0);
    prometheus.wait_for(
        &format!(
            "reprise_installation_role{{{},installation=\"green\",role=\"leader\"}}",
            at(green_metrics)
        ),
        1.0,
    );
    prometheus.wait_for(
        &format!(
            "reprise_installation_role{{{},installation=\"blue\",role=\"follower\"}}",
            at(blue_metrics)
        ),
        1.0,
    );
    // Both installations followed everything: every projection's lag
    // series is there, and at 0.
    for port in [blue_metrics, green_metrics] {
        prometheus.wait_for(
            &format!(
                "count(count by (projection) (reprise_projection_lag_events{{{}}}))",
                at(port)
            ),
            5.0,
        );
        prometheus.wait_for(
            &format!("sum(reprise_projection_lag_events{{{}}})", at(port)),
            0.0,
        );
        // In time too, per topic: every topic has its series, all at 0.
        prometheus.wait_for(
            &format!(
                "count(count by (topic) (reprise_projection_lag_seconds{{{}}}))",
                at(port)
            ),
            5.0,
        );
        prometheus.wait_for(
            &format!("max(reprise_projection_lag_seconds{{{}}})", at(port)),
            0.0,
        );
    }
    let appended = prometheus
        .value(&format!(
            "sum(reprise_log_appended_records_total{{{},topic=\"calendar\"}})",
            at(green_metrics)
        ))
        .expect("green appended");
    assert!(
        appended >= 3.0,
        "green appended {appended} calendar records"
    );
    let authenticated = prometheus
        .value("sum(reprise_authentications_total{outcome=\"success\"})")
        .expect("authentications");
    assert!(authenticated >= 2.0, "{authenticated}");

    // The rules loaded and evaluated against these series without error.
    let reply = send(prometheus.port, "GET", "/api/v1/rules", &[], b"");
    let rules: Value = serde_json::from_str(&reply.body).unwrap();
    let rules = rules["data"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 11);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = send(prometheus.port, "GET", "/api/v1/rules", &[], b"");
        let rules: Value = serde_json::from_str(&reply.body).unwrap();
        let rules = rules["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .clone();
        if rules.iter().all(|r| r["health"] == "ok") {
            break;
        }
        assert!(Instant::now() < deadline, "rules not healthy: {rules:#?}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // The dashboard names only what a server or the proxy declares.
    let mut known = declared(blue_metrics);
    known.extend(declared(proxy_metrics));
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repository().join("deploy/grafana/reprise.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let mut used = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            used.extend(metric_names(target["expr"].as_str().unwrap()));
        }
    }
    assert!(used.len() > 25, "{used:?}");
    // Measured only while a version builds (none does here): named by
    // the code that measures them.
    let scrape_code = std::fs::read_to_string(repository().join("src/http/scrape.rs")).unwrap();
    for conditional in [
        "reprise_projection_build_progress_ratio",
        "reprise_projection_build_eta_seconds",
    ] {
        assert!(scrape_code.contains(&format!("\"{conditional}\"")));
        known.insert(conditional.to_string());
    }
    let unknown: Vec<_> = used.difference(&known).collect();
    assert!(unknown.is_empty(), "the dashboard names {unknown:?}");
    let rules_text =
        std::fs::read_to_string(repository().join("deploy/prometheus/alerts.yml")).unwrap();
    let unknown: Vec<_> = metric_names(&rules_text)
        .into_iter()
        .filter(|n| !known.contains(n))
        .collect();
    assert!(unknown.is_empty(), "the alerts name {unknown:?}");

    // Nothing of anyone's data: no user, calendar or object name.
    for port in [blue_metrics, green_metrics, proxy_metrics] {
        let text = send(port, "GET", "/metrics", &[], b"").body;
        for private in ["alice", "example.com", "default", "blue-0", "Metrics"] {
            assert!(
                !text.contains(private),
                "/metrics on {port} shows {private:?}"
            );
        }
    }
}

/// `--log-format json`: every line is one JSON object with a timestamp,
/// level, target and message; every request is one line with its method,
/// kind, status, duration and id (the client's when it gave one); and
/// neither a password, a Basic credential, the admin token nor anything of
/// a calendar, a contact or a mailbox is anywhere in the whole log, even
/// at debug level.
#[test]
fn json_logs_name_each_request_once_and_never_a_secret() {
    const PASSWORD: &str = "correct-horse-battery-7731";
    const NEW_PASSWORD: &str = "tr0ub4dor-and-3";
    const SECRET_SUMMARY: &str = "Acquisition of Initech 4471";
    const SECRET_CONTACT: &str = "Milton Waddams 9932";
    const SECRET_MAILBOX: &str = "Layoffs-2027";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut add = reprise(&data);
    add.args([
        "user",
        "add",
        "olivia",
        "--email",
        "olivia@example.com",
        "--admin",
        "--password-stdin",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null());
    let mut child = add.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());

    let port = free_port();
    let log_file = dir.path().join("serve.log");
    let mut serve = reprise(&data);
    serve
        .args(["--log-level", "debug", "--log-format", "json", "serve"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_file).unwrap());
    let mut server = Killed(serve.spawn().unwrap());
    wait_ready(port);
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("serve.json")).unwrap()).unwrap();
    let token = info["token"].as_str().unwrap().to_string();

    let olivia = basic_auth("olivia", PASSWORD);
    let wrong = basic_auth("olivia", "not-the-password-5521");
    let bearer = format!("Bearer {token}");
    let with = |auth: &str, method: &str, path: &str, body: &str, id: Option<&str>| {
        let content_type = if path.ends_with(".ics") {
            "text/calendar"
        } else if path.ends_with(".vcf") {
            "text/vcard"
        } else {
            "application/json"
        };
        let mut headers = vec![("Authorization", auth), ("Content-Type", content_type)];
        if let Some(id) = id {
            headers.push(("X-Request-Id", id));
        }
        send(port, method, path, &headers, body.as_bytes())
    };
    let calendar = "/dav/calendars/olivia@example.com/default/";
    let put = with(
        &olivia,
        "PUT",
        &format!("{calendar}deal.ics"),
        &ical("deal-uid", SECRET_SUMMARY),
        Some("client-chosen-id-1"),
    );
    assert_eq!(put.status, 201, "{put:?}");
    assert_eq!(put.header("x-request-id"), Some("client-chosen-id-1"));
    let vcard = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:{SECRET_CONTACT}\r\nN:Waddams;Milton;;;\r\nEND:VCARD\r\n"
    );
    let card = with(
        &olivia,
        "PUT",
        "/dav/addressbooks/olivia@example.com/default/c1.vcf",
        &vcard,
        None,
    );
    assert_eq!(card.status, 201, "{card:?}");
    let seen = with(
        &olivia,
        "POST",
        &format!("/api/v1/mail/olivia/mailboxes/{SECRET_MAILBOX}/seen"),
        r#"{"add": "1:3"}"#,
        None,
    );
    assert_eq!(seen.status, 200, "{seen:?}");
    let refused = with(&wrong, "PROPFIND", calendar, "", None);
    assert_eq!(refused.status, 401);
    let password = with(
        &bearer,
        "PUT",
        "/admin/v1/users/olivia/password",
        &format!(r#"{{"password": "{NEW_PASSWORD}"}}"#),
        None,
    );
    assert_eq!(password.status, 200, "{password:?}");
    let status = with(&bearer, "GET", "/admin/v1/projections/status", "", None);
    assert_eq!(status.status, 200);

    // Wait until the last request's line is written, then stop.
    let answered = |log: &str| {
        log.lines()
            .filter(|l| l.contains("reprise::http::request") && !l.contains("\"probe\""))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while answered(&std::fs::read_to_string(&log_file).unwrap()) < 6 {
        assert!(Instant::now() < deadline, "no line for the last request");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.stop();
    let log = std::fs::read_to_string(&log_file).unwrap();

    let mut requests = Vec::new();
    for line in log.lines() {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        for field in ["timestamp", "level", "target"] {
            assert!(entry[field].is_string(), "no {field}: {line}");
        }
        assert!(entry["fields"]["message"].is_string(), "no message: {line}");
        if entry["target"] == "reprise::http::request" && entry["fields"]["kind"] != "probe" {
            requests.push(entry);
        }
    }
    assert_eq!(requests.len(), 6, "one line per request:\n{log}");
    for r in &requests {
        let fields = &r["fields"];
        assert!(
            fields["method"].is_string() && fields["kind"].is_string(),
            "{r}"
        );
        assert!(
            fields["status"].is_u64() && fields["duration_ms"].is_f64(),
            "{r}"
        );
        assert!(r["span"]["request_id"].is_string(), "{r}");
    }
    assert_eq!(requests[0]["span"]["request_id"], "client-chosen-id-1");
    assert_eq!(requests[0]["fields"]["kind"], "object");
    assert_eq!(requests[1]["fields"]["kind"], "card");
    assert_eq!(requests[2]["fields"]["kind"], "mail");
    assert_eq!(requests[3]["fields"]["status"], 401);
    assert_eq!(requests[4]["fields"]["kind"], "admin");

    let basic = |user: &str, password: &str| {
        basic_auth(user, password)
            .trim_start_matches("Basic ")
            .to_string()
    };
    for secret in [
        PASSWORD,
        NEW_PASSWORD,
        "not-the-password-5521",
        &basic("olivia", PASSWORD),
        &basic("olivia", "not-the-password-5521"),
        &token,
        SECRET_SUMMARY,
        SECRET_CONTACT,
        SECRET_MAILBOX,
        "deal-uid",
    ] {
        assert!(!log.contains(secret), "the log shows {secret:?}:\n{log}");
    }
}

/// A process killed when the test ends, however it ends.
struct Killed(Child);

impl Killed {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn a_taken_metrics_port_stops_serve_and_proxy_with_one_line_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut serve = reprise(&dir.path().join("data"));
    serve.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        &address,
    ]);
    let out = serve.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("cannot listen for metrics on {address}")),
        "{stderr}"
    );
    let mut proxy = Command::new(crate::common::cmd::bin());
    crate::common::cmd::without_reprise_env(&mut proxy);
    proxy.args([
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--backend",
        "a=http://127.0.0.1:9",
        "--backend",
        "b=http://127.0.0.1:9",
        "--active",
        "a",
        "--metrics-listen",
        &address,
    ]);
    let out = proxy.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&address), "{stderr}");
    assert!(stderr.contains("--metrics-listen"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
