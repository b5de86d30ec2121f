//! Runbooks end to end in one process (plans, executor, webhooks against a local server) and
//! through the `faultline runbook` command (lock across processes, readonly, bad input).

use faultline::runbook::{
    CancelToken, CauseSignal, Executor, Outcome, OutputLine, Plan, Probe, ProblemContext, ProblemProbe, RunRecord,
    Runbook, RunbookError, RunbookSet, StepStatus,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A probe that answers from a script: one answer per question, the last repeated.
struct ScriptedProbe {
    mitigated: Vec<bool>,
    asked: Mutex<usize>,
}

impl ScriptedProbe {
    fn new(mitigated: &[bool]) -> Arc<ScriptedProbe> {
        Arc::new(ScriptedProbe { mitigated: mitigated.to_vec(), asked: Mutex::new(0) })
    }
}

impl ProblemProbe for ScriptedProbe {
    fn probe<'a>(&'a self, _problem: &'a str) -> Pin<Box<dyn Future<Output = Result<Probe, String>> + Send + 'a>> {
        Box::pin(async move {
            let mut n = self.asked.lock().unwrap();
            let m = self.mitigated[(*n).min(self.mitigated.len() - 1)];
            *n += 1;
            Ok(Probe { open: !m, active_signals: if m { 0 } else { 2 }, impact: "test".into() })
        })
    }
}

fn context(labels: &[(&str, &str)]) -> ProblemContext {
    let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ProblemContext {
        problem_id: "P-0042".into(),
        problem_title: "TargetDown on process:api".into(),
        problem_severity: "critical".into(),
        entity_id: "process:api".into(),
        entity_kind: "process".into(),
        entity_name: "api".into(),
        entity_labels: labels.clone(),
        root_cause: Some(CauseSignal { kind: "alert".into(), name: "TargetDown".into(), value: Some(0.0), labels }),
        signals: vec![("alert".into(), "TargetDown".into())],
    }
}

/// Runbooks from `(file name, text)`, written under `dir` so errors name real files.
fn set(dir: &Path, files: &[(&str, &str)]) -> RunbookSet {
    let list = files
        .iter()
        .map(|(name, text)| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            Runbook::load(&p).unwrap()
        })
        .collect();
    RunbookSet::from_runbooks(list).unwrap()
}

fn executor(dir: &Path, probe: Arc<dyn ProblemProbe>) -> Executor {
    let mut e = Executor::new(dir.join("locks"), probe);
    e.kill_grace = Duration::from_millis(300);
    e
}

async fn run(e: &Executor, plan: &Plan, cancel: &CancelToken) -> (Result<RunRecord, RunbookError>, Vec<OutputLine>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let r = e.run(plan, &tx, cancel).await;
    drop(tx);
    let mut lines = Vec::new();
    while let Some(l) = rx.recv().await {
        lines.push(l);
    }
    (r, lines)
}

/// A script that writes its arguments, NUL-terminated, then `$EVIL` to `$OUT`.
fn argv_recorder(dir: &Path) -> PathBuf {
    let p = dir.join("record-argv");
    std::fs::write(
        &p,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$OUT\"\nprintf '%s' \"$EVIL\" > \"$OUT.env\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[tokio::test]
async fn hostile_label_values_reach_the_program_as_inert_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let script = argv_recorder(dir.path());
    let hostile = [
        ("semi", format!("; rm -rf {d}/x; touch {d}/pwned1")),
        ("subst", format!("$(touch {d}/pwned2)")),
        ("tick", format!("`touch {d}/pwned3`")),
        ("nl", format!("a\nb\ntouch {d}/pwned4")),
        ("quotes", "it's \"quoted\" \\ back".to_string()),
        ("odd", "caf\u{e9} \u{fffd}\u{1b}[31m red \u{0} nul?".replace('\u{0}', "")),
        ("glob", "* ~ {a,b} >x <y |z &".to_string()),
    ];
    std::fs::create_dir(dir.path().join("x")).unwrap();
    let labels: Vec<(&str, &str)> = hostile.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ctx = context(&labels);
    let argv: Vec<String> = hostile.iter().map(|(k, _)| format!("\"{{entity.labels.{k}}}\"")).collect();
    let text = format!(
        "name = \"inject\"\n[[steps]]\nkind = \"run\"\nargv = [\"{}\", {}]\nenv = {{ OUT = \"{d}/argv\", EVIL = \"{{entity.labels.subst}}\" }}\n",
        script.display(),
        argv.join(", ")
    );
    let set = set(dir.path(), &[("inject.toml", &text)]);
    let plan = Plan::build(&set, "inject", &ctx, "tester@host").unwrap();
    let lines = plan.lines().join("\n");
    // The plan shows each value quoted as one word, a newline as \n: nothing hides a command.
    assert!(lines.contains(&format!("'; rm -rf {d}/x; touch {d}/pwned1'")), "{lines}");
    assert!(lines.contains(&format!("$'a\\nb\\ntouch {d}/pwned4'")), "{lines}");
    assert!(lines.contains("\\x1b[31m"), "{lines}");
    assert_eq!(plan.lines().len(), 1 + 1 + 2, "one header, one argv line, two env lines: {lines}");

    let (r, _) = run(&executor(dir.path(), ScriptedProbe::new(&[true])), &plan, &CancelToken::new()).await;
    let r = r.unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded, "{r:#?}");
    let got = std::fs::read(dir.path().join("argv")).unwrap();
    let want: Vec<u8> = hostile.iter().flat_map(|(_, v)| v.bytes().chain([0])).collect();
    assert_eq!(got, want, "each value arrives as exactly one argument, byte for byte");
    assert_eq!(std::fs::read(dir.path().join("argv.env")).unwrap(), hostile[1].1.as_bytes());
    for n in 1..=4 {
        assert!(!dir.path().join(format!("pwned{n}")).exists(), "pwned{n} was created");
    }
    assert!(dir.path().join("x").exists(), "the rm never ran");
}

