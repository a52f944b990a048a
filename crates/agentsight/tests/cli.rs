//! The operator CLI against a real data dir, including while the server runs.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

#[test]
fn agents_and_keys_are_created_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::cli(dir.path(), &["agent", "create", "Support bot"]);
    let write = common::last_line(&out);
    assert!(agentsight_core::keys::is_well_formed(&write), "{out}");
    let read = common::last_line(&common::cli(
        dir.path(),
        &["key", "create", "--agent", "Support bot", "--role", "read"],
    ));
    assert!(agentsight_core::keys::is_well_formed(&read));
    assert_ne!(read, write);
    let agents = common::cli(dir.path(), &["agent", "list"]);
    assert!(agents.contains("Support bot") && agents.contains("production,development"), "{agents}");
    let keys = common::cli(dir.path(), &["key", "list"]);
    assert_eq!(keys.lines().count(), 3, "{keys}");
    assert!(!keys.contains(&write), "secrets are never shown again");
    let dup = std::process::Command::new(common::BIN)
        .args(["agent", "create", "Support bot", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!dup.status.success());
}

#[test]
fn serve_on_an_empty_data_dir_creates_a_first_agent_and_says_how_to_connect() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = common::serve(dir.path());
    let head = server.stdout_head.join("\n");
    assert!(head.contains("export AGENTSIGHT_API_ENDPOINT=http://127.0.0.1:"), "{head}");
    let key_line = server.stdout_head.iter().find(|l| l.contains("AGENTSIGHT_API_KEY=")).unwrap();
    let key = key_line.split('=').nth(1).unwrap();
    assert!(agentsight_core::keys::is_well_formed(key));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// Behind a proxy (`--public-url`), the first start tells the SDK the public address, as the
