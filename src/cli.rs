//! Command-line modes: live (no command: agent and UI), `agent`, `demo`, `replay`, `similar`, `report`,
//! `config check`.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use faultline::agent::requests::{AGENT_HOLDER, LIVE_UI_HOLDER};
use faultline::agent::runtime::{Runtime, SourceStatus};
use faultline::agent::Agent;
use faultline::config::Config;
use faultline::engine::EngineConfig;
use faultline::journal::Journal;
use faultline::model::{Observation, ProblemEvent, ProblemSet, Timestamp};
use faultline::sources::fixture::Scenario;
use faultline::ui::{self, Feed, UiOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod export;
mod follow;
mod journal;
mod replay;
mod report;
mod runbook;
mod similar;

#[derive(Debug, Parser)]
#[command(
    name = "faultline",
    version,
    about = "Terminal incident console: deduplicate, correlate and explain alert storms"
)]
pub struct Args {
    /// Disable every action (acknowledge, silence, runbooks): look, never touch.
    #[arg(long, global = true)]
    readonly: bool,
    /// Leave the mouse to the terminal (its own selection and scrollback) instead of clicks
    /// selecting rows and the wheel scrolling; also `[ui] mouse = false` in the config.
    #[arg(long, global = true)]
    no_mouse: bool,
    /// Log file (default: faultline.log in the state directory). Logs never go to the screen.
    #[arg(long, global = true, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// Runbook directory for the live UI, the agent and viewers (overrides `[runbooks] dir`;
    /// default: `runbooks/` in the config directory).
    #[arg(long, global = true, value_name = "DIR")]
    runbooks: Option<PathBuf>,
    /// UI colour theme: dark (the default), light, high-contrast, a file themes/NAME.toml in the
    /// config directory, or a path to a .toml file. Overrides the config's `[ui] theme`; the
    /// user's theme.toml is still laid over it.
    #[arg(long, global = true, value_name = "NAME")]
    theme: Option<String>,
    /// Colours the terminal can show: truecolor, 256, 16 or none (default: decided from NO_COLOR,
    /// COLORTERM and TERM).
    #[arg(long, global = true, value_name = "MODE", value_parser = parse_colors)]
    colors: Option<ui::ColorMode>,
    /// With no command: the configuration to run live with (default: faultline.toml in the
    /// config directory, e.g. ~/.config/faultline/faultline.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// No command: run the agent and the UI together on the configured sources.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Play a scenario (the built-in one by default) through the engine into the UI.
    Demo {
        /// Scenario file (JSON Lines); default: the built-in db-cpu-saturation scenario.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Seconds of data time played per second of wall time.
        #[arg(long, default_value_t = 60.0, value_name = "N")]
        speed: f64,
        /// No UI: play as fast as possible and print the resulting problems as JSON.
        #[arg(long)]
        headless: bool,
        /// Also write the journal (SQLite) here; `faultline replay FILE` plays it back.
        #[arg(long, value_name = "FILE")]
        journal: Option<PathBuf>,
        /// Also write every problem event as one JSON line here.
        #[arg(long, value_name = "FILE")]
        events_out: Option<PathBuf>,
        /// Configuration file (engine tunables).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Pull the configured sources, run the engine headless and write the journal.
    Agent {
        /// Configuration file with `[[sources.prometheus]]` tables.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// One pull-and-analyse cycle, then print the problems as JSON and exit.
        #[arg(long)]
        once: bool,
        /// Journal file (default: `journal.path` of the config; with --once, none unless given).
        #[arg(long, value_name = "FILE")]
        journal: Option<PathBuf>,
    },
    /// Fold a journal (written by `faultline agent` or `faultline demo --journal`) or an incident
    /// bundle (written by `faultline export`) and show it with the replay cursor.
    Replay {
        /// The journal or bundle file.
        file: PathBuf,
        /// No UI: print the problems as JSON.
        #[arg(long)]
        headless: bool,
        /// With --headless: the problems as they stood at this data time (RFC 3339, or HH:MM[:SS]
        /// on the journal's first day, UTC).
        #[arg(long, value_name = "TIME", requires = "headless")]
        at: Option<String>,
        /// Print the topology as it was at this data time (RFC 3339, e.g. 2026-03-02T10:30:00Z),
        /// rebuilt from the journal's observations, and exit.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        topology_at: Option<Timestamp>,
        /// Follow a journal an agent is writing: read-only, new events on screen within a second.
        #[arg(long, conflicts_with_all = ["headless", "topology_at"])]
        follow: bool,
    },
    /// Export one problem from a journal: an incident bundle (one file that `faultline replay`
    /// plays anywhere) or a post-mortem draft in Markdown.
    Export {
        /// The problem, e.g. P-0003 (or 3).
        problem: String,
        /// The journal to export from.
        #[arg(long, value_name = "FILE")]
        journal: PathBuf,
        /// Where to write; a Markdown draft goes to stdout when left out.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// `bundle` (SQLite, default) or `markdown` (post-mortem draft).
        #[arg(long, value_enum, default_value_t = export::Format::Bundle)]
        format: export::Format,
        /// Configuration the journal was written with (its `[engine]` section is recorded in the
        /// bundle and used to re-derive the events); default: the engine defaults.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The earlier problems most like one problem: why each matched, how long it lasted, what
    /// resolved it, and how to replay it.
    Similar {
        /// The problem, e.g. P-0042 (or 42).
        problem: String,
        /// The journal (or incident bundle) holding it and the history searched.
        #[arg(long, value_name = "FILE")]
        journal: PathBuf,
        /// Incident bundles searched too (repeat for several).
        #[arg(long = "bundle", value_name = "FILE")]
        bundles: Vec<PathBuf>,
        /// How many to show at most.
        #[arg(long, default_value_t = 5, value_name = "N")]
        limit: usize,
    },
    /// The on-call handover report of a period: problems opened, resolved and still open, what
    /// was done and by whom, recurring root causes, flapping signals, stale sources.
    Report {
        /// The journal (or incident bundle).
        #[arg(long, value_name = "FILE")]
        journal: PathBuf,
        /// How far back the period starts from its end, e.g. `12h`, `7d`.
        #[arg(long, value_name = "DURATION")]
        since: String,
        /// The period's end (RFC 3339); default: the newest data in the file.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        #[arg(long, value_enum, default_value_t = report::ReportFormat::Text)]
        format: report::ReportFormat,
    },
    /// Quality benchmarks on public data (DESIGN section 9).
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Runbooks: list, check, run (plans shown before anything runs).
    Runbook {
        #[command(subcommand)]
        command: runbook::RunbookCommand,
    },
    /// Damaged journals: `check` says what is damaged and where, `salvage` keeps the rest.
    Journal {
        #[command(subcommand)]
        command: journal::JournalCommand,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Score anomaly detection with the Numenta Anomaly Benchmark's rules.
    Anomalies {
        /// Input format (only `nab`).
        #[arg(long, value_enum, default_value_t = AnomalyFormat::Nab)]
        format: AnomalyFormat,
        /// NAB's data folder: category folders of `timestamp,value` CSVs.
        dir: PathBuf,
        /// The windows file (`combined_windows.json`).
        #[arg(long, value_name = "FILE")]
        windows: PathBuf,
        /// Scoring profiles (default: `profiles.json` beside the windows, else NAB v1.1's).
        #[arg(long, value_name = "FILE")]
        profiles: Option<PathBuf>,
        /// Also write per-row scores in NAB's results layout under this folder.
        #[arg(long, value_name = "DIR")]
        write_results: Option<PathBuf>,
        /// Engine configuration whose `[engine.detect]` is evaluated (default: the defaults).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Mine log templates from loghub's structured samples: grouping and parsing accuracy.
    Logs {
        /// Input format (only `loghub`).
        #[arg(long, value_enum, default_value_t = LogFormat::Loghub)]
        format: LogFormat,
        /// The loghub folder: one folder per system holding `<System>_2k.log_structured.csv`.
        dir: PathBuf,
        /// Only these systems (e.g. `--system HDFS --system BGL`).
        #[arg(long = "system", value_name = "NAME")]
        systems: Vec<String>,
        /// Also write each line's cluster and template (`LineId,cluster,template`) under this folder.
        #[arg(long, value_name = "DIR")]
        write_assignments: Option<PathBuf>,
    },
    /// Rank root causes for the PetShop dataset's issues through the engine: top-1 and top-3 recall.
    Rca {
        /// Input format (only `petshop`).
        #[arg(long, value_enum, default_value_t = RcaFormat::Petshop)]
        format: RcaFormat,
        /// A PetShop scenario folder (`low_traffic`: graph.csv, noissue/, train/, test/) or the
        /// dataset root.
        dir: PathBuf,
        /// Also write one JSON line per issue with the full ranking here.
        #[arg(long, value_name = "FILE")]
        write_rankings: Option<PathBuf>,
    },
    /// Play scenario files with ground truth (`truth` in the header) through the engine: storm
    /// compression, pairwise grouping precision and recall, root-cause and foundational hits.
    Scenarios {
        /// A folder of `*.jsonl` scenarios (e.g. fixtures/scenarios/faults) or one scenario file.
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AnomalyFormat {
    Nab,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Loghub,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RcaFormat {
    Petshop,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file: says exactly what is wrong and where.
    Check { file: PathBuf },
}

/// A `--colors` value.
fn parse_colors(s: &str) -> std::result::Result<ui::ColorMode, String> {
    s.parse()
}

/// The theme and colours asked for: `--theme` wins over the config's `[ui] theme` (a relative
/// path there is relative to the config file, as its other paths are).
fn appearance(theme: Option<&str>, colors: Option<ui::ColorMode>, config: Option<(&Config, &Path)>) -> ui::Appearance {
    let theme = match (theme, config) {
        (Some(name), _) => {
            Some(ui::ThemeChoice { name: name.to_string(), origin: "--theme".into(), key: String::new() })
        }
        (None, Some((config, path))) => {
            let mut name = config.ui.theme.clone();
            let is_path = name.ends_with(".toml") || name.contains('/');
            if let Some(base) = path.parent().filter(|_| is_path && Path::new(&name).is_relative()) {
                name = base.join(&name).display().to_string();
            }
            Some(ui::ThemeChoice { name, origin: path.display().to_string(), key: "ui.theme".into() })
        }
        (None, None) => None,
    };
    ui::Appearance { theme, colors }
}

pub fn run(args: Args) -> Result<()> {
    let log_path = init_logging(args.log_file.as_deref())?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), command = ?args.command, "faultline starting");
    ui::set_mouse_capture(!args.no_mouse);
    let Some(command) = args.command else {
        let config = match args.config {
            Some(c) => c,
            None => ui::config_dir()
                .map(|d| d.join("faultline.toml"))
                .context("finding the config directory (is $HOME set?); give --config")?,
        };
        if !config.exists() {
            bail!(
                "{}: no such config file. Give --config FILE (see fixtures/config/faultline.example.toml), \
                 or try `faultline demo`",
                config.display()
            );
        }
        let look = Look { theme: args.theme, colors: args.colors };
        return run_live(&config, args.readonly, args.runbooks, log_path, look);
    };
    match command {
        Command::Demo { scenario, speed, headless, journal, events_out, config } => {
            let loaded = config.as_deref().map(Config::load).transpose()?;
            let engine = loaded.as_ref().map(Config::engine).unwrap_or_default();
            let appearance = appearance(args.theme.as_deref(), args.colors, loaded.as_ref().zip(config.as_deref()));
            let scenario = faultline::startup::demo_scenario(scenario.as_deref())?;
            if !(speed.is_finite() && speed > 0.0) {
                bail!("--speed must be a positive number of data seconds per second, got {speed}");
            }
            let journal = journal.as_deref().map(open_new_journal).transpose()?;
            let demo =
                faultline::startup::Demo::new(scenario, engine, journal, args.readonly, Some(log_path), appearance);
            if headless {
                demo_headless(demo.agent, demo.scenario.collect()?, events_out.as_deref())
            } else {
                demo_ui(demo.agent, demo.scenario, speed, events_out, demo.opts)
            }
        }
        Command::Agent { config, once, journal } => run_agent(&config, once, journal, args.readonly, args.runbooks),
        Command::Replay { file, topology_at: Some(at), .. } => {
            // A bundle's topology: the facts at its window's start, then what its observations add.
            let observations = if faultline::bundle::file_kind(&file)? == faultline::bundle::FileKind::Bundle {
                let bundle = faultline::bundle::Bundle::read(&file)?;
                bundle.topology.into_iter().chain(bundle.observations).collect()
            } else {
                Journal::open_read_only(&file)?.observations()?
            };
            print_text(&topology_as_of(&observations, at, &file)?)
        }
        Command::Replay { file, follow: true, .. } => {
            let appearance = appearance(args.theme.as_deref(), args.colors, None);
            follow::run(
                &file,
                follow::Options { readonly: args.readonly, log_path, runbooks: args.runbooks, appearance },
            )
        }
        Command::Replay { file, headless, at, topology_at: None, follow: false } => {
            let appearance = appearance(args.theme.as_deref(), args.colors, None);
            replay::run(&file, replay::Options { headless, at: at.as_deref(), log_path, appearance })
        }
        Command::Export { problem, journal, output, format, config } => {
            export::run(&problem, &journal, output.as_deref(), format, config.as_deref())
        }
        Command::Similar { problem, journal, bundles, limit } => similar::run(&problem, &journal, &bundles, limit),
        Command::Report { journal, since, until, format } => report::run(&journal, &since, until.as_deref(), format),
        Command::Eval { command } => run_eval(command),
        Command::Runbook { command } => runbook::run(command, args.readonly, args.runbooks),
        Command::Journal { command } => journal::run(command),
        Command::Config { command: ConfigCommand::Check { file } } => {
            let config = Config::load(&file)?;
            // The topology files it names are checked too: a typo there would otherwise only
            // show as a stale source once the agent runs.
            let mut topologies = Vec::new();
            for t in &config.sources.topology {
                let text = std::fs::read_to_string(&t.path)
                    .with_context(|| format!("{}: cannot read topology file", t.path.display()))?;
                let topology = faultline::sources::topology_file::StaticTopology::parse(&text, &t.path)?;
                topologies.push(format!(
                    "{}: ok ({} entities, {} relations)",
                    t.path.display(),
                    topology.entities.len(),
                    topology.relations.len()
                ));
            }
            // The UI's files in the config directory, and the theme the config names; checked
            // before anything is printed, so an error leaves stdout empty.
            let appearance = appearance(args.theme.as_deref(), args.colors, Some((&config, &file)));
            let dir = ui::config_dir();
            let (_, theme, problems) = ui::load_style(dir.as_deref(), &appearance);
            if !problems.is_empty() {
                let list = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
                bail!("{list}");
            }
            let engine = config.engine();
            println!(
                "{}: ok (correlation window {}s, {} topology hops, anomaly threshold {})",
                file.display(),
                engine.correlation_window_ms / 1000,
                engine.topology_hops,
                engine.detect.threshold
            );
            for line in topologies {
                println!("{line}");
            }
            let name = appearance.theme.map_or_else(|| ui::theme::DEFAULT_THEME.to_string(), |t| t.name);
            println!("theme {name}, keymap: ok (colours here: {})", theme.mode.name());
            Ok(())
        }
    }
}

/// A `--topology-at` value: an RFC 3339 time.
fn parse_time(s: &str) -> std::result::Result<Timestamp, String> {
    Timestamp::parse_rfc3339(s)
}

/// The topology the observations give as of `at`, as text: one line per entity (kind,
/// criticality, where it was learned) and per relation, by id.
fn topology_as_of(observations: &[Observation], at: Timestamp, file: &Path) -> Result<String> {
    use faultline::engine::topology::history::{TopologyHistory, DEFAULT_MAX_CHANGES};
    use std::fmt::Write as _;
    let history = TopologyHistory::from_observations(observations, DEFAULT_MAX_CHANGES);
    let Some(topology) = history.as_of(at) else {
        anyhow::bail!(
            "{}: the topology before {} is no longer kept (older changes were folded away)",
            file.display(),
            history.forgotten_until().map(|t| t.to_string()).unwrap_or_default()
        );
    };
    let relations = topology.relations();
    let mut text = format!(
        "topology as of {at} from {}: {} entities, {} relations\n",
        file.display(),
        topology.len(),
        relations.len()
    );
    for e in topology.entities() {
        let from = if e.learned_from.is_empty() { String::new() } else { format!(", from {}", e.learned_from) };
        let criticality = format!("{:?}", e.criticality).to_lowercase();
        let _ = writeln!(text, "  {} ({}, {criticality} criticality{from})", e.id, e.kind.as_str());
    }
    for r in &relations {
        let _ = writeln!(text, "  {} {} {}", r.from, r.kind.verb(), r.to);
    }
    Ok(text)
}

/// `faultline agent`: sources → engine → journal, until SIGINT/SIGTERM (or one cycle with --once).
/// A journal that already holds events is resumed (see `Agent::resume`).
fn run_agent(
    config_path: &Path,
    once: bool,
    journal: Option<PathBuf>,
    readonly: bool,
    runbooks: Option<PathBuf>,
) -> Result<()> {
    let config = with_runbooks(load_live_config(config_path)?, runbooks)?;
    let journal_path = match (journal, once) {
        (Some(p), _) => Some(p),
        (None, true) => None,
        (None, false) => Some(config.journal_path().context("finding the state directory for the journal")?),
    };
    // One writer per journal: a second agent is refused here, naming the one that writes it.
    let journal = journal_path.as_deref().map(|p| Journal::open_as(p, AGENT_HOLDER)).transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async move {
        let (mut rt, _) = Runtime::new(&config, journal).with_context(|| config_path.display().to_string())?;
        // A read-only agent refuses the viewers' queued actions (recorded as refused), never runs
        // them, and never remediates by itself.
        rt.set_readonly(readonly);
        tracing::info!(runbooks = rt.runbooks().iter().count(), readonly, "runbooks loaded");
        if once {
            rt.cycle(Timestamp::wall_clock()).await?;
            return print_agent_once(rt.problems(), &rt.statuses());
        }
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        let stop = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
                _ = terminate.recv() => tracing::info!("SIGTERM"),
            }
        };
        rt.run(None, None, stop).await?;
        Ok(())
    })
}

/// `faultline` with no command: the agent and the UI in one process. The agent runs on its
/// own thread; the UI on this one, and when the UI ends the agent stops. When an agent already
/// writes the configured journal (a service), attach to it as a viewer instead of starting a
/// second one (see `follow`).
/// `--theme` and `--colors` as given, before the config's `[ui]` is known.
struct Look {
    theme: Option<String>,
    colors: Option<ui::ColorMode>,
}

fn run_live(
    config_path: &Path,
    readonly: bool,
    runbooks: Option<PathBuf>,
    log_path: PathBuf,
    look: Look,
) -> Result<()> {
    let config = with_runbooks(load_live_config(config_path)?, runbooks)?;
    let appearance = appearance(look.theme.as_deref(), look.colors, Some((&config, config_path)));
    if !config.ui.mouse {
        ui::set_mouse_capture(false);
    }
    let journal_path = config.journal_path().context("finding the state directory for the journal")?;
    let journal = match Journal::open_as(&journal_path, LIVE_UI_HOLDER) {
        Ok(j) => j,
        Err(faultline::journal::JournalError::Held { holder, .. }) => {
            // A viewer shows the plans of the same runbooks the agent would check them against.
            let opts = follow::Options { readonly, log_path, runbooks: config.runbooks.dir(), appearance };
            return follow::attach(&journal_path, opts, holder.as_ref());
        }
        Err(e) => return Err(e.into()),
    };
    let tokio =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting tokio")?;
    let (mut rt, events) = Runtime::new(&config, Some(journal)).with_context(|| config_path.display().to_string())?;
    rt.set_readonly(readonly);
    let opts = UiOptions {
        title: format!("live: {}", config_path.display()),
        readonly,
        log_path: Some(log_path),
        operator: faultline::runbook::operator(),
        silence: rt.silence_target().cloned(),
        runbooks: ui::Runbooks(rt.runbooks()),
        appearance,
    };
    let (feed_tx, feed_rx) = tokio::sync::mpsc::unbounded_channel();
    let (req_tx, req_rx) = tokio::sync::mpsc::unbounded_channel();
    if !events.is_empty() {
        let _ = feed_tx.send(Feed::Events(events));
    }
    // Dropping the request sender (the UI ending) stops the agent.
    let agent = tokio.spawn(rt.run(Some(feed_tx), Some(req_rx), std::future::pending()));
    let ui_result = ui::run(feed_rx, Some(req_tx), opts);
    let agent_result = tokio.block_on(async { tokio::time::timeout(Duration::from_secs(5), agent).await });
    tokio.shutdown_timeout(Duration::from_secs(1));
    ui_result?;
    match agent_result {
        Ok(Ok(r)) => r.context("the agent stopped"),
        Ok(Err(e)) => bail!("the agent task failed: {e}"),
        Err(_) => {
            tracing::warn!("the agent did not stop within 5 s of the UI");
            Ok(())
        }
    }
}

fn run_eval(command: EvalCommand) -> Result<()> {
    use faultline::engine::detect::anomaly_scores;
    use faultline::eval::nab;
    match command {
        EvalCommand::Anomalies { format: AnomalyFormat::Nab, dir, windows, profiles, write_results, config } => {
            let detect = engine_config(config.as_deref())?.detect;
            let started = Instant::now();
            let corpus = nab::NabCorpus::load(&dir, &windows, profiles.as_deref())?;
            let report = nab::evaluate(&corpus, |s| anomaly_scores(s, &detect))?;
            print_text(&timed(&report, started))?;
            if let Some(out) = write_results {
                let written = nab::write_results(&corpus, &report.scores, &out, "faultline")?;
                print_text(&format!("wrote {} results files under {}\n", written.len(), out.display()))?;
            }
            Ok(())
        }
        EvalCommand::Logs { format: LogFormat::Loghub, dir, systems, write_assignments } => {
            let started = Instant::now();
            let systems = (!systems.is_empty()).then_some(systems.as_slice());
            let report = faultline::eval::loghub::evaluate(&dir, systems, write_assignments.as_deref())?;
            print_text(&timed(&report, started))
        }
        EvalCommand::Rca { format: RcaFormat::Petshop, dir, write_rankings } => {
            let started = Instant::now();
            let report = faultline::eval::petshop::evaluate(&dir, write_rankings.as_deref())?;
            print_text(&timed(&report, started))
        }
        EvalCommand::Scenarios { dir } => {
            let started = Instant::now();
            let report = faultline::eval::scenarios::evaluate(&dir)?;
            print_text(&timed(&report, started))
        }
    }
}

/// `config` with `--runbooks DIR` laid over its `[runbooks] dir` (a directory that must exist).
fn with_runbooks(mut config: Config, runbooks: Option<PathBuf>) -> Result<Config> {
    if let Some(dir) = runbooks {
        if !dir.is_dir() {
            bail!("--runbooks {}: no such directory", dir.display());
        }
        config.runbooks.dir = Some(dir);
    }
    Ok(config)
}

fn load_live_config(config_path: &Path) -> Result<Config> {
    let config = Config::load(config_path)?;
    if config.sources.is_empty() {
        bail!(
            "{}: no [[sources.prometheus]], [[sources.alertmanager]], [[sources.topology]] or \
             [[sources.change_feed]] configured; nothing to pull",
            config_path.display()
        );
    }
    Ok(config)
}

fn print_agent_once(set: &ProblemSet, sources: &[&SourceStatus]) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Output<'a> {
        sources: &'a [&'a SourceStatus],
        events: u64,
        problems: Vec<&'a faultline::model::Problem>,
    }
    let out = Output { sources, events: set.last_seq, problems: set.visible() };
    print_json(&out)
}