fn proc_alive(pid: u32) -> bool {
    // Gone, or a zombie nobody reaped yet (dead all the same).
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

async fn wait_gone(pid: u32) -> bool {
    for _ in 0..100 {
        if !proc_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A step whose child starts a grandchild that ignores SIGTERM, both writing their pids.
fn group_step(dir: &Path, timeout: &str) -> String {
    let d = dir.display();
    format!(
        "name = \"stuck\"\n[[steps]]\nkind = \"run\"\nargv = [\"sh\", \"-c\", \"echo $$ > {d}/child; sh -c 'trap \\\"\\\" TERM; echo $$ > {d}/grandchild; while :; do sleep 0.05; done' & wait\"]\ntimeout = \"{timeout}\"\n[[steps]]\nkind = \"run\"\nargv = [\"touch\", \"{d}/second-step-ran\"]\n"
    )
}

async fn pid_file(p: &Path) -> u32 {
    for _ in 0..200 {
        if let Some(pid) = std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse().ok()) {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never written", p.display());
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group_and_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let set = set(dir.path(), &[("stuck.toml", &group_step(dir.path(), "700ms"))]);
    let plan = Plan::build(&set, "stuck", &context(&[]), "t@h").unwrap();
    let (r, lines) = run(&executor(dir.path(), ScriptedProbe::new(&[true])), &plan, &CancelToken::new()).await;
    let r = r.unwrap();
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.steps.len(), 1, "the failing step stops the run");
    assert_eq!(r.steps[0].status, StepStatus::TimedOut);
    assert!(r.steps[0].detail.contains("timed out after 700ms"), "{}", r.steps[0].detail);
    let (child, grandchild) =
        (pid_file(&dir.path().join("child")).await, pid_file(&dir.path().join("grandchild")).await);
    assert!(wait_gone(child).await, "child {child} survived");
    assert!(wait_gone(grandchild).await, "grandchild {grandchild} (ignores SIGTERM) survived");
    assert!(!dir.path().join("second-step-ran").exists());
    assert!(lines.iter().any(|l| l.text.contains("TimedOut")), "{lines:?}");
}

#[tokio::test]
async fn cancel_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let set = set(dir.path(), &[("stuck.toml", &group_step(dir.path(), "60s"))]);
    let plan = Plan::build(&set, "stuck", &context(&[]), "t@h").unwrap();
    let cancel = CancelToken::new();
    let e = executor(dir.path(), ScriptedProbe::new(&[true]));
    let grandchild_file = dir.path().join("grandchild");
    let canceller = {
        let cancel = cancel.clone();
        async move {
            let pid = pid_file(&grandchild_file).await;
            cancel.cancel();
            pid
        }
    };
    let ((r, _), grandchild) = tokio::join!(run(&e, &plan, &cancel), canceller);
    let r = r.unwrap();
    assert_eq!(r.outcome, Outcome::Cancelled);
    assert_eq!(r.steps[0].status, StepStatus::Cancelled);
    let child = pid_file(&dir.path().join("child")).await;
    assert!(wait_gone(child).await && wait_gone(grandchild).await, "a process outlived the cancel");
    assert!(!dir.path().join("second-step-ran").exists());
}

#[tokio::test]
async fn dropping_a_running_plan_kills_its_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let set = set(dir.path(), &[("stuck.toml", &group_step(dir.path(), "60s"))]);
    let plan = Plan::build(&set, "stuck", &context(&[]), "t@h").unwrap();
    let e = executor(dir.path(), ScriptedProbe::new(&[true]));
    let grandchild_file = dir.path().join("grandchild");
    let cancel = CancelToken::new();
    let grandchild = tokio::select! {
        _ = run(&e, &plan, &cancel) => panic!("the stuck step ended by itself"),
        pid = pid_file(&grandchild_file) => pid,
    };
    // The run future is dropped here, as when the UI goes away mid-step.
    let child = pid_file(&dir.path().join("child")).await;
    assert!(wait_gone(child).await && wait_gone(grandchild).await, "a process outlived its dropped run");
}

#[tokio::test]
async fn failing_step_stops_the_run_output_is_lossy_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let text = format!(
        "name = \"f\"\n[[steps]]\nkind = \"run\"\nargv = [\"sh\", \"-c\", \"printf 'ok\\\\377\\\\n'; i=0; while [ $i -lt 3000 ]; do echo line-$i-0123456789012345678901234567890; i=$((i+1)); done; echo oops >&2; exit 3\"]\n[[steps]]\nkind = \"run\"\nargv = [\"touch\", \"{d}/after\"]\n"
    );
    let set = set(dir.path(), &[("f.toml", &text)]);
    let plan = Plan::build(&set, "f", &context(&[]), "t@h").unwrap();
    let (r, lines) = run(&executor(dir.path(), ScriptedProbe::new(&[true])), &plan, &CancelToken::new()).await;
    let r = r.unwrap();
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!((r.steps[0].status, r.steps[0].exit_code), (StepStatus::Failed, Some(3)));
    assert_eq!(r.steps[0].detail, "exit status 3");
    assert!(r.steps[0].output.starts_with("ok\u{fffd}\n"), "non-UTF-8 shown lossily");
    assert!(r.steps[0].truncated && r.steps[0].output.len() <= faultline::runbook::execute::OUTPUT_CAP_BYTES);
    // The stream is not capped: every line went out live.
    assert!(lines.iter().any(|l| l.text == "line-2999-0123456789012345678901234567890"));
    assert!(lines.iter().any(|l| l.text == "oops" && l.stream == faultline::runbook::Stream::Stderr));
    assert!(!dir.path().join("after").exists());
}

