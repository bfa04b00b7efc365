//! `--tls-cert` and `--tls-key` on `serve` and `proxy`: real clients over
//! TLS (an Apple-like TLS 1.2 client, python caldav over TLS 1.3), old TLS
//! refused, a certificate replaced on SIGHUP without dropping a
//! connection, and bad files refused by name. The certificates come from
//! a CA the test makes with the openssl command.

use crate::common::clients::{client_script, python_with};
use crate::common::cmd::{add_user, reprise, without_reprise_env};
use crate::common::server::free_port;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A CA and two server certificates it signed for localhost and
/// 127.0.0.1 (ECDSA P-256, as most certificates now are).
struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    fn new() -> Certificates {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("run openssl (Debian package openssl; .ci/run installs it)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        openssl(
            &[
                &["req", "-x509", "-nodes", "-days", "2"][..],
                &ec,
                &["-keyout", "ca.key", "-out", "ca.pem"],
                &["-subj", "/CN=reprise test CA"],
                &["-addext", "basicConstraints=critical,CA:TRUE"],
                &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ]
            .concat(),
        );
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
             keyUsage=critical,digitalSignature\n",
        )
        .unwrap();
        for name in ["one", "two"] {
            openssl(
                &[
                    &["req", "-nodes"][..],
                    &ec,
                    &["-keyout", &format!("{name}.key")],
                    &["-out", &format!("{name}.csr"), "-subj", "/CN=localhost"],
                ]
                .concat(),
            );
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                &format!("{name}.pem"),
            ]);
        }
        Certificates { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes `name` the certificate and key at `cert.pem` and `key.pem`.
    fn install(&self, name: &str) {
        for (from, to) in [
            (format!("{name}.pem"), "cert.pem"),
            (format!("{name}.key"), "key.pem"),
        ] {
            std::fs::copy(self.path(&from), self.path(to)).unwrap();
        }
    }

    fn flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.path("cert.pem").display().to_string(),
            "--tls-key".into(),
            self.path("key.pem").display().to_string(),
        ]
    }
}

/// A child process killed when dropped, a failed assertion included.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data: &Path, port: u16, extra: &[String]) -> Running {
    let mut cmd = reprise(data);
    cmd.args(["--log-level", "warn", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Running(cmd.spawn().expect("spawn reprise serve"))
}

fn data_with_alice() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_user(
        reprise(&data),
        "alice",
        "alice-secret",
        &["--name", "Alice"],
    );
    (dir, data)
}

fn script(mode: &str, port: u16, ca: &Path) -> Command {
    let mut cmd = Command::new(python_with("caldav"));
    cmd.arg(client_script("tls_clients.py"))
        .arg(mode)
        .args(["--port", &port.to_string()])
        .arg("--ca")
        .arg(ca);
    cmd
}

fn passes(mut cmd: Command) -> String {
    let out = cmd.output().expect("run tls_clients.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("tls_clients: PASS"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn apple_like_clients_and_python_caldav_work_over_tls_and_old_tls_is_refused() {
    let certs = Certificates::new();
    certs.install("one");
    let (_dir, data) = data_with_alice();
    let port = free_port();
    let _server = serve(&data, port, &certs.flags());
    let out = passes(script("clients", port, &certs.path("ca.pem")));
    for step in [
        "ok: Apple-like client over TLS 1.2",
        "over TLS\n",
        "ok: TLS 1.1 and older refused",
    ] {
        assert!(out.contains(step), "{out}");
    }
    // The commands sent with --server find an https URL.
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("serve.json")).unwrap()).unwrap();
    let url = format!("https://127.0.0.1:{port}");
    assert_eq!(info["url"], url);
    // Trusting the test's CA, they are served; trusting only the public
    // CAs, they are refused.
    let users = reprise(&data)
        .args(["--server", &url, "--server-ca"])
        .arg(certs.path("ca.pem"))
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(
        users.status.success() && String::from_utf8_lossy(&users.stdout).contains("alice"),
        "{}",
        String::from_utf8_lossy(&users.stderr)
    );
    let untrusted = reprise(&data)
        .args(["--server", &url, "user", "list"])
        .output()
        .unwrap();
    assert!(!untrusted.status.success());
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
}

