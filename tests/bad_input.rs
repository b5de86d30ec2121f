//! Malformed scenarios, configs, themes and keymaps: every error must say which file, which line
//! (and column where the text allows) and which field or key is wrong. Plus the shipped demo scenario: it loads,
//! is well formed, carries its expectation and is exactly what its generator produces.

use faultline::config::{Config, ConfigError};
use faultline::model::{EntityId, ObservationKind};
use faultline::sources::fixture::{self, LineProblem, ScenarioError};
use faultline::ui::{ColorMode, Command, Keymap, Theme, ThemeChoice};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The generator, compiled into this test so the fixture can be checked against it.
#[path = "../examples/make_demo_scenario.rs"]
#[allow(dead_code)]
mod make_demo_scenario;

const HEADER: &str = r#"{"faultline_scenario": 1, "name": "bad"}"#;
const TICK_0: &str = r#"{"at": "2026-03-02T10:00:00Z", "type": "tick"}"#;

fn write_tmp(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads `lines` (joined with newlines) from a temp file; returns the file's path and the error.
fn scenario_error(lines: &[&str]) -> (String, ScenarioError) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tmp(&dir, "bad.jsonl", &(lines.join("\n") + "\n"));
    let err = fixture::load(&path).expect_err("the scenario should be refused");
    (path.display().to_string(), err)
}

fn assert_starts(message: &str, prefix: &str) {
    assert!(message.starts_with(prefix), "expected `{message}` to start with `{prefix}`");
}

fn assert_has(message: &str, part: &str) {
    assert!(message.contains(part), "expected `{message}` to contain `{part}`");
}

