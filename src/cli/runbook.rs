//! `faultline runbook list|check|run`: runbooks for scripts and the terminal.
//!
//! `run` prints the plan and the live output on stderr (for people) and the run record as JSON
//! on stdout (for scripts); with `--dry-run` the plan goes to stdout and nothing runs. It exits
//! 1 when the run (after any escalation) did not end succeeded or mitigated.
//!
//! The run is journaled like a run from the UI. When an agent writes the journal (it holds the
//! writer lock), the confirmed plan is queued for it as a request and this command waits for
//! the row's outcome (Ctrl-C queues a cancel); the agent re-checks the plan against its own
//! state and runs it. When none does, the run happens here: this command takes the writer lock,
//! resumes an agent from the journal (`--config` names the `[engine]` it was written with) and
//! journals the start and the record itself.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use faultline::agent::requests::{self, serves_requests};
use faultline::agent::runtime::plan_changed;
use faultline::agent::{named_entities, Agent};
use faultline::engine::topology::Topology;
use faultline::engine::EngineConfig;
use faultline::journal::{Holder, Journal, RequestQueue, RequestState};
use faultline::model::{EventKind, ObservationKind, ProblemId, ProblemSet, ProblemStatus, Timestamp};
use faultline::runbook::file::{default_dir, toml_files};
use faultline::runbook::{
    default_lock_dir, CancelRequest, CancelToken, Executor, JournalProbe, Outcome, Plan, ProblemContext, Request,
    RunRecord, RunRequest, Runbook, RunbookSet, Stream,
};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The writer hold's command of a local run.
const HOLDER: &str = "faultline runbook run";

