//! The operator console (`/admin/`): who may see it (401 anonymous, 403
//! for non-admins, a session for admins that ends when they stop being
//! one), and headless Chromium logging in and watching a projection
//! version build and go live after a `--projection-version` change.

use crate::common::clients::{client_script, python_with, run_with_timeout, INSTALL_HINT};
use crate::common::cmd::ok;
use crate::common::http::{basic_auth, send, Reply};
use crate::common::server::TestServer;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ADMIN: (&str, &str) = ("root@example.com", "root-secret");
const PAGE: &str = "/admin/";
const DATA: &str = "/admin/v1/console";

fn add_admin(server: &TestServer) {
    let mut cmd = server.command();
    cmd.args(["--server", &server.url, "user", "add", ADMIN.0])
        .args(["--email", ADMIN.0, "--password-stdin", "--admin"]);
    ok(cmd, &format!("{}\n", ADMIN.1));
}

/// `reprise user ARGS... root@example.com ...` through the server.
fn change_admin(server: &TestServer, verb: &str, extra: &[&str]) {
    let mut cmd = server.command();
    cmd.args(["--server", &server.url, "user", verb, ADMIN.0])
        .args(extra);
    ok(cmd, "");
}

fn log_in(server: &TestServer, user: &str, password: &str) -> Reply {
    let form = format!("user={}&password={}", user.replace('@', "%40"), password);
    send(
        server.port,
        "POST",
        "/admin/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
}

/// The `name=value` of a session's `Set-Cookie`.
fn session_of(reply: &Reply) -> String {
    let cookie = reply.header("set-cookie").expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(server.port, "GET", path, headers, b"")
}

fn assert_login_page(reply: &Reply, status: u16, notice: Option<&str>) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(
        reply.body.contains("action=\"/admin/login\""),
        "no login form: {}",
        reply.body
    );
    if let Some(notice) = notice {
        assert!(reply.body.contains(notice), "no {notice:?}: {}", reply.body);
    }
    assert!(
        reply.header("set-cookie").is_none(),
        "a cookie with a refusal"
    );
}

#[test]
fn the_console_admits_admins_only_and_ends_a_session_when_they_stop_being_one() {
    let server = TestServer::start();
    add_admin(&server);

    // Anonymous: the login page, with 401, and the page's protections.
    let anonymous = get(&server, PAGE, &[]);
    assert_login_page(&anonymous, 401, None);
    let policy = anonymous.header("content-security-policy").unwrap_or("");
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert_eq!(anonymous.header("x-content-type-options"), Some("nosniff"));
    let bare = get(&server, "/admin", &[]);
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some(PAGE));
    let script = get(&server, "/admin/console.js", &[]);
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));

    // A wrong password, and a user who is not an admin.
    assert_login_page(
        &log_in(&server, ADMIN.0, "wrong"),
        401,
        Some("wrong user or password"),
    );
    assert_login_page(
        &log_in(&server, "alice@example.com", "alice-secret"),
        403,
        Some("not an administrator"),
    );

    // The data: 401 anonymous, 403 for a non-admin's credentials, 200 for
    // an admin's (as the admin API).
    assert_eq!(get(&server, DATA, &[]).status, 401);
    let alice = basic_auth("alice", "alice-secret");
    assert_eq!(get(&server, DATA, &[("Authorization", &alice)]).status, 403);
    let root = basic_auth(ADMIN.0, ADMIN.1);
    assert_eq!(get(&server, DATA, &[("Authorization", &root)]).status, 200);
    assert_eq!(
        get(&server, DATA, &[("Cookie", "reprise-console=0123abcd")]).status,
        401,
        "an unknown session"
    );

    // An admin logs in: a session cookie, then the console and its data.
    let login = log_in(&server, ADMIN.0, ADMIN.1);
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), Some(PAGE));
    let set_cookie = login.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let session = session_of(&login);
    let id = session.strip_prefix("reprise-console=").unwrap();
    assert!(
        id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    let cookie = [("Cookie", session.as_str())];
    let page = get(&server, PAGE, &cookie);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/admin/console.js"), "{}", page.body);
    assert!(!page.body.contains("<script>"), "an inline script");
    let data = get(&server, DATA, &cookie);
    assert_eq!(data.status, 200, "{}", data.body);
    assert_eq!(data.header("cache-control"), Some("no-store"));
    let json: serde_json::Value = serde_json::from_str(&data.body).unwrap();
    assert_eq!(json["viewer"], ADMIN.0);
    assert_eq!(json["installation"]["installation"], "main");
    assert_eq!(json["installation"]["role"], "leader");
    let calendars = json["projections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "calendars")
        .expect("the calendars projection");
    assert_eq!(calendars["versions"][0]["state"], "ready");
    assert!(json["log"]["topics"].as_array().unwrap().len() >= 5);
    // Nothing of the users but the admin looking.
    assert!(!data.body.contains("alice"), "{}", data.body);

    // No longer an admin, or disabled: the session is refused at once,
    // and stays ended.
    change_admin(&server, "update", &["--admin", "false"]);
    let refused = get(&server, DATA, &cookie);
    assert_eq!(refused.status, 403, "{}", refused.body);
    change_admin(&server, "update", &["--admin", "true"]);
    assert_login_page(&get(&server, PAGE, &cookie), 401, None);
    let session = session_of(&log_in(&server, ADMIN.0, ADMIN.1));
    let cookie = [("Cookie", session.as_str())];
    change_admin(&server, "disable", &[]);
    assert_login_page(&get(&server, PAGE, &cookie), 401, Some("disabled"));
    change_admin(&server, "enable", &[]);
    assert_eq!(get(&server, DATA, &cookie).status, 401, "the session ended");

    // Logging out ends a session.
    let session = session_of(&log_in(&server, ADMIN.0, ADMIN.1));
    let cookie = [("Cookie", session.as_str())];
    assert_eq!(get(&server, DATA, &cookie).status, 200);
    let out = send(server.port, "POST", "/admin/logout", &cookie, b"");
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(get(&server, DATA, &cookie).status, 401);
}

/// Debian's chromium and its driver, which `scripts/test` installs.
fn chromium() {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            Path::new(tool).is_file(),
            "{tool} is missing: install Debian's chromium and chromium-driver (scripts/test does); \
             {INSTALL_HINT}"
        );
    }
}