// ---------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn scenario_not_json() {
    let (file, e) = scenario_error(&["# comment", HEADER, TICK_0, r#"{"at": "2026-03-02T10:00:01Z", "type": tick}"#]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:4:"));
    assert_has(&m, "not JSON");
    assert!(matches!(e, ScenarioError::Line { line: 4, column: Some(_), problem: LineProblem::NotJson { .. }, .. }));
}

#[test]
fn scenario_unknown_observation_type() {
    let line = r#"{"at": "2026-03-02T10:00:01Z", "type": "metrc", "entity": "host:a"}"#;
    let (file, e) = scenario_error(&[HEADER, TICK_0, line]);
    // The column points at the value of `type`.
    assert_starts(&e.to_string(), &format!("{file}:3:40: field `type`: unknown observation type `metrc`"));
    assert_has(&e.to_string(), "metric, alert, log_pattern");
}

#[test]
fn scenario_missing_field() {
    let line =
        r#"{"at": "2026-03-02T10:00:01Z", "type": "alert", "entity": "host:a", "name": "Down", "state": "firing"}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:2:"));
    assert_has(&m, "missing field `fingerprint`");

    // Missing inside a nested object: the path names the object.
    let line = r#"{"at": "2026-03-02T10:00:01Z", "type": "entity", "entity": {"id": "host:a"}}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:2:"));
    assert_has(&m, "field `entity`: missing field `kind`");
}

#[test]
fn scenario_wrong_type_deep_in_a_field() {
    let line = r#"{"at":0,"type":"metric","entity":"host:a","metric":"m","samples":[[0,1.0],[1,2.0],[2,"x"]]}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    assert_eq!(e.to_string(), format!("{file}:2:88: field `samples[2][1]`: invalid type: string \"x\", expected f64"));

    let line = r#"{"at":0,"type":"entity","entity":{"id":"host:a","kind":"mainframe"}}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:2:"));
    assert_has(&m, "field `entity.kind`: unknown variant `mainframe`");

    // An unknown field is named too.
    let line = r#"{"at":0,"type":"tick","colour":"red"}"#;
    let (_, e) = scenario_error(&[HEADER, line]);
    assert_has(&e.to_string(), "unknown field `colour`");
}

#[test]
fn scenario_kpi_fields() {
    let line = r#"{"at":0,"type":"kpi","entity":"service:checkout","name":"orders","value":"412"}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    assert_eq!(e.to_string(), format!("{file}:2:78: field `value`: invalid type: string \"412\", expected f64"));

    let line = r#"{"at":0,"type":"kpi","entity":"service:checkout","name":"orders","value":412,"yesterday":"n/a"}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    assert_starts(&e.to_string(), &format!("{file}:2:"));
    assert_has(&e.to_string(), "field `yesterday`: invalid type: string \"n/a\"");

    let line = r#"{"at":0,"type":"kpi","entity":"service:checkout","value":412}"#;
    let (_, e) = scenario_error(&[HEADER, line]);
    assert_has(&e.to_string(), "missing field `name`");
}

#[test]
fn scenario_bad_timestamp() {
    let line = r#"{"at": "2026-03-02T25:61:00Z", "type": "tick"}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:2:"));
    assert_has(&m, "field `at`");
    assert_has(&m, "2026-03-02T25:61:00Z");

    let line = r#"{"at":0,"type":"metric","entity":"host:a","metric":"m","samples":[["yesterday",1.0]]}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:2:"));
    assert_has(&m, "field `samples[0][0]`: `yesterday` is not an RFC 3339 time");
}

#[test]
fn scenario_time_going_backwards() {
    let late = r#"{"at": "2026-03-02T10:05:00Z", "type": "tick"}"#;
    let (file, e) = scenario_error(&[HEADER, TICK_0, late, "", "# gap", TICK_0]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:6:"));
    assert_has(&m, "time goes backwards");
    assert_has(&m, "2026-03-02T10:00:00.000Z");
    assert_has(&m, "2026-03-02T10:05:00.000Z on line 3");
}

#[test]
fn scenario_samples_out_of_order() {
    let line = r#"{"at":0,"type":"metric","entity":"host:a","metric":"m","samples":[[10,1.0],[5,2.0]]}"#;
    let (file, e) = scenario_error(&[HEADER, line]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:2:"));
    assert_has(&m, "field `samples[1][0]`: samples out of order");
}

#[test]
fn scenario_bad_or_missing_header() {
    let (file, e) = scenario_error(&["# a comment first", r#"{"faultline_scenario": 2, "name": "future"}"#]);
    assert_eq!(
        e.to_string(),
        format!(
            "{file}:2:24: field `faultline_scenario`: unsupported scenario version 2 (this faultline reads version 1)"
        )
    );

    let (file, e) = scenario_error(&[TICK_0]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:1:1: missing header"));

    let (file, e) = scenario_error(&[r#"{"faultline_scenario": 1, "name": "x", "expected": {}}"#]);
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:1:"));
    assert_has(&m, "unknown field `expected`");
}

#[test]
fn scenario_empty_or_missing_file() {
    let (file, e) = scenario_error(&["", "# nothing but comments", "   "]);
    assert!(matches!(e, ScenarioError::Empty { .. }), "{e}");
    assert_starts(&e.to_string(), &format!("{file}: empty scenario"));

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let e = fixture::load(&missing).unwrap_err();
    assert!(matches!(e, ScenarioError::Io { .. }), "{e}");
    assert_starts(&e.to_string(), &format!("{}: cannot read scenario", missing.display()));
}

#[test]
fn scenario_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.jsonl");
    let mut bytes = format!("{HEADER}\n").into_bytes();
    bytes.extend_from_slice(b"{\"at\":0,\"type\":\"tick\",\"source\":\"caf\xe9\"}\n");
    std::fs::write(&path, bytes).unwrap();
    let e = fixture::load(&path).unwrap_err();
    assert_starts(&e.to_string(), &format!("{}:2: cannot read line", path.display()));
}

// ---------------------------------------------------------------------------------------------
// Configs

fn config_error(text: &str) -> (String, ConfigError) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tmp(&dir, "faultline.toml", text);
    let err = Config::load(&path).expect_err("the config should be refused");
    (path.display().to_string(), err)
}

#[test]
fn config_syntax_error() {
    let (file, e) = config_error("[engine]\ntopology_hops = 3\nresolve_after = \"5m\n");
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    assert_starts(&e.to_string(), &format!("{file}:3:20: TOML syntax error"));
}

#[test]
fn config_unknown_key() {
    let (file, e) = config_error("# tuned\n[engine]\ntopology_hops = 3\ncorelation_window = \"10m\"\n");
    let m = e.to_string();
    assert_starts(&m, &format!("{file}:4:1: engine.corelation_window: unknown field `corelation_window`"));
    assert_has(&m, "expected one of `correlation_window`");
    assert_eq!(e.key(), Some("engine.corelation_window"));

    let (file, e) = config_error("[engine.detect]\nwarmup = 5\n");
    assert_starts(&e.to_string(), &format!("{file}:2:1: engine.detect.warmup: unknown field `warmup`"));

    let (file, e) = config_error("[ui]\ntheme = \"dark\"\n[uii]\n");
    assert_starts(&e.to_string(), &format!("{file}:3:"));
    assert_has(&e.to_string(), "unknown field `uii`");
}

#[test]
fn config_invalid_duration() {
    let (file, e) = config_error("[engine]\ncorrelation_window = \"15 mintues\"\n");
    assert_starts(
        &e.to_string(),
        &format!("{file}:2:22: engine.correlation_window: invalid duration \"15 mintues\": unknown time unit"),
    );
    let (file, e) = config_error("[journal]\nretention = \"0s\"\n");
    assert_eq!(e.to_string(), format!("{file}:2:13: journal.retention: duration \"0s\" must be longer than zero"));
}

#[test]
fn config_wrong_type() {
    let (file, e) = config_error("[engine.detect]\nthreshold = \"high\"\n");
    assert_eq!(
        e.to_string(),
        format!("{file}:2:13: engine.detect.threshold: invalid type: string \"high\", expected f64")
    );
    let (file, e) = config_error("[engine]\nresolve_after = 300\n");
    assert_starts(&e.to_string(), &format!("{file}:2:17: engine.resolve_after: invalid type: integer `300`"));
    let (file, e) = config_error("engine = \"fast\"\n");
    assert_starts(
        &e.to_string(),
        &format!("{file}:1:10: engine: invalid type: string \"fast\", expected an [engine] table"),
    );
}

#[test]
fn config_out_of_range() {
    let (file, e) = config_error("[engine]\ntopology_hops = 42\n");
    assert_eq!(e.to_string(), format!("{file}:2:17: engine.topology_hops: 42 is out of range: must be 1 to 10"));
    let (file, e) = config_error("[engine.detect]\nalpha = 0.0\n");
    assert_eq!(e.to_string(), format!("{file}:2:9: engine.detect.alpha: 0 must be in (0, 1]"));
    let (file, e) = config_error("[engine.detect]\nthreshold = -1.5\n");
    assert_eq!(e.to_string(), format!("{file}:2:13: engine.detect.threshold: -1.5 must be a number > 0"));
    let (file, e) = config_error("[engine]\ntopology_hops = -1\n");
    assert_starts(&e.to_string(), &format!("{file}:2:17: engine.topology_hops: invalid value: integer `-1`"));
    let (file, e) = config_error("[sources]\nmax_concurrent = 0\n");
    assert_eq!(e.to_string(), format!("{file}:2:18: sources.max_concurrent: 0 is out of range: must be 1 to 64"));
    let (file, e) = config_error("[[sources.alertmanager]]\nurl = \"http://am:9093\"\nsilence_duration = \"0s\"\n");
    assert_eq!(
        e.to_string(),
        format!("{file}:3:20: sources.alertmanager[0].silence_duration: duration \"0s\" must be longer than zero")
    );
}

#[test]
fn config_prometheus_kpis_and_concurrency() {
    let source = "[[sources.prometheus]]\nurl = \"http://prometheus:9090\"\n";
    let kpi = "[[sources.prometheus.kpis]]\nname = \"orders\"\nquery = \"sum(orders)\"\n";
    let (file, e) = config_error(&format!("{source}{kpi}entity = \"checkout\"\n"));
    assert_starts(&e.to_string(), &format!("{file}:6:10: sources.prometheus[0].kpis[0].entity: `checkout` is not"));
    let (file, e) = config_error(&format!("{source}{kpi}higher_is_better = \"yes\"\n"));
    assert_starts(
        &e.to_string(),
        &format!("{file}:6:20: sources.prometheus[0].kpis[0].higher_is_better: invalid type: string \"yes\""),
    );
    let (file, e) = config_error(&format!("{source}{kpi}offset = \"1d\"\n"));
    assert_starts(&e.to_string(), &format!("{file}:6:1: sources.prometheus[0].kpis[0].offset: unknown field `offset`"));
    let (file, e) = config_error(&format!("{source}max_concurrent_requests = 0\n"));
    assert_eq!(
        e.to_string(),
        format!("{file}:3:27: sources.prometheus[0].max_concurrent_requests: 0 is out of range: must be 1 to 64")
    );
    let (file, e) = config_error("[engine]\nkpi_step = 5\n");
    assert_starts(&e.to_string(), &format!("{file}:2:12: engine.kpi_step: 5 must be in (0, 1]"));
}

#[test]
fn config_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("faultline.toml");
    let e = Config::load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
    assert_starts(&e.to_string(), &format!("{}: cannot read config", missing.display()));
}

#[test]
fn config_example_parses_to_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config/faultline.example.toml");
    let config = Config::load(&path).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.engine(), faultline::engine::EngineConfig::default());
}

#[test]
fn shipped_bad_configs_are_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let e = Config::load(&path).expect_err(&path.display().to_string());
            assert_starts(&e.to_string(), &format!("{}:", path.display()));
            assert!(e.line().is_some(), "{e}");
            seen += 1;
        }
    }
    assert!(seen >= 3, "fixtures/bad should hold a few bad configs");
}