/// How often a queued run's row is looked at.
const QUEUE_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Subcommand)]
pub enum RunbookCommand {
    /// List the runbooks of a directory: name, key, steps.
    List {
        /// Runbook directory (default: `runbooks/` in the config directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check runbook files: says exactly what is wrong and where (file, line, key).
    /// Escalation targets are looked up among the files given and their directories.
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Fill a runbook in for a problem of a journal, show the plan, confirm, run it.
    Run {
        /// The runbook's name.
        name: String,
        /// The problem, e.g. P-0003 (or 3).
        #[arg(long, value_name = "ID")]
        problem: String,
        /// The journal the problem is read from (and asked again by `check` steps).
        #[arg(long, value_name = "FILE")]
        journal: PathBuf,
        /// Runbook directory (default: `runbooks/` in the config directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Show the plan and run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Confirm a destructive plan without typing the entity's name.
        #[arg(long)]
        yes: bool,
        /// Where run locks live (default: $XDG_STATE_HOME/faultline/locks).
        #[arg(long, value_name = "DIR")]
        lock_dir: Option<PathBuf>,
        /// The configuration the journal was written with (its `[engine]` section), to go on
        /// from the journal when no agent writes it; default: the engine defaults.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// `runbooks` is the global `--runbooks DIR`, used where `--dir` is not given.
pub fn run(command: RunbookCommand, readonly: bool, runbooks: Option<PathBuf>) -> Result<()> {
    match command {
        RunbookCommand::List { dir } => list(&runbook_dir(dir.or(runbooks))?),
        RunbookCommand::Check { files } => check(&files),
        RunbookCommand::Run { name, problem, journal, dir, dry_run, yes, lock_dir, config } => {
            let engine = match config {
                Some(c) => faultline::config::Config::load(&c)?.engine(),
                None => EngineConfig::default(),
            };
            let lock_dir = lock_dir.unwrap_or_else(default_lock_dir);
            let opts = RunOptions { dry_run, yes, readonly, lock_dir, engine };
            run_one(&runbook_dir(dir.or(runbooks))?, &name, &problem, &journal, &opts)
        }
    }
}

fn runbook_dir(dir: Option<PathBuf>) -> Result<PathBuf> {
    match dir {
        Some(d) => Ok(d),
        None => default_dir().context("finding the config directory (is $HOME set?); give --dir"),
    }
}

fn list(dir: &Path) -> Result<()> {
    let set = RunbookSet::load_dir(dir)?;
    let mut out = std::io::stdout().lock();
    for rb in set.iter() {
        let kinds: Vec<&str> = rb.steps.iter().map(|s| s.kind()).collect();
        let destructive = if rb.steps.iter().any(|s| s.destructive()) { " [destructive]" } else { "" };
        writeln!(
            out,
            "{}  key {}  {}{destructive}  {}  ({})",
            rb.name,
            rb.key.map_or_else(|| "-".to_string(), |k| k.to_string()),
            kinds.join(" → "),
            rb.description,
            rb.path.display()
        )?;
    }
    Ok(())
}

fn check(files: &[PathBuf]) -> Result<()> {
    let mut failed = 0;
    let mut good = Vec::new();
    for f in files {
        match Runbook::load(f) {
            Ok(rb) => {
                let n = rb.steps.len();
                println!("{}: ok ({}, {n} step{})", f.display(), rb.name, if n == 1 { "" } else { "s" });
                good.push(rb);
            }
            Err(e) => {
                eprintln!("faultline: error: {e}");
                failed += 1;
            }
        }
    }
    // Escalation targets may live beside the files checked.
    let given: Vec<PathBuf> = files.iter().filter_map(|f| f.canonicalize().ok()).collect();
    let mut dirs: Vec<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
    dirs.sort();
    dirs.dedup();
    let mut all = good;
    for d in dirs {
        let d = if d.as_os_str().is_empty() { PathBuf::from(".") } else { d };
        for p in toml_files(&d).unwrap_or_default() {
            if p.canonicalize().is_ok_and(|c| given.contains(&c)) {
                continue;
            }
            if let Ok(rb) = Runbook::load(&p) {
                if !all.iter().any(|r: &Runbook| r.name == rb.name) {
                    all.push(rb);
                }
            }
        }
    }
    if failed == 0 {
        RunbookSet::from_runbooks(all)?;
    }
    if failed > 0 {
        bail!("{failed} of {} runbook files are wrong", files.len());
    }
    Ok(())
}

struct RunOptions {
    dry_run: bool,
    yes: bool,
    readonly: bool,
    lock_dir: PathBuf,
    engine: EngineConfig,
}

fn run_one(dir: &Path, name: &str, problem: &str, journal_path: &Path, opts: &RunOptions) -> Result<()> {
    let set = RunbookSet::load_dir(dir)?;
    let pid: ProblemId = problem.parse().map_err(anyhow::Error::msg)?;
    let ctx = problem_context(journal_path, pid)?;
    let rb = set.get(name).with_context(|| {
        let names: Vec<&str> = set.iter().map(|r| r.name.as_str()).collect();
        format!("no runbook `{name}` in {} (there: {})", dir.display(), names.join(", "))
    })?;
    if !rb.matches(&ctx) {
        let matching: Vec<&str> = set.matching(&ctx).map(|r| r.name.as_str()).collect();
        bail!(
            "runbook `{name}` ({}) does not match {} on {} (matching runbooks: {})",
            rb.path.display(),
            ctx.problem_id,
            ctx.entity_id,
            if matching.is_empty() { "none".to_string() } else { matching.join(", ") }
        );
    }
    let plan = Plan::build(&set, name, &ctx, &faultline::runbook::operator())?;
    if opts.dry_run {
        for l in plan.lines() {
            println!("{l}");
        }
        println!("dry run: nothing was run");
        return Ok(());
    }
    for l in plan.lines() {
        eprintln!("{l}");
    }
    if opts.readonly {
        return Err(faultline::runbook::RunbookError::Readonly(plan.runbook.clone()).into());
    }
    if plan.is_destructive() && !opts.yes {
        confirm(&plan)?;
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting tokio")?;
    let record = match Journal::writer_of(journal_path)? {
        Some(agent) if serves_requests(&agent.command) => {
            runtime.block_on(queue_run(journal_path, pid, &plan, &agent))?
        }
        _ => runtime.block_on(run_here(&set, plan, pid, journal_path, opts))?,
    };
    println!("{}", serde_json::to_string_pretty(&record)?);
    let last = record.final_outcome();
    if !matches!(last, Outcome::Succeeded | Outcome::Mitigated) {
        bail!("runbook `{}` on {}: {last:?}", record.runbook, record.problem);
    }
    Ok(())
}

/// Runs `shown` in this process, journaled: the run lock first (a run elsewhere is named), then
/// the journal's writer lock, an agent resumed from it, and the plan filled in again from that
/// agent's state, which must be the plan shown.
async fn run_here(set: &RunbookSet, shown: Plan, pid: ProblemId, path: &Path, opts: &RunOptions) -> Result<RunRecord> {
    let mut executor = Executor::new(opts.lock_dir.clone(), Arc::new(JournalProbe { path: path.to_path_buf() }));
    executor.readonly = opts.readonly;
    let lock = executor.acquire(&shown)?;
    let journal = Journal::open_as(path, HOLDER)?;
    let resumed = Agent::resume(opts.engine.clone(), journal)?;
    // Journaled at the journal's own data time: nothing is pulling, so the wall clock would
    // move the engine past whatever the data says (and resolve problems by the calendar).
    let at = resumed.agent.engine().data_time().unwrap_or_else(Timestamp::wall_clock);
    let mut agent = resumed.agent;
    let problems = ProblemSet::fold(&resumed.events);
    let problem = problems.problems.get(&pid).with_context(|| format!("{pid} is not in {}", path.display()))?;
    let ctx = agent.context(problem).with_context(|| format!("{pid} names no entity to act on"))?;
    let plan = Plan::build(set, &shown.runbook, &ctx, &shown.operator)?;
    if plan.lines() != shown.lines() {
        bail!("{}; nothing ran", plan_changed(&shown.lines(), &plan.lines()));
    }
    let mut events = Vec::new();
    agent.run_started(pid, &plan, false, at, &mut events)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<faultline::runbook::OutputLine>();
    let printer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            let tag = match line.stream {
                Stream::Stdout => "out",
                Stream::Stderr => "err",
                Stream::Note => "---",
            };
            eprintln!("[{} {}] {tag} {}", line.runbook, line.step + 1, line.text);
        }
    });
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let record = executor.run_holding(&plan, lock, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    agent.run_finished(pid, record.clone(), at, &mut events)?;
    Ok(record)
}

/// Queues the confirmed plan for the agent writing the journal and waits for its outcome; the
/// run's record as the agent journaled it. Ctrl-C queues a cancel of the run.
async fn queue_run(path: &Path, pid: ProblemId, plan: &Plan, agent: &Holder) -> Result<RunRecord> {
    let seen = Journal::open_read_only(path)?.last_seq()?;
    let request = RunRequest {
        runbook: plan.runbook.clone(),
        problem: pid,
        operator: plan.operator.clone(),
        shown: plan.lines(),
    };
    let (kind, body, who) = requests::encode(&Request::Run(request));
    let queue = RequestQueue::open(path)?;
    let id = queue.submit(&who, kind, &body)?;
    eprintln!("{agent} writes {}: {kind} request {id} queued as {who}; waiting for its outcome", path.display());
    let mut said_running = false;
    let mut cancelled = false;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let row = loop {
        tokio::select! {
            _ = tokio::time::sleep(QUEUE_POLL) => {}
            r = &mut interrupt, if !cancelled => {
                r.context("waiting for Ctrl-C")?;
                cancelled = true;
                let cancel = Request::Cancel(CancelRequest { runbook: plan.runbook.clone(), problem: pid, by: who.clone() });
                let (kind, body, who) = requests::encode(&cancel);
                let c = queue.submit(&who, kind, &body)?;
                eprintln!("interrupted: cancel request {c} queued");
            }
        }
        let Some(row) = queue.get(id)? else { bail!("request {id} is gone from {}", path.display()) };
        if row.state.is_final() {
            break row;
        }
        if row.state == RequestState::Running && !said_running {
            said_running = true;
            eprintln!("request {id}: the agent is running it (its output is in the record at the end)");
        }
        if Journal::writer_of(path)?.is_none() {
            bail!("the agent stopped before request {id} was finished (it is {})", row.state.as_str());
        }
    };
    let outcome = row.outcome.unwrap_or_else(|| row.state.as_str().to_string());
    eprintln!("request {id} {}: {outcome}", row.state.as_str());
    if row.state == RequestState::Refused {
        bail!("{outcome}");
    }
    let journal = Journal::open_read_only(path)?;
    let record = journal.events_after(seen)?.into_iter().rev().find_map(|e| match e.kind {
        EventKind::RunbookFinished { record } if record.runbook == plan.runbook && record.operator == plan.operator => {
            Some(*record)
        }
        _ => None,
    });
    record.with_context(|| format!("request {id}: {outcome} (its record is not in the journal)"))
}

/// A destructive plan on a terminal: the entity's name typed back.
fn confirm(plan: &Plan) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("the plan is destructive: give --yes, or run on a terminal and type the entity's name");
    }
    eprint!("destructive: type the entity's name ({}) to run it: ", plan.entity_name);
    std::io::stderr().flush()?;
    let mut typed = String::new();
    std::io::stdin().lock().read_line(&mut typed)?;
    if typed.trim() != plan.entity_name {
        bail!("not confirmed (typed `{}`, expected `{}`): nothing was run", typed.trim(), plan.entity_name);
    }
    Ok(())
}