fn engine_config(path: Option<&Path>) -> Result<EngineConfig> {
    Ok(match path {
        Some(p) => Config::load(p)?.engine(),
        None => EngineConfig::default(),
    })
}

/// A fresh journal: a demo's seqs start at 1, so an existing file with events is refused.
fn open_new_journal(path: &Path) -> Result<Journal> {
    let j = Journal::open(path)?;
    let last = j.last_seq()?;
    if last > 0 {
        bail!("journal {} already holds {last} events; give a new file for this run", path.display());
    }
    Ok(j)
}

/// Plays the whole scenario at full speed and prints the problems.
fn demo_headless(mut agent: Agent, scenario: Scenario, events_out: Option<&Path>) -> Result<()> {
    let started = Instant::now();
    let mut events = Vec::new();
    for obs in &scenario.observations {
        agent.feed(obs, &mut events)?;
    }
    tracing::info!(
        observations = agent.observations(),
        events = events.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "scenario played"
    );
    if let Some(path) = events_out {
        write_events(path, &events)?;
    }
    print_problems(&ProblemSet::fold(&events), Some((&scenario, &agent)))
}

/// Plays the scenario paced by its data time into the UI on this thread.
fn demo_ui(
    mut agent: Agent,
    scenario: faultline::startup::DemoScenario,
    speed: f64,
    events_out: Option<PathBuf>,
    opts: UiOptions,
) -> Result<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let player = std::thread::Builder::new()
        .name("demo-player".into())
        .spawn(move || -> Result<()> {
            let started = Instant::now();
            let mut t0 = None;
            let mut all = Vec::new();
            let mut batch = Vec::new();
            // The observations fed since the last hand-over: the metric context and topology.
            let mut seen: Vec<Observation> = Vec::new();
            for obs in scenario.observations {
                let obs = match obs {
                    Ok(obs) => obs,
                    Err(e) => {
                        // Only a built-in scenario streams, and the tests read it whole: still,
                        // say so on screen and in the exit status rather than stop silently.
                        let _ = tx.send(Feed::Events(std::mem::take(&mut batch)));
                        let _ = tx.send(Feed::Notice(format!("the scenario stopped: {e}")));
                        return Err(e.into());
                    }
                };
                let due = data_offset(*t0.get_or_insert(obs.at), obs.at, speed);
                let elapsed = started.elapsed();
                if due > elapsed {
                    // Hand over what is ready before waiting for the next observation's time.
                    if !batch.is_empty() {
                        if events_out.is_some() {
                            all.extend_from_slice(&batch);
                        }
                        if tx.send(Feed::Events(std::mem::take(&mut batch))).is_err() {
                            return Ok(()); // The UI has quit.
                        }
                    }
                    if !seen.is_empty() && tx.send(Feed::Observations(std::mem::take(&mut seen))).is_err() {
                        return Ok(());
                    }
                    std::thread::sleep(due - elapsed);
                }
                agent.feed(&obs, &mut batch)?;
                seen.push(obs);
            }
            if events_out.is_some() {
                all.extend_from_slice(&batch);
            }
            let _ = tx.send(Feed::Events(batch));
            let _ = tx.send(Feed::Observations(seen));
            let summary =
                format!("scenario finished: {} observations, {} events", agent.observations(), agent.events());
            let _ = tx.send(Feed::Finished { summary });
            if let Some(path) = events_out {
                write_events(&path, &all)?;
            }
            Ok(())
        })
        .context("starting the demo player thread")?;
    let ui_result = ui::run(rx, None, opts);
    // The player stops by itself once the UI is gone (its sends fail) or the scenario ends.
    if player.is_finished() {
        match player.join() {
            Ok(r) => r?,
            Err(_) => bail!("the demo player panicked (see the log file)"),
        }
    }
    ui_result
}