// ---------------------------------------------------------------------------------------------
// The shipped demo scenario

// ---------------------------------------------------------------------------------------------
// Themes and keymaps: the UI leaves a bad file out and says why; `config check` refuses it.

/// A config directory (`…/faultline`) holding `files`, under a temp dir standing for the user's
/// XDG config home.
fn ui_config_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("faultline");
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    (home, dir)
}

#[test]
fn keymap_binding_a_key_twice_names_file_line_and_key() {
    let (_home, dir) = ui_config_dir(&[("keymap.toml", "# mine\n[down]\nkeys = [\"j\", \"s\"]\n")]);
    let file = dir.join("keymap.toml").display().to_string();
    let e = Keymap::load(Some(&dir.join("keymap.toml"))).unwrap_err();
    // `s` is the built-in silence key: the error points at the user's line, not the built-in one.
    assert_starts(&e.to_string(), &format!("{file}:3: `down.keys[1]`: `s` is already bound to `silence`"));
    assert_eq!((e.line, e.key.as_str()), (Some(3), "down.keys[1]"));

    // Both bindings in the user's file: the second one is blamed.
    let (_home, dir) = ui_config_dir(&[("keymap.toml", "[up]\nkeys = [\"k\"]\n\n[top]\nkeys = [\"g\", \"k\"]\n")]);
    let e = Keymap::load(Some(&dir.join("keymap.toml"))).unwrap_err();
    assert_starts(
        &e.to_string(),
        &format!("{}:5: `top.keys[1]`: `k` is already bound to `up`", dir.join("keymap.toml").display()),
    );

    // The UI's loader keeps the built-in keymap and hands the error back.
    let (keymap, problem) = Keymap::load_or_builtin(Some(&dir.join("keymap.toml")));
    assert_eq!(keymap, Keymap::builtin());
    assert_eq!(keymap.binding(Command::Top).unwrap().keys_text(), "g, Home");
    assert_eq!(problem, Some(e));
}