/// Problem `pid` of the journal as runbooks see it, read cheaply: its own events and the
/// descriptions of the entities it names (not every observation of the journal).
fn problem_context(journal_path: &Path, pid: ProblemId) -> Result<ProblemContext> {
    let journal = Journal::open_read_only(journal_path)?;
    let set = ProblemSet::fold(&journal.events_of(pid)?);
    let problem = set.problems.get(&pid).with_context(|| format!("{pid} is not in {}", journal_path.display()))?;
    match problem.status {
        ProblemStatus::Open => {}
        ProblemStatus::Resolved => bail!("{pid} is resolved: nothing to remediate"),
        ProblemStatus::Merged(into) => bail!("{pid} was merged into {into}: give --problem {into}"),
    }
    let ids = named_entities(problem);
    // Folded as the engine's topology folds them (a topology file's word laid over discovery's).
    let mut topology = Topology::new();
    for o in journal.entity_observations(&ids)? {
        if let ObservationKind::Entity { entity } = o.kind {
            topology.upsert(entity);
        }
    }
    let entities: BTreeMap<_, _> =
        ids.iter().filter_map(|id| topology.entity(id).map(|e| (id.clone(), e.clone()))).collect();
    ProblemContext::from_problem(problem, &entities).with_context(|| format!("{pid} names no entity to act on"))
}