fn chain(dir: &Path) -> RunbookSet {
    let d = dir.display();
    let step =
        |name: &str| format!("[[steps]]\nkind = \"run\"\nargv = [\"sh\", \"-c\", \"echo {name} >> {d}/order\"]\n");
    let restart = format!(
        "name = \"restart\"\n{}[[steps]]\nkind = \"check\"\nafter = \"10ms\"\n[[steps]]\nkind = \"escalate\"\nto = \"rollback\"\nafter = \"20ms\"\n",
        step("restart")
    );
    let rollback = format!("name = \"rollback\"\n{}[[steps]]\nkind = \"escalate\"\nto = \"page\"\n", step("rollback"));
    let page = format!("name = \"page\"\n{}", step("page"));
    set(dir, &[("restart.toml", &restart), ("rollback.toml", &rollback), ("page.toml", &page)])
}

#[tokio::test]
async fn escalation_runs_the_chain_in_order_until_mitigated() {
    let dir = tempfile::tempdir().unwrap();
    let set = chain(dir.path());
    let plan = Plan::build(&set, "restart", &context(&[]), "t@h").unwrap();
    let lines = plan.lines().join("\n");
    assert!(lines.contains("3. escalate to rollback") && lines.contains("   2. escalate to page"), "{lines}");

    // Never mitigated: restart → rollback → page.
    let (r, _) = run(&executor(dir.path(), ScriptedProbe::new(&[false])), &plan, &CancelToken::new()).await;
    let r = r.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("order")).unwrap(), "restart\nrollback\npage\n");
    assert_eq!(r.outcome, Outcome::Escalated);
    assert_eq!(r.steps[1].status, StepStatus::NotMitigated);
    let rollback = r.escalation.as_ref().unwrap();
    assert_eq!((rollback.runbook.as_str(), rollback.outcome), ("rollback", Outcome::Escalated));
    let page = rollback.escalation.as_ref().unwrap();
    assert_eq!((page.runbook.as_str(), page.outcome), ("page", Outcome::Succeeded));

    // Mitigated at the first check: nothing else runs.
    std::fs::remove_file(dir.path().join("order")).unwrap();
    let (r, _) = run(&executor(dir.path(), ScriptedProbe::new(&[true])), &plan, &CancelToken::new()).await;
    let r = r.unwrap();
    assert_eq!(r.outcome, Outcome::Mitigated);
    assert_eq!(std::fs::read_to_string(dir.path().join("order")).unwrap(), "restart\n");
    assert!(r.escalation.is_none());

    // Not mitigated at the check, mitigated by the time the escalation asks: no rollback.
    std::fs::remove_file(dir.path().join("order")).unwrap();
    let (r, _) = run(&executor(dir.path(), ScriptedProbe::new(&[false, true])), &plan, &CancelToken::new()).await;
    assert_eq!(r.unwrap().outcome, Outcome::Mitigated);
    assert_eq!(std::fs::read_to_string(dir.path().join("order")).unwrap(), "restart\n");
}