#[test]
fn keymap_unknown_key_name_and_syntax_errors() {
    let (_home, dir) = ui_config_dir(&[("keymap.toml", "[help]\nkeys = [\"F13\"]\n")]);
    let e = Keymap::load(Some(&dir.join("keymap.toml"))).unwrap_err();
    assert_starts(
        &e.to_string(),
        &format!("{}:2: `help.keys[0]`: `F13` is not a key", dir.join("keymap.toml").display()),
    );
    let (_home, dir) = ui_config_dir(&[("keymap.toml", "[help]\nkeys = [\"?\"\n")]);
    let e = Keymap::load(Some(&dir.join("keymap.toml"))).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(2), ""), "{e}");
}

#[test]
fn theme_unknown_colour_or_key_names_file_line_and_key() {
    let (_home, dir) =
        ui_config_dir(&[("theme.toml", "[severity]\ninfo = { fg = \"blue\" }\n\n[ui]\ntitle = { fg = \"#12345\" }\n")]);
    let file = dir.join("theme.toml").display().to_string();
    let e = Theme::load(Some(&dir.join("theme.toml")), ColorMode::TrueColor).unwrap_err();
    assert_starts(&e.to_string(), &format!("{file}:5: `ui.title.fg`: `#12345` is not a colour"));

    let (_home, dir) = ui_config_dir(&[("theme.toml", "[ui.title]\nfg = \"red\"\nblink = true\n")]);
    let e = Theme::load(Some(&dir.join("theme.toml")), ColorMode::TrueColor).unwrap_err();
    assert_starts(
        &e.to_string(),
        &format!("{}:3: `ui.title.blink`: unknown field `blink`", dir.join("theme.toml").display()),
    );
}