#[test]
fn a_certificate_replaced_on_sighup_is_served_to_new_connections_and_open_ones_go_on() {
    let certs = Certificates::new();
    certs.install("one");
    let (_dir, data) = data_with_alice();
    let port = free_port();
    let server = serve(&data, port, &certs.flags());
    let mut client = script("reload", port, &certs.path("ca.pem"));
    client.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut client = Running(client.spawn().unwrap());
    let mut lines = BufReader::new(client.0.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line from tls_clients.py").unwrap();
    let opened = next();
    let first = opened.strip_prefix("opened ").expect(&opened).to_string();

    certs.install("two");
    hang_up(&server);
    // The reload is logged before the next connection is accepted only
    // if the signal was handled: give it the time a signal takes.
    std::thread::sleep(std::time::Duration::from_millis(500));
    writeln!(client.0.stdin.as_mut().unwrap()).unwrap();
    let kept = next();
    let new = next();
    assert_eq!(kept, format!("kept {first}"), "the open connection changed");
    let second = new.strip_prefix("new ").expect(&new).to_string();
    assert_ne!(
        second, first,
        "a new connection still got the old certificate"
    );
    assert_eq!(next(), "tls_clients: PASS");

    // A reload that fails keeps what is served.
    std::fs::write(certs.path("cert.pem"), "not a certificate\n").unwrap();
    hang_up(&server);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = passes(script("fingerprint", port, &certs.path("ca.pem")));
    assert!(out.contains(&format!("new {second}")), "{out}");
}

fn hang_up(server: &Running) {
    let status = Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_proxy_serves_clients_over_tls() {
    let certs = Certificates::new();
    certs.install("one");
    let (_a, blue_data) = data_with_alice();
    let (_b, green_data) = data_with_alice();
    let (blue_port, green_port) = (free_port(), free_port());
    let _blue = serve(&blue_data, blue_port, &[]);
    let _green = serve(&green_data, green_port, &["--standby".to_string()]);
    crate::common::server::wait_ready(blue_port);
    let port = free_port();
    let mut proxy = Command::new(crate::common::cmd::bin());
    without_reprise_env(&mut proxy);
    proxy
        .args(["--log-level", "warn", "proxy", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--admin")
        .arg(format!("127.0.0.1:{}", free_port()))
        .args(["--backend", &format!("blue=http://127.0.0.1:{blue_port}")])
        .args(["--backend", &format!("green=http://127.0.0.1:{green_port}")])
        .args(["--active", "blue"])
        .args(certs.flags())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let _proxy = Running(proxy.spawn().expect("spawn reprise proxy"));
    passes(script("clients", port, &certs.path("ca.pem")));
}

#[test]
fn bad_tls_files_stop_the_start_naming_the_file() {
    let certs = Certificates::new();
    let (_dir, data) = data_with_alice();
    // `serve` with `flags` must not start; what it said.
    let refused = |flags: &[String]| {
        let out = reprise(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(flags)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    std::fs::write(certs.path("cert.pem"), "not a certificate\n").unwrap();
    std::fs::copy(certs.path("one.key"), certs.path("key.pem")).unwrap();
    let stderr = refused(&certs.flags());
    assert!(stderr.contains("cert.pem"), "{stderr}");
    // A key that is not the certificate's.
    certs.install("one");
    std::fs::copy(certs.path("two.key"), certs.path("key.pem")).unwrap();
    let stderr = refused(&certs.flags());
    assert!(stderr.contains("do not go together"), "{stderr}");
    // One file without the other.
    let stderr = refused(&certs.flags()[..2]);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
