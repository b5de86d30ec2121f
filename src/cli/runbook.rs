//! `faultline runbook list|check|run`: runbooks for scripts and the terminal.
//!
//! `run` prints the plan and the live output on stderr (for people) and the run record as JSON
//! on stdout (for scripts); with `--dry-run` the plan goes to stdout and nothing runs. It exits
//! 1 when the run (after any escalation) did not end succeeded or mitigated.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use faultline::journal::Journal;
use faultline::model::{Entity, EntityId, ObservationKind, ProblemSet};
use faultline::runbook::file::{default_dir, toml_files};
use faultline::runbook::{
    default_lock_dir, CancelToken, Executor, JournalProbe, Outcome, Plan, ProblemContext, RunRecord, Runbook,
    RunbookSet, Stream,
};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    },
}

pub fn run(command: RunbookCommand, readonly: bool) -> Result<()> {
    match command {
        RunbookCommand::List { dir } => list(&runbook_dir(dir)?),
        RunbookCommand::Check { files } => check(&files),
        RunbookCommand::Run { name, problem, journal, dir, dry_run, yes, lock_dir } => {
            let opts = RunOptions { dry_run, yes, readonly, lock_dir: lock_dir.unwrap_or_else(default_lock_dir) };
            run_one(&runbook_dir(dir)?, &name, &problem, &journal, &opts)
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
}

fn run_one(dir: &Path, name: &str, problem: &str, journal_path: &Path, opts: &RunOptions) -> Result<()> {
    let set = RunbookSet::load_dir(dir)?;
    let ctx = problem_context(journal_path, problem)?;
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
    let probe = Arc::new(JournalProbe { path: journal_path.to_path_buf() });
    let executor = Executor::new(opts.lock_dir.clone(), probe);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting tokio")?;
    let record = runtime.block_on(async {
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
        let record = executor.run(&plan, &tx, &cancel).await;
        drop(tx);
        let _ = printer.await;
        record
    })?;
    println!("{}", serde_json::to_string_pretty(&record)?);
    let last = final_outcome(&record);
    if !matches!(last, Outcome::Succeeded | Outcome::Mitigated) {
        bail!("runbook `{}` on {}: {last:?}", record.runbook, record.problem);
    }
    Ok(())
}

/// The outcome at the end of the escalation chain.
fn final_outcome(r: &RunRecord) -> Outcome {
    match &r.escalation {
        Some(next) => final_outcome(next),
        None => r.outcome,
    }
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

/// The problem `id` of the journal as runbooks see it, with what the topology says of its entity.
fn problem_context(journal_path: &Path, id: &str) -> Result<ProblemContext> {
    let journal = Journal::open_read_only(journal_path)?;
    let events = journal.events_after(0)?;
    let set = ProblemSet::fold(&events);
    let pid: faultline::model::ProblemId = id.parse().map_err(anyhow::Error::msg)?;
    let problem = set.problems.get(&pid).with_context(|| format!("{pid} is not in {}", journal_path.display()))?;
    let mut entities: BTreeMap<EntityId, Entity> = BTreeMap::new();
    for o in journal.observations()? {
        if let ObservationKind::Entity { entity } = o.kind {
            entities.insert(entity.id.clone(), entity);
        }
    }
    ProblemContext::from_problem(problem, &entities).with_context(|| format!("{pid} names no entity to act on"))
}
