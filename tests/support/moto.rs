//! A local AWS for the CloudWatch tests: `moto_server` (moto 5.2.5) on 127.0.0.1 on a free
//! port, from the virtualenv `$FAULTLINE_MOTO` or `target/moto-venv`, which is created on first
//! use (`python3 -m venv` and `pip install "moto[server]==5.2.5"`) so `cargo test` works on a
//! fresh machine.
//!
//! Moto is seeded through the AWS API itself, with faultline's own signed client
//! ([`faultline::sources::cloudwatch::client::AwsClient`]), never through moto's internals.

use super::Server;
use faultline::model::Timestamp;
use faultline::sources::cloudwatch::client::{AwsClient, Service, Settings};
use faultline::sources::cloudwatch::credentials::{Environment, Provider};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

pub const MOTO_VERSION: &str = "5.2.5";
/// Credentials moto accepts while it does not verify signatures.
pub const TEST_KEY_ID: &str = "AKIATESTTESTTESTTEST";
pub const TEST_SECRET: &str = "testsecretkeytestsecretkeytestsecretkey0";

/// Only one test creates the venv at a time.
static VENV: Mutex<()> = Mutex::new(());

/// The venv holding moto, created if missing.
pub fn moto_venv() -> PathBuf {
    let venv = std::env::var_os("FAULTLINE_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv"));
    let _guard = VENV.lock().unwrap_or_else(|e| e.into_inner());
    if venv.join("bin/moto_server").exists() {
        return venv;
    }
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {program} to create the moto venv at {}: {e}", venv.display()));
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let v = venv.to_string_lossy().into_owned();
    run("python3", &["-m", "venv", &v]);
    let pip = venv.join("bin/pip").to_string_lossy().into_owned();
    run(&pip, &["install", "--quiet", &format!("moto[server]=={MOTO_VERSION}")]);
    venv
}

/// Starts `moto_server -H 127.0.0.1 -p PORT`. `verify_after`: with `Some(n)`, moto verifies
/// signatures and permissions after its first `n` requests (`INITIAL_NO_AUTH_ACTION_COUNT`).
pub fn moto(verify_after: Option<u32>) -> Server {
    let program = moto_venv().join("bin/moto_server");
    let program: &'static str = Box::leak(program.to_string_lossy().into_owned().into_boxed_str());
    let args = vec!["-H".to_string(), "127.0.0.1".to_string(), "-p".to_string(), "{PORT}".to_string()];
    let dir = tempfile::Builder::new().prefix("faultline-moto-").tempdir().expect("a temporary directory");
    match verify_after {
        // The variable is read by moto at start; set for the child only through the env of
        // this process would race other tests, so a wrapper script carries it.
        Some(n) => {
            let script = dir.path().join("moto.sh");
            std::fs::write(&script, format!("#!/bin/sh\nINITIAL_NO_AUTH_ACTION_COUNT={n} exec {program} \"$@\"\n"))
                .expect("writing the moto wrapper");
            let mut perms = std::fs::metadata(&script).expect("wrapper metadata").permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(&script, perms).expect("making the wrapper executable");
            let script: &'static str = Box::leak(script.to_string_lossy().into_owned().into_boxed_str());
            Server::launch("moto", script, args, "/moto-api/", dir)
        }
        None => Server::launch("moto", program, args, "/moto-api/", dir),
    }
}

/// A signed AWS client for seeding moto, with the given keys.
pub struct Aws {
    client: AwsClient,
    url: String,
    rt: tokio::runtime::Runtime,
}

impl Aws {
    pub fn new(server: &Server, key_id: &str, secret: &str) -> Aws {
        let env = Environment {
            vars: [("AWS_ACCESS_KEY_ID", key_id), ("AWS_SECRET_ACCESS_KEY", secret)]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            home: None,
        };
        let provider = Provider::new(None, env, server.url.clone());
        let settings = Settings { timeout_ms: 120_000, retries: 0, max_body_bytes: 1 << 24, throttle_min_ms: 10 };
        let client = AwsClient::new("us-east-1".into(), provider, settings).expect("an AWS client");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        Aws { client, url: format!("{}/", server.url), rt }
    }

    /// One signed call; panics with AWS's answer on failure.
    pub fn call(&mut self, service: &'static str, params: &[(&str, &str)]) -> String {
        let service = Service { url: self.url.clone(), signing_name: service };
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (client, rt) = (&mut self.client, &self.rt);
        rt.block_on(client.call(&service, &params)).unwrap_or_else(|e| panic!("{params:?}: {e}"))
    }