/// Runs `tests/clients/console.py` as the admin; its output on success.
fn console_script(server: &TestServer, args: &[&str], timeout: Duration) -> String {
    let python = python_with("selenium");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&python);
    cmd.arg(client_script("console.py"))
        .args([
            "--url",
            &server.url,
            "--user",
            ADMIN.0,
            "--password",
            ADMIN.1,
        ])
        // The calendar owner's name and an event's summary: user data.
        .args(["--hidden", "alice", "--hidden", "Event 1"])
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let ran = run_with_timeout(cmd, dir.path(), timeout);
    assert!(
        ran.success && ran.output.lines().any(|l| l == "console: PASS"),
        "console.py {}:\n{}",
        ran.status,
        ran.output
    );
    eprintln!("{}", ran.output);
    ran.output
}

#[test]
fn chromium_logs_in_and_watches_a_new_projection_version_build_then_go_live() {
    chromium();
    let mut server = TestServer::start_with(&["--projection-version", "calendars=1"], &[]);
    add_admin(&server);
    // Enough calendar events that the new version takes seconds to build
    // at the rate below.
    let file = server.data_dir().parent().unwrap().join("work.ics");
    std::fs::write(&file, crate::upgrade::calendar(4000)).unwrap();
    let mut import = server.command();
    import.args(["--server", &server.url, "import", "calendar", "alice"]);
    import.arg(&file);
    ok(import, "");

    console_script(
        &server,
        &["--phase", "login", "--live", "calendars@1"],
        Duration::from_secs(120),
    );

    // The pin goes: this build's calendars@2 builds beside calendars@1,
    // 4,000 events at 200 a second.
    server.restart_with(&[], &["--build-rate", "200"]);
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    let screenshot = artifacts.join("console.png");
    let _ = std::fs::remove_file(&screenshot);
    let output = console_script(
        &server,
        &[
            "--phase",
            "upgrade",
            "--building",
            "calendars@2",
            "--screenshot",
            screenshot.to_str().unwrap(),
        ],
        Duration::from_secs(400),
    );
    for line in ["ok: calendars@2 building", "ok: calendars@2 is live"] {
        assert!(output.contains(line), "no {line:?} in:\n{output}");
    }
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        screenshot.display()
    );
}