#[tokio::test]
async fn readonly_refuses_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let set = set(
        dir.path(),
        &[("t.toml", &format!("name = \"t\"\n[[steps]]\nkind = \"run\"\nargv = [\"touch\", \"{d}/ran\"]\n"))],
    );
    let plan = Plan::build(&set, "t", &context(&[]), "t@h").unwrap();
    let mut e = executor(dir.path(), ScriptedProbe::new(&[true]));
    e.readonly = true;
    let (r, lines) = run(&e, &plan, &CancelToken::new()).await;
    let err = r.unwrap_err();
    assert!(matches!(err, RunbookError::Readonly(_)));
    assert!(err.to_string().contains("read-only"), "{err}");
    assert!(lines.is_empty() && !dir.path().join("ran").exists());
}

#[tokio::test]
async fn a_template_naming_a_missing_field_or_program_names_file_line_key_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let text = format!(
        "name = \"m\"\n[[steps]]\nkind = \"run\"\nargv = [\"touch\", \"{d}/ran\"]\n[[steps]]\nkind = \"run\"\nargv = [\"systemctl\", \"restart\", \"{{entity.labels.unit}}\"]\n"
    );
    let set1 = set(dir.path(), &[("m.toml", &text)]);
    let e = Plan::build(&set1, "m", &context(&[]), "t@h").unwrap_err().to_string();
    let file = dir.path().join("m.toml");
    assert!(e.starts_with(&format!("{}:7:33: ", file.display())), "{e}");
    assert!(e.contains("steps[1].argv[2]") && e.contains("P-0042 has no `{entity.labels.unit}`"), "{e}");

    let text = "name = \"p\"\n[[steps]]\nkind = \"run\"\nargv = [\"no-such-program-faultline\", \"x\"]\n";
    let set2 = set(dir.path(), &[("p.toml", text)]);
    let e = Plan::build(&set2, "p", &context(&[]), "t@h").unwrap_err().to_string();
    assert!(e.contains("p.toml:4:") && e.contains("steps[0].argv[0]") && e.contains("not found in $PATH"), "{e}");
    assert!(!dir.path().join("ran").exists());
}

// ---------------------------------------------------------------------------------------------
// Webhooks against a local server.

#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// A one-purpose HTTP/1.1 server on 127.0.0.1: records each request, answers `status`.
async fn server(status: u16) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..at]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0usize);
                        break (at + 4, len);
                    }
                };
                while buf.len() < head_end + length {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.lines();
                let mut first = lines.next().unwrap_or("").split_whitespace();
                let (method, path) = (first.next().unwrap_or("").to_string(), first.next().unwrap_or("").to_string());
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                seen.lock().unwrap().push(Received { method, path, headers, body });
                let reply = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{{\"ok\":true}}");
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), got)
}

fn secret_file(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("{value}\n")).unwrap();
    p.display().to_string()
}