    /// `PutMetricData` of one series: (time, value) pairs.
    pub fn put_metric_data(
        &mut self,
        namespace: &str,
        metric: &str,
        dims: &[(&str, &str)],
        points: &[(Timestamp, f64)],
    ) {
        let mut p: Vec<(String, String)> = vec![
            ("Action".into(), "PutMetricData".into()),
            ("Version".into(), "2010-08-01".into()),
            ("Namespace".into(), namespace.into()),
        ];
        for (n, (t, v)) in points.iter().enumerate() {
            let k = |rest: &str| format!("MetricData.member.{}.{rest}", n + 1);
            p.push((k("MetricName"), metric.into()));
            p.push((k("Timestamp"), t.to_rfc3339()));
            p.push((k("Value"), v.to_string()));
            for (d, (name, value)) in dims.iter().enumerate() {
                p.push((k(&format!("Dimensions.member.{}.Name", d + 1)), name.to_string()));
                p.push((k(&format!("Dimensions.member.{}.Value", d + 1)), value.to_string()));
            }
        }
        let refs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.call("monitoring", &refs);
    }

    /// `PutMetricAlarm` on one metric, then `SetAlarmState` to `state` (`ALARM`, `OK`).
    pub fn alarm(&mut self, name: &str, metric: &str, dims: &[(&str, &str)], state: &str) {
        let mut p = vec![
            ("Action", "PutMetricAlarm"),
            ("Version", "2010-08-01"),
            ("AlarmName", name),
            ("Namespace", "AWS/EC2"),
            ("MetricName", metric),
            ("Statistic", "Average"),
            ("Period", "60"),
            ("EvaluationPeriods", "1"),
            ("Threshold", "90"),
            ("ComparisonOperator", "GreaterThanThreshold"),
        ];
        let keys: Vec<(String, String)> = (1..=dims.len())
            .map(|d| (format!("Dimensions.member.{d}.Name"), format!("Dimensions.member.{d}.Value")))
            .collect();
        for ((kn, kv), (n, v)) in keys.iter().zip(dims) {
            p.push((kn, n));
            p.push((kv, v));
        }
        self.call("monitoring", &p);
        let reason = format!("Threshold Crossed: {metric} above 90");
        self.call(
            "monitoring",
            &[
                ("Action", "SetAlarmState"),
                ("Version", "2010-08-01"),
                ("AlarmName", name),
                ("StateValue", state),
                ("StateReason", &reason),
            ],
        );
    }

    /// `RunInstances` of one instance with `tags`; returns its id.
    pub fn run_instance(&mut self, tags: &[(&str, &str)]) -> String {
        let mut p = vec![
            ("Action", "RunInstances"),
            ("Version", "2016-11-15"),
            ("ImageId", "ami-12c6146b"),
            ("InstanceType", "t3.micro"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("TagSpecification.1.ResourceType", "instance"),
        ];
        let keys: Vec<(String, String)> = (1..=tags.len())
            .map(|t| (format!("TagSpecification.1.Tag.{t}.Key"), format!("TagSpecification.1.Tag.{t}.Value")))
            .collect();
        for ((kk, kv), (k, v)) in keys.iter().zip(tags) {
            p.push((kk, k));
            p.push((kv, v));
        }
        let body = self.call("ec2", &p);
        between(&body, "<instanceId>", "</instanceId>").unwrap_or_else(|| panic!("no instance id in {body}"))
    }

    /// A launch configuration and an Auto Scaling group of `size` instances named `name`.
    pub fn auto_scaling_group(&mut self, name: &str, size: u32) {
        let lc = format!("{name}-lc");
        let version = ("Version", "2011-01-01");
        self.call(
            "autoscaling",
            &[
                ("Action", "CreateLaunchConfiguration"),
                version,
                ("LaunchConfigurationName", &lc),
                ("ImageId", "ami-12c6146b"),
                ("InstanceType", "t3.micro"),
            ],
        );
        let size = size.to_string();
        self.call(
            "autoscaling",
            &[
                ("Action", "CreateAutoScalingGroup"),
                version,
                ("AutoScalingGroupName", name),
                ("LaunchConfigurationName", &lc),
                ("MinSize", &size),
                ("MaxSize", &size),
                ("DesiredCapacity", &size),
                ("AvailabilityZones.member.1", "us-east-1a"),
            ],
        );
    }

    /// An IAM user allowed everything, and its access key: (key id, secret).
    pub fn iam_user(&mut self, name: &str) -> (String, String) {
        let v = ("Version", "2010-05-08");
        self.call("iam", &[("Action", "CreateUser"), v, ("UserName", name)]);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        self.call(
            "iam",
            &[("Action", "PutUserPolicy"), v, ("UserName", name), ("PolicyName", "all"), ("PolicyDocument", policy)],
        );
        let body = self.call("iam", &[("Action", "CreateAccessKey"), v, ("UserName", name)]);
        let id = between(&body, "<AccessKeyId>", "</AccessKeyId>").expect("an access key id");
        let secret = between(&body, "<SecretAccessKey>", "</SecretAccessKey>").expect("a secret access key");
        (id, secret)
    }
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].to_string())
}