#[test]
fn bad_theme_files_fall_back_to_the_defaults_and_say_why() {
    let choice = |name: &str| ThemeChoice { name: name.into(), origin: "--theme".into(), key: String::new() };
    // A good theme.toml over an unknown theme name: the default theme with the user's entry.
    let (_home, dir) = ui_config_dir(&[("theme.toml", "[severity]\ninfo = { fg = \"magenta\" }\n")]);
    let (theme, problems) = Theme::load_or_fallback(Some(&choice("sepia")), Some(&dir), ColorMode::TrueColor);
    assert_eq!(theme.severity.info.fg, Some(ratatui::style::Color::Magenta));
    assert_eq!(theme.ui, Theme::builtin(ColorMode::TrueColor).ui);
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].to_string(),
        "--theme: unknown theme `sepia`; the themes are dark (the default), light, high-contrast, or give a path \
         to a .toml file"
    );

    // A bad user theme in themes/: the default, and the file named with its line.
    let (_home, dir) = ui_config_dir(&[("themes/night.toml", "[status]\nopen = { fg = \"red\" }\nclosed = {}\n")]);
    let (theme, problems) = Theme::load_or_fallback(Some(&choice("night")), Some(&dir), ColorMode::Indexed256);
    assert_eq!(theme, Theme::builtin(ColorMode::Indexed256));
    assert_eq!(problems.len(), 1);
    assert_starts(
        &problems[0].to_string(),
        &format!("{}:3: `status.closed`: unknown field `closed`", dir.join("themes/night.toml").display()),
    );
}