#[tokio::test]
async fn webhook_payloads_have_the_documented_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let (url, got) = server(200).await;
    let pd_key = secret_file(dir.path(), "pd", "R0UTINGKEY-secret-1");
    let rd_token = secret_file(dir.path(), "rd", "rundeck-token-secret-2");
    let jira_auth = secret_file(dir.path(), "jira", "Basic amlyYS1zZWNyZXQtMw==");
    let text = format!(
        r#"name = "notify"
[secrets]
pd = {{ file = "{pd_key}" }}
rd = {{ file = "{rd_token}" }}
jira = {{ file = "{jira_auth}" }}

[[steps]]
kind = "http"
shape = "slack"
url = "{url}/services/T000/B000/XXX"
text = "{{problem.id}} on {{entity.id}}: {{problem.title}}"

[[steps]]
kind = "http"
shape = "pagerduty"
url = "{url}/v2/enqueue"
routing_key = "{{secret.pd}}"
summary = "{{problem.id}}: {{problem.title}}"
component = "{{entity.name}}"
group = "{{entity.kind}}"
class = "{{signal.name}}"
custom_details = {{ unit = "{{entity.labels.unit}}", by = "{{operator}}" }}

[[steps]]
kind = "http"
shape = "jira"
url = "{url}/"
project = "OPS"
issue_type = "Incident"
summary = "{{problem.id}}: {{problem.title}}"
description = "on {{entity.id}}"
headers = {{ Authorization = "{{secret.jira}}" }}

[[steps]]
kind = "http"
shape = "jira"
api_version = 3
url = "{url}"
project = "OPS"
summary = "v3"
description = "adf {{entity.id}}"

[[steps]]
kind = "http"
shape = "awx"
url = "{url}"
template_id = "17"
extra_vars = {{ target = "{{entity.labels.unit}}", problem = "{{problem.id}}" }}

[[steps]]
kind = "http"
shape = "rundeck"
url = "{url}"
job_id = "a1b2-c3"
token = "{{secret.rd}}"
options = {{ unit = "{{entity.labels.unit}}" }}

[[steps]]
kind = "http"
shape = "generic"
method = "put"
url = "{url}/hooks/{{problem.id}}"
headers = {{ X-Problem = "{{problem.id}}" }}
body = {{ entity = "{{entity.id}}", nested = {{ list = ["{{signal.name}}", 3, true] }} }}
"#
    );
    let set = set(dir.path(), &[("notify.toml", &text)]);
    let plan = Plan::build(&set, "notify", &context(&[("unit", "api.service")]), "alice@bastion").unwrap();
    let (r, lines) = run(&executor(dir.path(), ScriptedProbe::new(&[true])), &plan, &CancelToken::new()).await;
    let r = r.unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded, "{r:#?}");
    assert!(r.steps.iter().all(|s| s.http_status == Some(200)));
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 7);

    // Slack incoming webhook: text plus a section block in mrkdwn.
    let s = &got[0];
    assert_eq!((s.method.as_str(), s.path.as_str()), ("POST", "/services/T000/B000/XXX"));
    assert_eq!(s.headers["content-type"], "application/json");
    assert_eq!(s.body["text"], "P-0042 on process:api: TargetDown on process:api");
    assert_eq!(s.body["blocks"][0]["type"], "section");
    assert_eq!(s.body["blocks"][0]["text"]["type"], "mrkdwn");
    assert_eq!(s.body["blocks"][0]["text"]["text"], s.body["text"]);

    // PagerDuty Events API v2.
    let p = &got[1];
    assert_eq!((p.method.as_str(), p.path.as_str()), ("POST", "/v2/enqueue"));
    assert_eq!(p.body["routing_key"], "R0UTINGKEY-secret-1");
    assert_eq!(p.body["event_action"], "trigger");
    assert_eq!(p.body["dedup_key"], "faultline-P-0042");
    let payload = &p.body["payload"];
    assert_eq!(payload["summary"], "P-0042: TargetDown on process:api");
    assert_eq!(payload["source"], "process:api");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["component"], "api");
    assert_eq!(payload["group"], "process");
    assert_eq!(payload["class"], "TargetDown");
    assert_eq!(payload["custom_details"], serde_json::json!({"unit": "api.service", "by": "alice@bastion"}));
    assert_eq!(p.body.as_object().unwrap().len(), 4, "{}", p.body);

    // Jira REST v2 create issue; v3 with an Atlassian Document Format description.
    let j = &got[2];
    assert_eq!((j.method.as_str(), j.path.as_str()), ("POST", "/rest/api/2/issue"));
    assert_eq!(j.headers["authorization"], "Basic amlyYS1zZWNyZXQtMw==");
    let f = &j.body["fields"];
    assert_eq!(f["project"]["key"], "OPS");
    assert_eq!(f["summary"], "P-0042: TargetDown on process:api");
    assert_eq!(f["description"], "on process:api");
    assert_eq!(f["issuetype"]["name"], "Incident");
    let j3 = &got[3];
    assert_eq!(j3.path, "/rest/api/3/issue");
    assert_eq!(j3.body["fields"]["issuetype"]["name"], "Task");
    let adf = &j3.body["fields"]["description"];
    assert_eq!((adf["type"].as_str(), adf["version"].as_i64()), (Some("doc"), Some(1)));
    assert_eq!(adf["content"][0]["type"], "paragraph");
    assert_eq!(adf["content"][0]["content"][0], serde_json::json!({"type": "text", "text": "adf process:api"}));

    // AWX job template launch.
    let a = &got[4];
    assert_eq!((a.method.as_str(), a.path.as_str()), ("POST", "/api/v2/job_templates/17/launch/"));
    assert_eq!(a.body, serde_json::json!({"extra_vars": {"target": "api.service", "problem": "P-0042"}}));

    // Rundeck job run.
    let d = &got[5];
    assert_eq!((d.method.as_str(), d.path.as_str()), ("POST", "/api/41/job/a1b2-c3/run"));
    assert_eq!(d.headers["x-rundeck-auth-token"], "rundeck-token-secret-2");
    assert_eq!(d.headers["accept"], "application/json");
    assert_eq!(d.body, serde_json::json!({"options": {"unit": "api.service"}}));

    // Generic.
    let g = &got[6];
    assert_eq!((g.method.as_str(), g.path.as_str()), ("PUT", "/hooks/P-0042"));
    assert_eq!(g.headers["x-problem"], "P-0042");
    assert_eq!(g.body, serde_json::json!({"entity": "process:api", "nested": {"list": ["TargetDown", 3, true]}}));

    // The secrets reached the servers, and nothing shown or kept holds them.
    let shown = format!("{}\n{}\n{lines:?}\n{plan:?}", plan.lines().join("\n"), serde_json::to_string(&r).unwrap());
    for secret in ["R0UTINGKEY-secret-1", "rundeck-token-secret-2", "amlyYS1zZWNyZXQtMw=="] {
        assert!(!shown.contains(secret), "{secret} leaked");
    }
    assert!(plan.lines().iter().any(|l| l.contains("\"routing_key\":\"****\"")), "{:?}", plan.lines());
}