/// Wall-clock offset at which an observation at data time `at` is due.
fn data_offset(t0: Timestamp, at: Timestamp, speed: f64) -> Duration {
    let ms = at.since(t0).max(0) as f64 / speed;
    Duration::from_secs_f64(ms / 1000.0)
}

fn write_events(path: &Path, events: &[ProblemEvent]) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    for e in events {
        serde_json::to_writer(&mut w, e)
            .with_context(|| format!("writing event seq {} to {}", e.seq, path.display()))?;
        w.write_all(b"\n").with_context(|| format!("writing {}", path.display()))?;
    }
    w.flush().with_context(|| format!("writing {}", path.display()))
}

/// Prints the visible problems (newest first) as one JSON document on stdout.
fn print_problems(set: &ProblemSet, played: Option<(&Scenario, &Agent)>) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Output<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        scenario: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        observations: Option<u64>,
        events: u64,
        as_of: Timestamp,
        problems: Vec<&'a faultline::model::Problem>,
    }
    let out = Output {
        scenario: played.map(|(s, _)| s.header.name.as_str()),
        observations: played.map(|(_, a)| a.observations()),
        events: set.last_seq,
        as_of: set.as_of,
        problems: set.visible(),
    };
    print_json(&out)
}

/// A report followed by how long it took, on its own line.
fn timed(report: &impl std::fmt::Display, started: Instant) -> String {
    let text = report.to_string();
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("{text}{newline}({:.1} s)\n", started.elapsed().as_secs_f64())
}

/// Writes `text` to stdout; a reader that went away (`| head`) ends the output quietly.
fn print_text(text: &str) -> Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// Prints one pretty JSON document on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    // Built first, so a reader that went away (`| head`) ends the output quietly, as in print_text.
    let mut text = serde_json::to_string_pretty(value).context("encoding the problems as JSON")?;
    text.push('\n');
    print_text(&text)
}

/// Sends tracing to a log file (never the screen) and returns its path.
fn init_logging(explicit: Option<&Path>) -> Result<PathBuf> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let dirs = directories::ProjectDirs::from("", "", "faultline")
                .context("finding the state directory (is $HOME set?); give --log-file")?;
            let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir()).to_path_buf();
            std::fs::create_dir_all(&dir).with_context(|| format!("creating the state directory {}", dir.display()))?;
            dir.join("faultline.log")
        }
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening the log file {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("FAULTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(std::sync::Mutex::new(file)).init();
    Ok(path)
}