/// `faultline config check FILE` with `dir`'s parent as the XDG config home: status, stdout, stderr.
fn config_check(config: &Path, xdg_home: &Path) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["--log-file"])
        .arg(xdg_home.join("faultline.log"))
        .args(["config", "check"])
        .arg(config)
        .env("XDG_CONFIG_HOME", xdg_home)
        .env("HOME", xdg_home)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn config_check_refuses_bad_theme_and_keymap_files() {
    let (home, dir) = ui_config_dir(&[
        ("faultline.toml", "[ui]\ntheme = \"light\"\n"),
        ("keymap.toml", "[quit]\nkeys = [\"Q\"]\n"),
        ("theme.toml", "[ui]\nmuted = { fg = \"dark_gray\" }\n"),
    ]);
    let config = dir.join("faultline.toml");
    let (ok, stdout, stderr) = config_check(&config, home.path());
    assert!(ok, "{stderr}");
    assert_has(&stdout, "theme light, keymap: ok");

    std::fs::write(dir.join("keymap.toml"), "[quit]\nkeys = [\"Q\"]\n[help]\nkeys = [\"Q\"]\n").unwrap();
    std::fs::write(&config, "# team default\n[ui]\ntheme = \"sepia\"\n").unwrap();
    let (ok, stdout, stderr) = config_check(&config, home.path());
    assert!(!ok, "a bad keymap and an unknown theme must fail the check");
    assert_eq!(stdout, "", "nothing on stdout on error");
    assert_has(&stderr, &format!("{}: `ui.theme`: unknown theme `sepia`", config.display()));
    assert_has(
        &stderr,
        &format!("{}:4: `help.keys[0]`: `Q` is already bound to `quit`", dir.join("keymap.toml").display()),
    );
}

fn demo_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/db-cpu-saturation.jsonl")
}

#[test]
fn demo_scenario_loads_and_is_well_formed() {
    let scenario = fixture::load(&demo_path()).unwrap();
    assert_eq!(scenario.header.name, "db-cpu-saturation");
    let expect = scenario.header.expect.as_ref().expect("the demo carries its expectation");

    let entities: BTreeSet<&EntityId> = scenario
        .observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Entity { entity } => Some(&entity.id),
            _ => None,
        })
        .collect();
    assert!(entities.len() >= 20, "{} entities", entities.len());
    let named = expect.storm_entities.iter().chain(&expect.noise_entities).chain([&expect.root_cause]);
    for id in named.chain(expect.foundational_entity.as_ref()) {
        assert!(entities.contains(id), "expectation names unknown entity {id}");
    }
    for o in &scenario.observations {
        if let Some(id) = o.kind.entity() {
            assert!(entities.contains(id), "observation at {} about undeclared entity {id}", o.at);
        }
    }
    assert!(scenario.observations.windows(2).all(|w| w[0].at <= w[1].at));
    assert!((10_000..=20_000).contains(&scenario.observations.len()), "{}", scenario.observations.len());

    let storm_alerts = scenario
        .observations
        .iter()
        .filter(|o| (expect.storm_from..=expect.storm_to).contains(&o.at))
        .filter(|o| matches!(&o.kind, ObservationKind::Alert { entity, .. } if expect.storm_entities.contains(entity)))
        .count();
    assert!(storm_alerts >= 200, "{storm_alerts} storm alerts");
    let foundational = scenario.observations.iter().any(|o| {
        matches!(&o.kind, ObservationKind::Change { entity, change, .. }
            if Some(entity) == expect.foundational_entity.as_ref() && Some(*change) == expect.foundational_change)
    });
    assert!(foundational, "the foundational change is in the data");
}

#[test]
fn demo_scenario_is_what_the_generator_writes() {
    let generated = make_demo_scenario::render().unwrap();
    let shipped = std::fs::read(demo_path()).unwrap();
    assert!(
        generated == shipped,
        "fixtures/scenarios/db-cpu-saturation.jsonl is stale: run `cargo run --example make_demo_scenario`"
    );
    assert_eq!(make_demo_scenario::render().unwrap(), generated, "the generator is deterministic");
}