#[tokio::test]
async fn secrets_are_redacted_from_output_errors_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let (url, got) = server(500).await;
    let secret = "s3cr3t-hook-path-value";
    let f = secret_file(dir.path(), "hook", secret);
    let text = format!(
        r#"name = "leak"
[secrets]
hook = {{ file = "{f}" }}
[[steps]]
kind = "run"
argv = ["sh", "-c", "echo arg=$1 env=$TOKEN; echo err=$1 >&2", "sh", "{{secret.hook}}"]
env = {{ TOKEN = "{{secret.hook}}" }}
[[steps]]
kind = "http"
shape = "slack"
url = "{url}/services/{{secret.hook}}"
text = "x"
"#
    );
    let set = set(dir.path(), &[("leak.toml", &text)]);
    let plan = Plan::build(&set, "leak", &context(&[]), "t@h").unwrap();
    let (r, lines) = run(&executor(dir.path(), ScriptedProbe::new(&[true])), &plan, &CancelToken::new()).await;
    let r = r.unwrap();
    let out = &r.steps[0].output;
    assert!(out.contains("arg=**** env=****\n") && out.contains("err=****\n"), "{out:?}");
    assert_eq!(r.outcome, Outcome::Failed, "the webhook answered 500");
    assert!(r.steps[1].detail.contains("HTTP 500"), "{}", r.steps[1].detail);
    assert_eq!(got.lock().unwrap()[0].path, format!("/services/{secret}"), "the real value was sent");
    let shown = format!(
        "{}\n{}\n{lines:?}\n{plan:?}\n{:?}",
        plan.lines().join("\n"),
        serde_json::to_string(&r).unwrap(),
        plan.steps
    );
    assert!(!shown.contains(secret), "leaked: {shown}");
    assert!(shown.contains("****"));
}

// ---------------------------------------------------------------------------------------------
// Through the command line.

use faultline::journal::Journal;
use faultline::model::EventKind;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

/// The demo's journal (P-0001: DiskSpaceLow on host:batch-1), written once per test binary.
fn demo_journal() -> &'static Path {
    static JOURNAL: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &JOURNAL
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("demo.sqlite");
            let out = Command::new(BIN).args(["demo", "--headless", "--journal"]).arg(&path).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            (dir, path)
        })
        .1
}

/// A copy of the demo's journal in `dir`, for a test whose runs journal into it (runs that only
/// read share the demo's journal).
fn copy_demo_journal(dir: &Path) -> PathBuf {
    let copy = dir.join("journal.sqlite");
    std::fs::copy(demo_journal(), &copy).unwrap();
    copy
}

/// `faultline runbook run NAME` on the demo's P-0001 with the runbooks of `dir`, on the copy of
/// the demo's journal in `dir` if there is one; locks and the log go to a temporary directory
/// that lives as long as the test binary.
fn runbook_cmd(dir: &Path, name: &str, extra: &[&str]) -> Command {
    static STATE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let state = STATE.get_or_init(|| tempfile::tempdir().unwrap()).path();
    let copy = dir.join("journal.sqlite");
    let journal = if copy.exists() { copy } else { demo_journal().to_path_buf() };
    let mut c = Command::new(BIN);
    c.args(extra)
        .args(["runbook", "run", name, "--problem", "P-0001", "--journal"])
        .arg(journal)
        .arg("--dir")
        .arg(dir)
        .arg("--lock-dir")
        .arg(state.join("locks"))
        .arg("--log-file")
        .arg(state.join("log"))
        .stdin(Stdio::null());
    c
}

const DISK_MATCH: &str = "[match]\nsignals = [\"DiskSpaceLow\"]\nentity_kind = \"host\"\n";

