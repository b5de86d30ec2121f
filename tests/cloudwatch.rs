//! The CloudWatch source against moto (a local AWS, tests/support/moto.rs), seeded through the
//! AWS API with faultline's own signed client: metrics come back as observations, an alarm in
//! ALARM opens a problem through the headless agent, instances are host entities with their
//! tags, an Auto Scaling group's service runs on its instances, moto's signature verification
//! refuses a wrong secret, missing credentials and an unknown region are clear, and web
//! identity goes through moto's STS.
//!
//! Throttling is the one case against a stub (moto cannot throttle): a local HTTP server that
//! answers `Throttling` errors, then a real-shaped answer.

mod support;

use faultline::journal::Journal;
use faultline::model::{AlertState, EntityKind, ObservationKind, RelationKind, Timestamp};
use faultline::sources::cloudwatch::credentials::{Environment, Provider};
use faultline::sources::cloudwatch::{CloudWatchConfig, CloudWatchSource};
use faultline::sources::mapping::Mapping;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::moto::{moto, Aws, TEST_KEY_ID, TEST_SECRET};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A `[[sources.cloudwatch]]` table parsed as the config file would be.
fn source_config(toml_table: &str) -> CloudWatchConfig {
    let text = format!("[[sources.cloudwatch]]\n{toml_table}");
    let c = faultline::config::Config::parse(&text, Path::new("test.toml")).unwrap();
    c.sources.cloudwatch[0].clone()
}

fn env(vars: &[(&str, &str)], home: &Path) -> Environment {
    Environment {
        vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        home: Some(home.to_path_buf()),
    }
}

/// `faultline agent --once` with only the given AWS variables and an empty HOME.
fn agent_once(dir: &Path, config: &Path, journal: &Path, aws: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.args(["agent", "--once", "--config"]).arg(config).arg("--journal").arg(journal);
    cmd.arg("--log-file").arg(dir.join("faultline.log")).env("HOME", dir);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        cmd.env_remove(k);
    }
    cmd.envs(aws.iter().copied());
    let out = cmd.output().expect("running faultline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "agent --once failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"))
}