/// setup link does, not the loopback one the server listens on.
#[test]
fn serve_with_a_public_url_points_the_sdk_and_the_setup_link_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = common::serve_with(dir.path(), &["--public-url", "https://agentsight.example.com"]);
    let head = server.stdout_head.join("\n");
    assert!(head.contains("export AGENTSIGHT_API_ENDPOINT=https://agentsight.example.com\n"), "{head}");
    assert!(head.contains("Open https://agentsight.example.com/setup?token="), "{head}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[tokio::test]
async fn a_key_revoked_while_the_server_runs_stops_working_and_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::last_line(&common::cli(dir.path(), &["agent", "create", "a"]));
    let mut server = common::serve(dir.path());
    let client = reqwest::Client::new();
    let get = |k: String| {
        let (client, url) = (client.clone(), format!("{}/api/conversations/", server.base));
        async move {
            client.get(url).header("Authorization", format!("Api-Key {k}")).send().await.unwrap().status()
        }
    };
    assert_eq!(get(key.clone()).await, 200);
    let list = common::cli(dir.path(), &["key", "list"]);
    let id = list.lines().nth(1).unwrap().split('\t').next().unwrap().to_string();
    common::cli(dir.path(), &["key", "revoke", &id]);
    let start = Instant::now();
    loop {
        if get(key.clone()).await == 401 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "revoked key still accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = server.child.id().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "SIGTERM should stop the server cleanly: {status:?}");
}

#[test]
fn escalation_tools_are_set_shown_and_reset_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    common::cli(dir.path(), &["agent", "create", "bot"]);
    let shown = common::cli(dir.path(), &["agent", "escalation", "bot"]);
    assert!(shown.contains("(default): fallback_to_human,open_ticket,ticket,contact_human"), "{shown}");
    let set = common::cli(
        dir.path(),
        &["agent", "escalation", "bot", "--set", "call_support, handoff,call_support"],
    );
    assert!(set.trim_end().ends_with("'bot': call_support,handoff"), "{set}");
    let reset = common::cli(dir.path(), &["agent", "escalation", "bot", "--reset"]);
    assert!(reset.contains("(default)"), "{reset}");
    let bad = std::process::Command::new(common::BIN)
        .args(["agent", "escalation", "bot", "--set", " ", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

fn cli_with_stdin(data: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(common::BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn users_created_on_the_cli_sign_in_and_the_setup_link_is_only_for_an_empty_install() {
    let dir = tempfile::tempdir().unwrap();
    // No admin yet: serve prints a one-time setup link.
    let mut server = common::serve(dir.path());
    let head = server.stdout_head.join("\n");
    assert!(head.contains("/setup?token=stp_"), "{head}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // The first start also made agent 1, `default`; `bot` is agent 2.
    common::cli(dir.path(), &["agent", "create", "bot"]);
    let short = cli_with_stdin(
        dir.path(),
        &["user", "create", "a@example.com", "--role", "admin", "--password-stdin"],
        "short\n",
    );
    assert!(!short.status.success(), "a short password is refused");
    let out = cli_with_stdin(
        dir.path(),
        &["user", "create", "Admin@Example.com", "--role", "admin", "--password-stdin"],
        "a long password\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("admin@example.com") && !printed.contains("a long password"), "{printed}");
    let out = cli_with_stdin(
        dir.path(),
        &["user", "create", "v@example.com", "--role", "viewer", "--agent", "bot", "--password-stdin"],
        "viewer password\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad_agent = cli_with_stdin(
        dir.path(),
        &["user", "create", "w@example.com", "--role", "viewer", "--agent", "nope", "--password-stdin"],
        "viewer password\n",
    );
    assert!(!bad_agent.status.success());
    let list = common::cli(dir.path(), &["user", "list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(
        list.contains("admin@example.com\tadmin\tall") && list.contains("v@example.com\tviewer\t2"),
        "{list}"
    );

    let mut server = common::serve(dir.path());
    assert!(!server.stdout_head.join("\n").contains("setup?token"), "an admin exists: no setup link");
    let client = reqwest::Client::new();
    let login = |email: &str, password: &str| {
        let (client, url) = (client.clone(), format!("{}/api/auth/login/", server.base));
        let body = serde_json::json!({"email": email, "password": password});
        async move { client.post(url).json(&body).send().await.unwrap().status() }
    };
    assert_eq!(login("admin@example.com", "a long password").await, 200);
    assert_eq!(login("v@example.com", "viewer password").await, 200);
    assert_eq!(login("v@example.com", "wrong password").await, 400);
    common::cli(dir.path(), &["user", "delete", "v@example.com"]);
    assert_eq!(login("v@example.com", "viewer password").await, 400, "a deleted user cannot sign in");
    let last = std::process::Command::new(common::BIN)
        .args(["user", "delete", "admin@example.com", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!last.status.success(), "the last admin stays");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[tokio::test]
async fn prices_restate_reprices_stored_usage_from_its_counts_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::last_line(&common::cli(dir.path(), &["agent", "create", "bot"]));
    common::cli(dir.path(), &["agent", "create", "other"]);
    let mut server = common::serve(dir.path());
    let client = reqwest::Client::new();
    let llm = |id: &str, model: &str| {
        serde_json::json!({"span_id": id, "trace_id": "0123456789abcdef0123456789abcdef",
            "parent_span_id": null, "kind": "llm", "name": model,
            "started_at": "2026-08-15T10:00:01+00:00", "ended_at": "2026-08-15T10:00:02+00:00",
            "duration_ms": 1000.0, "status": "ok", "events": [],
            "attributes": {"agentsight.conversation.id": "c1", "agentsight.span.kind": "llm",
                "gen_ai.system": "openai", "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": 80, "gen_ai.usage.output_tokens": 45}})
    };
    let body = serde_json::json!({"sdk": {"name": "agentsight-python", "version": "0.1.4"},
        "conversations": [{"conversation_id": "c1",
            "spans": [llm("00000000000000b1", "gpt-4o-mini"), llm("00000000000000b2", "acme-llm-1")]}]});
    let r = client
        .post(format!("{}/api/ingest/", server.base))
        .header("Authorization", format!("Api-Key {key}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let usage = || {
        let (client, url, key) = (client.clone(), format!("{}/api/token-usage/", server.base), key.clone());
        async move {
            let v = common::get_json(&client, &url, &key).await;
            let mut rows: Vec<(String, serde_json::Value, String, serde_json::Value)> = v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| {
                    (
                        u["model"].as_str().unwrap().to_string(),
                        u["cost_usd"].clone(),
                        u["cost_source"].as_str().unwrap().to_string(),
                        u["price_table"].clone(),
                    )
                })
                .collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            rows
        }
    };
    let date = serde_json::json!(agentsight_core::prices::PRICE_TABLE_DATE);
    let priced = vec![
        ("acme-llm-1".to_string(), serde_json::Value::Null, "unpriced".to_string(), serde_json::Value::Null),
        ("gpt-4o-mini".to_string(), serde_json::json!("0.000039"), "backend".to_string(), date.clone()),
    ];
    assert_eq!(
        usage().await,
        priced,
        "80 input and 45 output tokens of gpt-4o-mini at $0.15 and $0.60 per 1M"
    );

    // A row priced by an older table (as an upgrade finds it), written beside the running server.
    let db = rusqlite::Connection::open(dir.path().join("agentsight.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let n = db
        .execute(
            "UPDATE token_usage SET cost_pico = 1, price_table = '2020-01-01' WHERE model = 'gpt-4o-mini'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_ne!(usage().await, priced);

    let other = common::cli(dir.path(), &["prices", "restate", "--agent", "other"]);
    assert!(other.contains("agent 'other'") && other.contains(": 0 of 0 usage rows changed"), "{other}");
    let all = common::cli(dir.path(), &["prices", "restate"]);
    assert!(all.contains("every agent") && all.contains(": 1 of 2 usage rows changed"), "{all}");
    assert_eq!(usage().await, priced, "the server reads the restated costs");
    let again = common::cli(dir.path(), &["prices", "restate", "--agent", "bot"]);
    assert!(again.contains(": 0 of 2 usage rows changed"), "restating twice changes nothing: {again}");

    let list = std::process::Command::new(common::BIN).args(["prices", "list"]).output().unwrap();
    assert!(list.status.success());
    let table = String::from_utf8(list.stdout).unwrap();
    assert!(table.contains(&format!("Price table of {}", agentsight_core::prices::PRICE_TABLE_DATE)));
    assert!(table.lines().any(|l| l == "gpt-4o-mini\t0.15\t0.60\t0.075\t0.00\t0.15"), "{table}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// A command that fails prints its error with every cause under it on one line
/// (`error: what: why: …`) and exits with status 1: here a database file that is not one, told
/// as the lasting failure it is (not "busy"), down to SQLite's own words.
#[test]
fn a_failure_is_printed_with_its_whole_chain_of_causes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agentsight.db"), "not a database, only some text ".repeat(16)).unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["agent", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.starts_with(&format!(
            "error: opening the database in {dir}: storage failure (not a database): opening the database \
             {dir}/agentsight.db: file is not a database",
            dir = dir.path().display()
        )),
        "{line}"
    );
    // Then what to do about it, naming the data dir.
    let next = stderr.lines().find(|l| l.starts_with("next: ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(next.contains(&format!("agentsight check --data-dir {}", dir.path().display())), "{next}");
    assert!(next.contains("agentsight restore"), "{next}");
}

/// A damaged archive (the main database sound) is named as the file that is damaged, with the
/// next step; so is a main database cut short.
#[test]
fn a_damaged_file_is_named_at_start_with_what_to_do() {
    for (file, keep) in [("agentsight.archive.db", 4096), ("agentsight.db", 8192)] {
        let dir = tempfile::tempdir().unwrap();
        let made = run(&["agent", "create", "bot", "--data-dir", dir.path().to_str().unwrap()]);
        assert!(made.status.success(), "{made:?}");
        let path = dir.path().join(file);
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > keep, "{file} is only {} bytes", bytes.len());
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let out = std::process::Command::new(common::BIN)
            .args(["agent", "list", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{stderr}"));
        assert!(line.contains(&path.display().to_string()), "{file}: {line}");
        assert!(
            line.contains("storage failure (corrupt)") || line.contains("storage failure (not a database)"),
            "{line}"
        );
        assert!(
            stderr.lines().any(|l| l.starts_with("next: ") && l.contains("agentsight check")),
            "{stderr}"
        );
    }
}

/// `serve` on an address already taken fails with the address and the OS's reason.
#[test]
fn serve_on_a_taken_address_says_which_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
        .arg(dir.path())
        .env("AGENTSIGHT_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with(&format!("error: starting the server: binding {addr}: ")), "{stderr}");
    assert!(stderr.to_lowercase().contains("in use"), "{stderr}");
}

/// Runs `serve` on an empty data dir with stdout and stderr to pipes (no terminal), kills it
/// once it listens, and returns everything it wrote to stderr. Geolocation is left
/// to its default (`<data-dir>/geo`, empty here), so the server warns that it is off.
fn serve_and_collect_stderr(data: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Vec<u8> {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(common::BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data).args(args);
    for var in ["AGENTSIGHT_GEO_DIR", "AGENTSIGHT_LOG_FORMAT", "NO_COLOR"] {
        cmd.env_remove(var);
    }
    cmd.env("AGENTSIGHT_LOG", "info").envs(envs.iter().copied());
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stderr.read_to_end(&mut buf).unwrap();
        buf
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if line.starts_with("AgentSight listening on ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap()
}

#[test]
fn serve_logs_plain_text_to_a_pipe_and_names_the_geo_command_for_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = serve_and_collect_stderr(dir.path(), &[], &[]);
    assert!(!err.contains(&0x1b), "ANSI escape codes in logs written to a pipe");
    let text = String::from_utf8(err).unwrap();
    let want = format!("scripts/fetch-geo.sh --geo-dir {}", dir.path().join("geo").display());
    let warning = text.lines().find(|l| l.contains("geolocation off")).expect(&text);
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains(&want), "the warning should name `{want}`: {warning}");
}

#[test]
fn serve_logs_one_json_object_a_line_with_log_format_json() {
    let dir = tempfile::tempdir().unwrap();
    for (args, envs) in
        [(&["--log-format", "json"][..], &[][..]), (&[][..], &[("AGENTSIGHT_LOG_FORMAT", "json")][..])]
    {
        let err = serve_and_collect_stderr(dir.path(), args, envs);
        assert!(!err.contains(&0x1b), "ANSI escape codes in JSON logs");
        let text = String::from_utf8(err).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect();
        assert!(!lines.is_empty(), "{args:?} {envs:?}: no log lines");
        for line in &lines {
            assert!(line["timestamp"].is_string() && line["level"].is_string(), "{line}");
            assert!(line["message"].is_string(), "{line}");
        }
        let warning = lines
            .iter()
            .find(|l| l["message"].as_str().unwrap().contains("geolocation off"))
            .unwrap_or_else(|| panic!("no geolocation warning in {text}"));
        assert_eq!(warning["level"], "WARN");
        assert_eq!(warning["dir"], dir.path().join("geo").display().to_string());
    }
}

#[test]
fn an_unknown_log_format_is_refused_naming_the_option() {
    let out = std::process::Command::new(common::BIN)
        .args(["agent", "list", "--log-format", "xml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log-format") && err.contains("json"), "{err}");
}

#[test]
fn a_bad_trusted_proxy_is_refused_at_start_naming_the_flag_and_the_value() {
    let dir = tempfile::tempdir().unwrap();
    for (args, env, want) in [
        (vec!["--trusted-proxy", "10.0.0.5/8"], None, "write 10.0.0.0/8 for the network"),
        (vec!["--trusted-proxy", "proxy.example.com"], None, "'proxy.example.com' is not an IP address"),
        (vec![], Some("127.0.0.2,10.0.0.0/33"), "'10.0.0.0/33' is not an IP address"),
    ] {
        let mut cmd = std::process::Command::new(common::BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(dir.path()).args(&args);
        cmd.env_remove("AGENTSIGHT_TRUSTED_PROXY");
        if let Some(v) = env {
            cmd.env("AGENTSIGHT_TRUSTED_PROXY", v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--trusted-proxy") && err.contains(want), "{err}");
    }
    assert!(!dir.path().join("agentsight.db").exists(), "nothing was started");
}

/// `agentsight check --data-dir DIR`: its stdout and whether it succeeded. The geolocation
/// directory is the data dir's own (the test script exports `AGENTSIGHT_GEO_DIR` for others).
fn check(data: &std::path::Path) -> (String, bool) {
    let out = std::process::Command::new(common::BIN)
        .args(["check", "--data-dir"])
        .arg(data)
        .env_remove("AGENTSIGHT_GEO_DIR")
        .output()
        .unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.success())
}

#[test]
fn check_passes_a_healthy_data_dir_and_reports_what_it_looked_at() {
    let dir = tempfile::tempdir().unwrap();
    common::cli(dir.path(), &["agent", "create", "a"]);
    let (out, ok) = check(dir.path());
    assert!(ok, "{out}");
    assert_eq!(out.lines().last(), Some("OK"), "{out}");
    assert!(out.contains("agentsight.db: integrity ok"), "{out}");
    assert!(out.contains("agentsight.archive.db: integrity ok"), "{out}");
    assert!(out.contains("permissions: the data dir is private"), "{out}");
    assert!(out.contains("disk: "), "{out}");
    // No geolocation files in a fresh data dir: a warning naming the command, not a problem.
    assert!(out.contains("geolocation: off") && out.contains("fetch-geo.sh"), "{out}");
}

#[test]
fn check_names_an_archive_that_is_not_a_database_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    common::cli(dir.path(), &["agent", "create", "a"]);
    let archive = dir.path().join("agentsight.archive.db");
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("agentsight.archive.db{side}")));
    }
    std::fs::write(&archive, b"this is not an SQLite database, only garbage bytes of some length".repeat(64))
        .unwrap();
    let (out, ok) = check(dir.path());
    assert!(!ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("PROBLEM")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(&archive.display().to_string()), "{out}");
    assert!(line.contains("not a database") || line.contains("corrupt"), "{out}");
    assert!(out.contains("agentsight.db: integrity ok"), "the main database is fine: {out}");
    assert_eq!(out.lines().last(), Some("PROBLEMS: 1"), "{out}");
}

#[test]
fn check_says_upgrade_for_a_schema_newer_than_this_build() {
    let dir = tempfile::tempdir().unwrap();
    common::cli(dir.path(), &["agent", "create", "a"]);
    let db = dir.path().join("agentsight.db");
    rusqlite::Connection::open(&db).unwrap().pragma_update(None, "user_version", 10_000).unwrap();
    let (out, ok) = check(dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("schema version 10000 is newer") && out.contains("upgrade agentsight"), "{out}");
    assert_eq!(out.lines().last(), Some("PROBLEMS: 1"), "{out}");
}

#[test]
fn check_finds_a_data_dir_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    common::cli(dir.path(), &["agent", "create", "a"]);
    std::fs::set_permissions(dir.path().join("agentsight.db"), std::fs::Permissions::from_mode(0o644))
        .unwrap();
    let (out, ok) = check(dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("mode 0644 lets others in; should be 0600"), "{out}");
}

/// Runs the binary with `args`, returning its output (success or not).
fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::BIN).args(args).output().unwrap()
}

/// Every conversation the server at `base` lists, with its transcript, by id.
async fn transcripts(
    client: &reqwest::Client,
    base: &str,
    key: &str,
) -> std::collections::BTreeMap<i64, serde_json::Value> {
    let mut out = std::collections::BTreeMap::new();
    for page in 1.. {
        let url = format!("{base}/api/conversations/?page_size=100&page={page}");
        let list = common::get_json(client, &url, key).await;
        for c in list["results"].as_array().unwrap() {
            let id = c["id"].as_i64().unwrap();
            let t = common::get_json(client, &format!("{base}/api/conversations/{id}/"), key).await;
            out.insert(id, t);
        }
        if list["next"].is_null() {
            break;
        }
    }
    out
}

#[tokio::test]
async fn a_backup_taken_while_writes_go_on_restores_into_a_server_with_the_same_data_and_keys() {
    use base64::Engine as _;
    use serde_json::json;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = common::last_line(&common::cli(&data, &["agent", "create", "a"]));
    let mut server = common::serve(&data);
    let client = reqwest::Client::new();
    let post = {
        let (client, base, key) = (client.clone(), server.base.clone(), key.clone());
        move |path: &str, body: serde_json::Value| {
            let (client, url, key) = (client.clone(), format!("{base}{path}"), key.clone());
            async move {
                let r = client
                    .post(url)
                    .header("Authorization", format!("Api-Key {key}"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                r.json::<serde_json::Value>().await.unwrap()
            }
        }
    };
    for i in 0..5 {
        post("/api/conversations/", json!({"conversation_id": format!("c{i}")})).await;
        for (sender, text) in [("end_user", "hello"), ("agent", "hi, how can I help?")] {
            post(
                "/api/track/",
                json!({"conversation_id": format!("c{i}"), "sender": sender, "content": text,
                "timestamp": "2026-05-01T10:00:00Z", "conversation": null, "metadata": {}}),
            )
            .await;
        }
    }
    let file = b"%PDF-1.4 backed up".to_vec();
    let c0 = post("/api/conversations/", json!({"conversation_id": "c0"})).await["id"].as_i64().unwrap();
    post(
        "/api/attachments/",
        json!({"conversation": c0, "sender": "end_user", "attachments": [
        {"filename": "d.pdf", "mime_type": "application/pdf",
         "data": base64::engine::general_purpose::STANDARD.encode(&file)}]}),
    )
    .await;

    // A writer keeps ingesting while the backup runs (bounded: at most 2,000 conversations).
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (stop, post) = (stop.clone(), post.clone());
        async move {
            let mut n = 0;
            while n < 2000 && !stop.load(Ordering::Relaxed) {
                post(
                    "/api/track/",
                    json!({"conversation_id": format!("w{n}"), "sender": "end_user",
                    "content": format!("message {n}"), "timestamp": "2026-05-02T10:00:00Z",
                    "conversation": null, "metadata": {}}),
                )
                .await;
                n += 1;
            }
            n
        }
    });
    let backup = dir.path().join("backup");
    let out = tokio::task::spawn_blocking({
        let (data, backup) = (data.clone(), backup.clone());
        move || common::cli(&data, &["backup", "--to", backup.to_str().unwrap()])
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);
    let counts: Vec<u64> =
        out.lines().next().unwrap().split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(out.contains("agentsight.db") && out.contains("agentsight.archive.db"), "{out}");
    let (conversations, messages, files) = (counts[0], counts[1], counts[2]);
    assert!(conversations >= 5 && messages >= 10, "{out}");
    assert_eq!(files, 1, "{out}");

    // Nothing is overwritten: not the backup, not a live data dir, not a non-empty one.
    let again = run(&["backup", "--to", backup.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    assert!(!again.status.success());
    let live = run(&["restore", "--from", backup.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    assert!(!live.status.success());
    assert!(String::from_utf8_lossy(&live.stderr).contains("not empty"), "{live:?}");
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep me").unwrap();
    let full = run(&["restore", "--from", backup.to_str().unwrap(), "--data-dir", other.to_str().unwrap()]);
    assert!(!full.status.success());
    assert_eq!(std::fs::read_to_string(other.join("notes.txt")).unwrap(), "keep me");

    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&backup).unwrap().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(backup.join("agentsight.db")).unwrap().mode() & 0o777, 0o600);
    }

    let restored = dir.path().join("restored");
    let out = common::cli(&restored, &["restore", "--from", backup.to_str().unwrap()]);
    assert!(out.contains(&format!("Restored {conversations} conversations, {messages} messages")), "{out}");
    let mut second = common::serve(&restored);

    // The restored server holds exactly what the backup counted, each transcript as the
    // original server serves it, the attachment's bytes, and the old key works (every read
    // here uses it, and it still writes).
    let original = transcripts(&client, &server.base, &key).await;
    let copy = transcripts(&client, &second.base, &key).await;
    assert_eq!(copy.len() as u64, conversations);
    let mut restored_messages = 0;
    for (id, t) in &copy {
        assert_eq!(Some(t), original.get(id), "conversation {id}");
        restored_messages += t["messages"].as_array().unwrap().len() as u64;
    }
    assert_eq!(restored_messages, messages);
    let listing =
        common::get_json(&client, &format!("{}/api/conversations/{c0}/attachments/", second.base), &key)
            .await;
    let url = listing["messages"][0]["attachments"][0]["file_url"].as_str().unwrap().to_string();
    let url = if url.starts_with("http") { url } else { format!("{}{url}", second.base) };
    let got = client.get(url).header("Authorization", format!("Api-Key {key}")).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), file.as_slice());
    let r = client
        .post(format!("{}/api/conversations/", second.base))
        .header("Authorization", format!("Api-Key {key}"))
        .json(&json!({"conversation_id": "after-restore"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    for s in [&mut server, &mut second] {
        s.child.kill().unwrap();
        s.child.wait().unwrap();
    }
}

/// A database damaged inside (its `messages` table unreadable) still opens, and the server
/// starts: the metrics index's load meets the damage, and `/readyz` answers 503 naming the file,
/// the kind of failure and the command that finds it, instead of "ready".
#[tokio::test]
async fn damage_the_metrics_index_meets_makes_the_server_not_ready_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    common::cli(dir.path(), &["demo", "--conversations", "400", "--days", "7"]);
    let db = dir.path().join("agentsight.db");
    // The root pages of `messages` and of its indexes filled with garbage: every read of the
    // table fails as corrupt, while the schema and the tables read at start are whole.
    let (roots, page_size): (Vec<i64>, i64) = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut q = c
            .prepare("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'messages' AND rootpage > 0")
            .unwrap();
        let roots = q.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let size = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        (roots, size)
    };
    assert!(!roots.is_empty());
    let mut bytes = std::fs::read(&db).unwrap();
    let page = usize::try_from(page_size).unwrap();
    for root in roots {
        let at = usize::try_from(root - 1).unwrap() * page;
        for (i, b) in bytes[at..at + page].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
    }
    std::fs::write(&db, &bytes).unwrap();

    let mut server = common::serve(dir.path());
    let client = reqwest::Client::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..200 {
        let r = client.get(format!("{}/readyz", server.base)).send().await.unwrap();
        let status = r.status();
        last = r.json().await.unwrap();
        if last["checks"]["metrics_engine"]["phase"] != "loading" {
            assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{last}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let engine = &last["checks"]["metrics_engine"];
    assert_eq!(engine["ok"], false, "{last}");
    let said = engine["status"].as_str().unwrap();
    assert!(said.starts_with("corrupt: "), "{said}");
    assert!(said.contains(&db.display().to_string()), "{said}");
    assert!(said.contains("agentsight check"), "{said}");
    assert_eq!(last["ready"], false);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// Runs the binary with `args` (and `env`), none of the caller's `AGENTSIGHT_*` settings, and
/// returns its stderr, asserting that it failed.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new(common::BIN);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AGENTSIGHT_")) {
        cmd.env_remove(k);
    }
    let out = cmd.args(args).envs(env.iter().copied()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
    stderr
}

#[test]
fn the_scale_out_flags_are_both_or_neither_and_refused_where_they_do_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // Nothing listens on port 1: a command that got as far as connecting would say so.
    let (pg, ch) =
        ("postgres://agentsight@127.0.0.1:1/agentsight", "http://127.0.0.1:1/?database=agentsight");
    let e = refused(&["agent", "list", "--postgres", pg], &[]);
    assert!(e.contains("--postgres needs --clickhouse"), "{e}");
    let e = refused(&["key", "list"], &[("AGENTSIGHT_CLICKHOUSE", ch)]);
    assert!(e.contains("--clickhouse needs --postgres"), "{e}");
    let e = refused(&["user", "list", "--postgres", pg, "--clickhouse", ch, "--data-dir", d], &[]);
    assert!(e.contains("cannot be combined with --postgres and --clickhouse"), "{e}");
    let e = refused(&["agent", "list", "--clickhouse-cluster", "c"], &[]);
    assert!(e.contains("need --clickhouse"), "{e}");
    for args in [vec!["backup", "--to", d], vec!["restore", "--from", d], vec!["check"]] {
        let mut args = args.clone();
        args.extend(["--postgres", pg, "--clickhouse", ch]);
        let e = refused(&args, &[]);
        assert!(e.contains(&format!("`agentsight {}` works on the embedded SQLite store", args[0])), "{e}");
    }
    // No --attachments-dir needed (attachment bytes go to PostgreSQL): serve gets as far as
    // connecting.
    let e = refused(&["serve", "--postgres", pg, "--clickhouse", ch], &[]);
    assert!(e.contains("opening the configuration store in PostgreSQL (--postgres)"), "{e}");
    let e = refused(&["serve", "--data-dir", d, "--attachments-dir", d], &[]);
    assert!(e.contains("--attachments-dir") && e.contains("is for scale-out"), "{e}");
    let e =
        refused(&["serve", "--postgres", pg, "--clickhouse", ch, "--attachments-dir", d, "--no-fsync"], &[]);
    assert!(e.contains("--no-fsync applies to the embedded SQLite store only"), "{e}");
    // migrate: the box to copy (--data-dir) and the deployment (--postgres, --clickhouse).
    let e = refused(&["migrate", "--postgres", pg, "--clickhouse", ch], &[]);
    assert!(e.contains("--data-dir DIR names the single box to copy"), "{e}");
    let e = refused(&["migrate", "--data-dir", d], &[]);
    assert!(e.contains("migrate needs the deployment to copy into: --postgres URL --clickhouse URL"), "{e}");
    let e = refused(&["migrate", "--data-dir", d, "--postgres", pg, "--clickhouse", ch], &[]);
    assert!(e.contains("is not a data dir: it has no agentsight.db"), "{e}");
    // Both given: the command tries PostgreSQL, and says which store did not open.
    let e = refused(&["agent", "list"], &[("AGENTSIGHT_POSTGRES", pg), ("AGENTSIGHT_CLICKHOUSE", ch)]);
    assert!(e.contains("opening the configuration store in PostgreSQL (--postgres)"), "{e}");
    // Nothing was written into the data dir by any of these.
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 0);
}

/// `serve` takes the Prometheus token from the environment, serves `/metrics` with it, and
/// writes it nowhere: not in its output at debug level, not in `--help`. A short token is refused
/// at start, naming the rule.
#[tokio::test]
async fn the_prometheus_token_comes_from_the_environment_and_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let token = "prom-token-from-env-5f0c2a9e81d4";
    let log = dir.path().join("serve.log");
    let mut child = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("AGENTSIGHT_PROMETHEUS_TOKEN", token)
        .env("AGENTSIGHT_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let mut out = String::new();
    let base = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        out.push_str(&line);
        out.push('\n');
        if let Some(rest) = line.strip_prefix("AgentSight listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let client = reqwest::Client::new();
    let scrape = client.get(format!("{base}/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(scrape.text().await.unwrap().contains("agentsight_build_info"));
    let refused =
        client.get(format!("{base}/metrics")).bearer_auth("not-the-token-at-all").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
    for rest in lines {
        out.push_str(&rest.unwrap());
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("DEBUG"), "the log was at debug level");
    assert!(!logged.contains(token) && !out.contains(token), "the token was printed");
    let help = std::process::Command::new(common::BIN)
        .args(["serve", "--help"])
        .env("AGENTSIGHT_PROMETHEUS_TOKEN", token)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains(token), "--help shows the env value");
    let short = std::process::Command::new(common::BIN)
        .args(["serve", "--prometheus-token", "short", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("16 to 512 printable"), "{short:?}");
}

#[test]
fn serve_help_names_the_scale_out_flags() {
    let out = std::process::Command::new(common::BIN).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--postgres <URL>",
        "--clickhouse <URL>",
        "--clickhouse-cluster <NAME>",
        "--clickhouse-shard <URL>",
        "--attachments-dir <DIR>",
        "--prometheus-token <TOKEN>",
        "AGENTSIGHT_PROMETHEUS_TOKEN",
    ] {
        assert!(help.contains(flag), "{flag} missing from serve --help:\n{help}");
    }
}

#[test]
fn retention_is_set_shown_and_turned_off_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    common::cli(dir.path(), &["agent", "create", "bot"]);
    let shown = common::cli(dir.path(), &["agent", "retention", "bot"]);
    assert!(shown.contains("off"), "{shown}");
    let set = common::cli(dir.path(), &["agent", "retention", "bot", "--days", "90"]);
    assert!(set.contains("'bot': 90 days"), "{set}");
    assert!(common::cli(dir.path(), &["agent", "retention", "bot"]).contains("90 days"));
    let off = common::cli(dir.path(), &["agent", "retention", "bot", "--off"]);
    assert!(off.contains("off"), "{off}");
    for bad in ["0", "36501", "-1"] {
        let out = std::process::Command::new(common::BIN)
            .args(["agent", "retention", "bot", &format!("--days={bad}"), "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--days"), "{bad}: the flag is named");
    }
}

/// `agentsight erase` beside a running server on the same data dir: the server's metrics
/// reflect it (its metrics index sees another process wrote and reloads), and a repeat erases
/// nothing more.
#[tokio::test]
async fn erase_from_the_cli_while_the_server_runs_is_reflected_in_its_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::last_line(&common::cli(dir.path(), &["agent", "create", "bot"]));
    let mut server = common::serve(dir.path());
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        let (client, url, key) = (client.clone(), format!("{}{path}", server.base), key.clone());
        async move {
            let r =
                client.post(url).header("Authorization", format!("Api-Key {key}")).json(&body).send().await;
            assert!(r.unwrap().status().is_success());
        }
    };
    for (id, customer) in [("c1", "cust-x"), ("c2", "cust-x"), ("c3", "cust-y")] {
        post(
            "/api/conversations/",
            serde_json::json!({"conversation_id": id, "customer_id": customer, "timestamp": "2026-05-01T09:00:00Z"}),
        )
        .await;
        post(
            "/api/track/",
            serde_json::json!({"conversation_id": id, "sender": "end_user", "content": "hi",
                "timestamp": "2026-05-01T10:00:00Z", "conversation": null, "metadata": {}}),
        )
        .await;
    }
    let overview = format!("{}/api/metrics/overview/?from=2026-05-01&to=2026-05-01", server.base);
    assert_eq!(common::get_json(&client, &overview, &key).await["total_conversations"], 3);
    let out = common::cli(dir.path(), &["erase", "--agent", "bot", "--customer-id", "cust-x"]);
    assert!(out.contains("Erased 2 conversation(s), 2 message(s)"), "{out}");
    let started = Instant::now();
    while common::get_json(&client, &overview, &key).await["total_conversations"] != 1 {
        assert!(started.elapsed() < Duration::from_secs(60), "the server never saw the erase");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = common::cli(dir.path(), &["erase", "--agent", "bot", "--customer-id", "cust-x"]);
    assert!(again.contains("Erased 0 conversation(s)"), "{again}");
    let bad = std::process::Command::new(common::BIN)
        .args(["erase", "--agent", "bot", "--customer-id", " ", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("customer-id"));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// `agentsight alert …` and `agentsight notify …`: rules, targets and SMTP settings are stored
/// and listed; secrets are read from standard input and never printed; bad input is refused
/// naming the field.
#[test]
fn alerts_and_notification_settings_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    common::cli(dir.path(), &["agent", "create", "bot"]);
    let made = common::cli(
        dir.path(),
        &[
            "alert",
            "create",
            "--agent",
            "bot",
            "--kind",
            "tool_error_rate",
            "--threshold",
            "0.2",
            "--window-hours",
            "48",
        ],
    );
    assert!(made.contains("Created alert rule 1 (tool_error_rate of agent 'bot' above 0.2)"), "{made}");
    let list = common::cli(dir.path(), &["alert", "list"]);
    assert!(list.contains("1\t1\ttool_error_rate\t0.2\t48\ttrue\tok"), "{list}");
    let bad = std::process::Command::new(common::BIN)
        .args([
            "alert",
            "create",
            "--agent",
            "bot",
            "--kind",
            "volume_drop",
            "--threshold",
            "0.5",
            "--window-hours",
            "30",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("window_hours"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let secret = "a-signing-secret-of-the-hook";
    let add = cli_with_stdin(
        dir.path(),
        &[
            "notify",
            "target",
            "add-webhook",
            "--name",
            "ops",
            "--url",
            "https://hooks.example.invalid/p/secret-path",
            "--secret-stdin",
        ],
        &format!("{secret}\n"),
    );
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    common::cli(
        dir.path(),
        &["notify", "target", "add-email", "--name", "on call", "--email", "oncall@example.invalid"],
    );
    let targets = common::cli(dir.path(), &["notify", "target", "list"]);
    assert!(targets.contains("webhook\tops\thttps://hooks.example.invalid/…"), "{targets}");
    assert!(targets.contains("email\ton call\toncall@example.invalid"), "{targets}");
    assert!(!targets.contains("secret-path") && !targets.contains(secret), "{targets}");

    let set = cli_with_stdin(
        dir.path(),
        &[
            "notify",
            "smtp",
            "set",
            "--host",
            "mail.example.invalid",
            "--username",
            "u",
            "--password-stdin",
            "--from",
            "a@example.invalid",
        ],
        "the-smtp-password\n",
    );
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let shown = common::cli(dir.path(), &["notify", "smtp", "show"]);
    assert!(
        shown.contains("host: mail.example.invalid")
            && shown.contains("port: 587")
            && shown.contains("password: (set)"),
        "{shown}"
    );
    assert!(!shown.contains("the-smtp-password"), "{shown}");
    common::cli(dir.path(), &["alert", "delete", "1"]);
    assert!(!common::cli(dir.path(), &["alert", "list"]).contains("tool_error_rate"));
}