#[test]
fn a_second_process_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("hold.toml"),
        format!(
            "name = \"hold\"\n{DISK_MATCH}[[steps]]\nkind = \"run\"\nargv = [\"sh\", \"-c\", \"touch {d}/started; while [ ! -e {d}/release ]; do sleep 0.02; done; echo released\"]\ntimeout = \"20s\"\n"
        ),
    )
    .unwrap();
    let journal = copy_demo_journal(dir.path());
    let first = runbook_cmd(dir.path(), "hold", &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let started = dir.path().join("started");
    for _ in 0..500 {
        if started.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(started.exists(), "the first run never started");
    let second = runbook_cmd(dir.path(), "hold", &[]).output().unwrap();
    std::fs::write(dir.path().join("release"), "").unwrap();
    let first_pid = first.id();
    let first = first.wait_with_output().unwrap();

    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("runbook `hold` is already running on host:batch-1: held by"), "{err}");
    assert!(err.contains(&format!("(pid {first_pid})")), "{err}");
    assert!(second.stdout.is_empty(), "the refused run printed a record");

    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let record: Value = serde_json::from_slice(&first.stdout).unwrap();
    let record_json = record.clone();
    assert_eq!(record["outcome"], "succeeded");
    assert_eq!(record["entity"], "host:batch-1");
    assert_eq!(record["steps"][0]["output"], "released\n");
    assert!(String::from_utf8_lossy(&first.stderr).contains("[hold 1] out released"));
    // The run that ran is journaled, the refused one is not.
    let events = Journal::open_read_only(&journal).unwrap().events_after(0).unwrap();
    let runs: Vec<&EventKind> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::RunbookStarted { .. } | EventKind::RunbookFinished { .. }))
        .map(|e| &e.kind)
        .collect();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let EventKind::RunbookFinished { record } = runs[1] else { panic!("{runs:#?}") };
    assert_eq!(serde_json::to_value(record).unwrap(), record_json);
}

#[test]
fn readonly_destructive_and_dry_run_run_nothing_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("clean.toml"),
        format!(
            "name = \"clean\"\n{DISK_MATCH}[[steps]]\nkind = \"run\"\nargv = [\"touch\", \"{d}/ran\"]\ndestructive = true\n"
        ),
    )
    .unwrap();
    let ran = dir.path().join("ran");

    let out = runbook_cmd(dir.path(), "clean", &["--readonly"]).arg("--yes").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only mode: runbook `clean` was not run"));
    assert!(!ran.exists());

    let out = runbook_cmd(dir.path(), "clean", &[]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the plan is destructive: give --yes"));
    assert!(!ran.exists());

    let out = runbook_cmd(dir.path(), "clean", &[]).arg("--dry-run").output().unwrap();
    assert!(out.status.success());
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains(&format!("1. run [DESTRUCTIVE]: touch {d}/ran  (timeout 1m)")), "{plan}");
    assert!(plan.contains("dry run: nothing was run"));
    assert!(!ran.exists());

    copy_demo_journal(dir.path());
    let out = runbook_cmd(dir.path(), "clean", &[]).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(ran.exists());
}

#[test]
fn the_free_disk_example_shows_its_exact_argv_and_checks_the_journal() {
    // The plan of the shipped example, exactly as it would run (labels from the demo's alert).
    let out = runbook_cmd(Path::new("fixtures/runbooks"), "free-disk", &[]).arg("--dry-run").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = plan.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "1. run: df -h -- /var/lib/batch  (timeout 10s)",
            "2. run [DESTRUCTIVE]: find /var/lib/batch/tmp -xdev -type f -mmin +1440 -print -delete  (timeout 2m)",
            "3. run: df -h -- /var/lib/batch  (timeout 10s)",
            "4. check after 2m: is P-0001 mitigated? (yes ends the run)",
            "dry run: nothing was run",
        ]
    );

    // A check step asks the journal: the demo's P-0001 is open but none of its signals is
    // active any more, which counts as mitigated.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        format!("name = \"c\"\n{DISK_MATCH}[[steps]]\nkind = \"check\"\nafter = \"1ms\"\n"),
    )
    .unwrap();
    let journal = copy_demo_journal(dir.path());
    let out = runbook_cmd(dir.path(), "c", &[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["outcome"], "mitigated");
    // Journaled at the journal's own data time (the problem stays as the data left it), with
    // who ran it and the plan, and shown in the problem's timeline.
    let events = Journal::open_read_only(&journal).unwrap().events_after(0).unwrap();
    let set = faultline::model::ProblemSet::fold(&events);
    let p = &set.problems[&faultline::model::ProblemId(1)];
    assert!(p.is_open());
    let by = record["operator"].as_str().unwrap();
    let timeline: Vec<&str> = p.timeline.iter().map(|t| t.text.as_str()).collect();
    assert!(timeline.iter().any(|t| t.starts_with(&format!("runbook c started by {by}"))), "{timeline:?}");
    assert!(timeline.iter().any(|t| t.starts_with(&format!("runbook c by {by} mitigated"))), "{timeline:?}");
    let started = events.iter().find_map(|e| match &e.kind {
        EventKind::RunbookStarted { plan, .. } => Some(plan.clone()),
        _ => None,
    });
    assert_eq!(
        started.as_ref(),
        Some(&record["plan"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect())
    );
    assert_eq!(record["steps"][0]["status"], "mitigated");
    let detail = record["steps"][0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("P-0001 mitigated: open, 0 active signals, 1 entities affected"), "{detail}");
}

#[test]
fn without_user_in_the_environment_the_operator_is_the_uids_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.toml"),
        format!("name = \"t\"\n{DISK_MATCH}[[steps]]\nkind = \"run\"\nargv = [\"true\"]\n"),
    )
    .unwrap();
    let out =
        runbook_cmd(dir.path(), "t", &[]).arg("--dry-run").env_remove("USER").env_remove("LOGNAME").output().unwrap();
    assert!(out.status.success());
    let plan = String::from_utf8_lossy(&out.stdout);
    let me = Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
    assert!(plan.lines().next().unwrap().contains(&format!(", by {me}@")), "{plan}");
    assert!(!plan.contains("unknown"), "{plan}");
}