#[test]
fn metrics_alarms_and_instances_from_moto_reach_the_engine_and_the_journal() {
    let server = moto(None);
    let mut aws = Aws::new(&server, TEST_KEY_ID, TEST_SECRET);
    let web = aws.run_instance(&[("Name", "web-1"), ("team", "checkout")]);
    aws.auto_scaling_group("web-asg", 1);
    // Ten minutes of CPU on the web host, one sample a minute, on the minute.
    let now = Timestamp::wall_clock();
    let minute = now.millis() - now.millis().rem_euclid(60_000);
    let points: Vec<(Timestamp, f64)> =
        (1..=10).map(|k| (Timestamp(minute - (11 - k) * 60_000), 20.0 + k as f64)).collect();
    aws.put_metric_data("AWS/EC2", "CPUUtilization", &[("InstanceId", &web)], &points);
    aws.alarm("web-cpu-high", "CPUUtilization", &[("InstanceId", &web)], "ALARM");
    aws.alarm("quiet", "CPUUtilization", &[("InstanceId", "i-0000quiet")], "OK");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("faultline.toml");
    std::fs::write(
        &config,
        format!(
            "[[sources.cloudwatch]]\nname = \"aws\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\nlookback = \"30m\"\n\
             timeout = \"60s\"\n[[sources.cloudwatch.metrics]]\nnamespace = \"AWS/EC2\"\nmetric = \"CPUUtilization\"\n\
             dimensions = {{ InstanceId = \"{web}\" }}\n",
            server.url
        ),
    )
    .unwrap();
    let journal = dir.path().join("journal.sqlite");
    let out = agent_once(
        dir.path(),
        &config,
        &journal,
        &[("AWS_ACCESS_KEY_ID", TEST_KEY_ID), ("AWS_SECRET_ACCESS_KEY", TEST_SECRET)],
    );
    let source = &out["sources"][0];
    assert_eq!(source["healthy"], true, "{source:#}");
    let notes: Vec<&str> = source["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(
        notes.iter().any(|n| n.starts_with("cost: 3 API calls this cycle (DescribeAlarms 1, DescribeInstances 1, GetMetricData 1); metrics per GetMetricData call: 1")),
        "{notes:?}"
    );
    // The alarm in ALARM opened a problem on the web host.
    let host = format!("host:{web}");
    let problems = out["problems"].as_array().unwrap();
    let on_web = problems
        .iter()
        .filter(|p| p["signals"].as_object().unwrap().values().any(|s| s["entity"] == host.as_str()))
        .count();
    assert_eq!(on_web, 1, "{problems:#?}");

    let j = Journal::open_read_only(&journal).unwrap();
    let obs: Vec<_> = j.observations().unwrap().into_iter().filter(|o| o.source == "aws").collect();
    let samples: Vec<(Timestamp, f64)> = obs
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Metric { entity, metric, samples }
                if entity.as_str() == host && metric == "CPUUtilization" =>
            {
                Some(samples.clone())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(samples, points, "every sample put comes back once, in order");
    let entity = obs
        .iter()
        .find_map(|o| match &o.kind {
            ObservationKind::Entity { entity } if entity.id.as_str() == host => Some(entity.clone()),
            _ => None,
        })
        .expect("the web host entity");
    assert_eq!((entity.kind, entity.name.as_str()), (EntityKind::Host, "web-1"));
    assert_eq!(entity.labels.get("team").map(String::as_str), Some("checkout"));
    assert_eq!(entity.labels.get("aws_instance_type").map(String::as_str), Some("t3.micro"));
    let runs_on: Vec<(String, String)> = obs
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Relation { relation } if relation.kind == RelationKind::RunsOn => {
                Some((relation.from.0.clone(), relation.to.0.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(runs_on.len(), 1, "{runs_on:?}");
    assert_eq!(runs_on[0].0, "service:web-asg");
    assert!(runs_on[0].1.starts_with("host:i-") && runs_on[0].1 != host, "{runs_on:?}");
    let alarms: Vec<(&str, AlertState)> = obs
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Alert { name, state, fingerprint, .. } => {
                assert!(fingerprint.starts_with("arn:aws:cloudwatch:us-east-1:"), "{fingerprint}");
                Some((name.as_str(), *state))
            }
            _ => None,
        })
        .collect();
    assert_eq!(alarms, [("web-cpu-high", AlertState::Firing)], "an OK alarm never fired: nothing to resolve");

    // The next cycle resumes from the journal: no sample twice; the alarm, now OK, resolves.
    aws.alarm("web-cpu-high", "CPUUtilization", &[("InstanceId", &web)], "OK");
    let out = agent_once(
        dir.path(),
        &config,
        &journal,
        &[("AWS_ACCESS_KEY_ID", TEST_KEY_ID), ("AWS_SECRET_ACCESS_KEY", TEST_SECRET)],
    );
    assert_eq!(out["sources"][0]["healthy"], true, "{:#}", out["sources"][0]);
    let j = Journal::open_read_only(&journal).unwrap();
    let obs: Vec<_> = j.observations().unwrap().into_iter().filter(|o| o.source == "aws").collect();
    let metric_obs = obs.iter().filter(|o| matches!(o.kind, ObservationKind::Metric { .. })).count();
    assert_eq!(metric_obs, 1, "nothing new to deliver");
    let entities = obs.iter().filter(|o| matches!(o.kind, ObservationKind::Entity { .. })).count();
    assert_eq!(entities, 3, "two hosts and the group's service, announced once");
    assert!(obs.iter().any(|o| matches!(&o.kind, ObservationKind::Alert { state: AlertState::Resolved, name, .. } if name == "web-cpu-high")));
}

#[test]
fn moto_verifying_signatures_refuses_a_wrong_secret_and_missing_credentials_are_explained() {
    // Three unchecked requests to create a user and its key, then every signature is checked.
    let server = moto(Some(3));
    let (id, secret) = Aws::new(&server, TEST_KEY_ID, TEST_SECRET).iam_user("faultline");
    let home = tempfile::tempdir().unwrap();
    let config = source_config(&format!(
        "name = \"aws\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\nretries = 0\ntimeout = \"120s\"\n",
        server.url
    ));
    let rt = runtime();
    let pull = |vars: &[(&str, &str)]| {
        let mut s =
            CloudWatchSource::with_environment(config.clone(), Mapping::default(), env(vars, home.path())).unwrap();
        rt.block_on(s.pull(Timestamp::wall_clock()))
    };

    let good = pull(&[("AWS_ACCESS_KEY_ID", &id), ("AWS_SECRET_ACCESS_KEY", &secret)]);
    assert!(good.problems.is_empty(), "{:?}", good.problems);

    let wrong = pull(&[("AWS_ACCESS_KEY_ID", &id), ("AWS_SECRET_ACCESS_KEY", "not-the-secret")]);
    assert_eq!(wrong.problems.len(), 2, "{:?}", wrong.problems);
    assert_eq!(
        wrong.problems[0],
        format!(
            "DescribeInstances {}/: HTTP 401: AuthFailure: AWS was not able to validate the provided access credentials",
            server.url
        )
    );
    let p = &wrong.problems[1];
    assert!(p.starts_with(&format!("DescribeAlarms {}/: HTTP 403: SignatureDoesNotMatch: ", server.url)), "{p}");
    assert!(wrong.problems.iter().all(|p| !p.contains("not-the-secret")));

    let none = pull(&[]);
    assert_eq!(none.problems.len(), 1, "{:?}", none.problems);
    let p = &none.problems[0];
    assert!(
        p.starts_with("source `aws`: no AWS credentials found; looked at the environment (AWS_ACCESS_KEY_ID not set)"),
        "{p}"
    );
    assert!(p.contains(".aws/credentials (no such file)") && p.contains(".aws/config (no such file)"), "{p}");
    assert!(p.contains("web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not both set)"), "{p}");
}

#[test]
fn web_identity_credentials_come_from_moto_sts() {
    let server = moto(None);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl\n").unwrap();
    let role = "arn:aws:iam::123456789012:role/faultline-reader";
    let vars = [("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()), ("AWS_ROLE_ARN", role)];
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = runtime();
    let now = Timestamp::wall_clock();
    let mut provider = Provider::new(None, env(&vars, dir.path()), format!("{}/", server.url));
    let c = rt.block_on(provider.get(&reqwest::Client::new(), now)).unwrap();
    assert_eq!(c.from, format!("web identity (role {role})"));
    assert!(c.keys.access_key_id.starts_with("ASIA") && c.keys.session_token.is_some(), "{c:?}");
    assert!(c.expires.is_some_and(|e| e > now), "{c:?}");

    // The whole source signs with them (moto routes by the signature's service).
    let config = source_config(&format!(
        "name = \"aws\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\ntimeout = \"120s\"\n",
        server.url
    ));
    let mut s = CloudWatchSource::with_environment(config, Mapping::default(), env(&vars, dir.path())).unwrap();
    let pull = rt.block_on(s.pull(now));
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
}

#[test]
fn an_unknown_region_is_a_config_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("faultline.toml");
    std::fs::write(&config, "[[sources.cloudwatch]]\nregion = \"us-middle-1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["config", "check"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sources.cloudwatch[0].region: `us-middle-1` is not an AWS region"), "{stderr}");
}

/// A stub AWS endpoint: the first `throttled` requests get a CloudWatch `Throttling` error
/// (HTTP 400), the rest an empty `DescribeAlarms` answer. Counts requests.
fn throttling_stub(throttled: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let (status, answer) = if n < throttled {
                ("400 Bad Request", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>")
            } else {
                ("200 OK", "<DescribeAlarmsResponse><DescribeAlarmsResult><MetricAlarms/><CompositeAlarms/></DescribeAlarmsResult></DescribeAlarmsResponse>")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, count)
}

fn throttled_source(url: &str, home: &Path) -> CloudWatchSource {
    let config = source_config(&format!(
        "region = \"us-east-1\"\nendpoint = \"{url}\"\ninstances = false\nretries = 2\nthrottle_backoff = \"10ms\"\n"
    ));
    let vars = [("AWS_ACCESS_KEY_ID", TEST_KEY_ID), ("AWS_SECRET_ACCESS_KEY", TEST_SECRET)];
    CloudWatchSource::with_environment(config, Mapping::default(), env(&vars, home)).unwrap()
}

#[test]
fn throttling_is_backed_off_not_failed_and_the_backoff_carries_over_cycles() {
    let home = tempfile::tempdir().unwrap();
    let rt = runtime();

    // Throttled twice, answered on the third try: a healthy cycle, the cost says so.
    let (url, count) = throttling_stub(2);
    let mut s = throttled_source(&url, home.path());
    let pull = rt.block_on(s.pull(Timestamp::wall_clock()));
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(pull.notes, ["cost: 3 API calls this cycle (DescribeAlarms 3); throttled 2 times so far"]);

    // Throttled past the retries: still no failure, but the next cycles wait.
    let (url, count) = throttling_stub(usize::MAX);
    let mut s = throttled_source(&url, home.path());
    let pull = rt.block_on(s.pull(Timestamp::wall_clock()));
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
    assert!(
        pull.notes[0].starts_with(&format!("DescribeAlarms {url}: throttled by AWS (Throttling); backing off ")),
        "{:?}",
        pull.notes
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let resume = s.backoff().resume_at.expect("a time to resume at");
    let delay = s.backoff().delay_ms();
    assert_eq!(delay, 40, "10, 20, 40 ms: doubled at each throttled answer");
    let pull = rt.block_on(s.pull(resume.plus_ms(-1)));
    assert_eq!(count.load(Ordering::SeqCst), 3, "nothing asked while backing off");
    assert!(pull.notes[0].starts_with("throttled by AWS: backing off until "), "{:?}", pull.notes);
    let pull = rt.block_on(s.pull(resume));
    assert_eq!(count.load(Ordering::SeqCst), 6, "asked again once the wait is over");
    assert!(pull.problems.is_empty());
    assert_eq!(s.backoff().delay_ms(), 320, "the backoff grew on from where the last cycle left it");
}