#[test]
fn bad_runbook_files_and_unfillable_plans_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let cases = [
        (
            "kind.toml",
            "name = \"k\"\n[[steps]]\nkind = \"shell\"\nline = \"rm -rf /\"\n",
            "kind.toml:3:8: steps[0].kind: unknown step kind",
        ),
        (
            "empty.toml",
            "name = \"e\"\n[[steps]]\nkind = \"run\"\nargv = []\n",
            "empty.toml:4:8: steps[0].argv: `argv` needs a program",
        ),
        (
            "field.toml",
            "name = \"f\"\n[[steps]]\nkind = \"run\"\nargv = [\"echo\", \"{entity.label.unit}\"]\n",
            "field.toml:4:17: steps[0].argv[1]: unknown placeholder `{entity.label.unit}`",
        ),
        ("a.toml", "name = \"a\"\n[[steps]]\nkind = \"escalate\"\nto = \"b\"\n", "escalation cycle: a → b → a"),
        ("b.toml", "name = \"b\"\n[[steps]]\nkind = \"escalate\"\nto = \"a\"\n", "escalation cycle"),
    ];
    for (file, text, _) in &cases {
        std::fs::write(bad.join(file), text).unwrap();
    }
    for (file, _, want) in &cases[..3] {
        let out = Command::new(BIN).args(["runbook", "check"]).arg(bad.join(file)).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("{}/{want}", bad.display())), "{file}: {err}");
    }
    let out = Command::new(BIN).args(["runbook", "check"]).arg(bad.join("a.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // The step that closes the cycle is named, in whichever file holds it.
    assert!(err.contains("b.toml:4:6: steps[0].to: escalation cycle: a → b → a"), "{err}");

    // Every example in the repository passes.
    let examples: Vec<PathBuf> = faultline::runbook::file::toml_files(Path::new("fixtures/runbooks")).unwrap();
    assert!(examples.len() >= 7);
    let out = Command::new(BIN).args(["runbook", "check"]).args(&examples).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // At plan time: a field the problem lacks, a program that is not there. Nothing runs.
    let good = dir.path().join("good");
    std::fs::create_dir(&good).unwrap();
    std::fs::write(
        good.join("unit.toml"),
        format!(
            "name = \"unit\"\n{DISK_MATCH}[[steps]]\nkind = \"run\"\nargv = [\"touch\", \"{d}/ran\"]\n[[steps]]\nkind = \"run\"\nargv = [\"systemctl\", \"restart\", \"{{entity.labels.unit}}\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        good.join("prog.toml"),
        format!("name = \"prog\"\n{DISK_MATCH}[[steps]]\nkind = \"run\"\nargv = [\"/nonexistent/fix-it\"]\n"),
    )
    .unwrap();
    let out = runbook_cmd(&good, "unit", &[]).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unit.toml:10:33: steps[1].argv[2]: P-0001 has no `{entity.labels.unit}`"), "{err}");
    let out = runbook_cmd(&good, "prog", &[]).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("prog.toml:7:9:")
            && err.contains("steps[0].argv[0]: program `/nonexistent/fix-it` not found or not executable"),
        "{err}"
    );
    assert!(!dir.path().join("ran").exists());
}
