//! What a UI mode does before its first frame, callable without a terminal (outside `ui`, which
//! never reaches a source: the demo reads its scenario here): the keymap and
//! theme from the config directory, the App, and for `faultline demo` the scenario's header read
//! and the engine built. The binary runs these, and `benches/demo_startup.rs` times the same
//! calls up to a first frame drawn into a `TestBackend` (target: under 100 ms).
//!
//! The built-in scenario (2.4 MB, 10,130 observations, raw log lines mined as it is read) is
//! streamed: only its header is read before the first frame, and the demo's player reads the
//! rest as it plays, paced by data time, so start-up does not grow with the scenario. It is
//! compiled in and checked whole by the tests, so a line cannot fail mid-play; a file given
//! with `--scenario` is read whole first, so a bad line is a clear error (file, line, field)
//! before the terminal is touched, not a surprise half-way through.

use crate::agent::Agent;
use crate::engine::EngineConfig;
use crate::journal::Journal;
use crate::model::Observation;
use crate::sources::fixture::{self, ScenarioError, ScenarioHeader, ScenarioReader};
use crate::ui::{config_dir, load_style, settings_notice, update, Action, App, Feed, UiOptions};
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};

/// The shipped demo scenario, built into the binary so `faultline demo` needs no files.
pub const DEMO_SCENARIO: &str = include_str!("../fixtures/scenarios/db-cpu-saturation.jsonl");
/// The name errors give the built-in scenario.
pub const DEMO_SCENARIO_NAME: &str = "<built-in>/fixtures/scenarios/db-cpu-saturation.jsonl";

/// An App with the keymap and the theme `opts.appearance` chooses, with the user's files in the
/// config directory laid over them. A bad file never stops the UI: it is left out (its defaults
/// apply), logged, and named in the notice of the first frame.
pub fn styled_app(opts: UiOptions) -> App {
    let (keymap, theme, problems) = load_style(config_dir().as_deref(), &opts.appearance);
    for problem in &problems {
        tracing::warn!(%problem, "settings file left out; its defaults apply");
    }
    tracing::info!(colors = theme.mode.name(), "colour mode");
    let mut app = App::with_style(opts, keymap, theme);
    if let Some(text) = settings_notice(&problems) {
        update(&mut app, Action::Feed(Feed::Notice(text)));
    }
    app
}

/// A demo's observations in file order, read as they are played (see the module doc).
pub type Observations = Box<dyn Iterator<Item = Result<Observation, ScenarioError>> + Send>;

/// The scenario a demo plays: its header, and its observations as they are read.
pub struct DemoScenario {
    pub header: ScenarioHeader,
    pub observations: Observations,
}

impl DemoScenario {
    /// Reads the rest of the scenario (what `--headless` plays at once).
    pub fn collect(self) -> Result<fixture::Scenario, ScenarioError> {
        let observations = self.observations.collect::<Result<Vec<_>, _>>()?;
        Ok(fixture::Scenario { header: self.header, observations })
    }
}

/// The scenario a demo plays: the file given (read whole, so its errors come first), else the
/// built-in one, of which only the header is read here.
pub fn demo_scenario(path: Option<&Path>) -> Result<DemoScenario, ScenarioError> {
    match path {
        Some(path) => {
            let scenario = fixture::load(path)?;
            Ok(DemoScenario {
                header: scenario.header,
                observations: Box::new(scenario.observations.into_iter().map(Ok)),
            })
        }
        None => {
            let reader = ScenarioReader::new(DEMO_SCENARIO.as_bytes(), Path::new(DEMO_SCENARIO_NAME))?;
            Ok(DemoScenario { header: reader.header().clone(), observations: Box::new(reader) })
        }
    }
}

/// A demo ready to play: its engine (with the journal, if one is written) and the UI's options.
pub struct Demo {
    pub agent: Agent,
    pub scenario: DemoScenario,
    pub opts: UiOptions,
}

impl Demo {
    /// The demo of `scenario` on an engine configured by `engine`; `readonly` and `log_path` as
    /// the command line gave them.
    pub fn new(
        scenario: DemoScenario,
        engine: EngineConfig,
        journal: Option<Journal>,
        readonly: bool,
        log_path: Option<PathBuf>,
        appearance: crate::ui::Appearance,
    ) -> Demo {
        let opts = UiOptions {
            title: format!("demo: {}", scenario.header.name),
            readonly,
            log_path,
            operator: crate::runbook::operator(),
            silence: None,
            runbooks: Default::default(),
            appearance,
        };
        Demo { agent: Agent::new(engine, journal), scenario, opts }
    }
}

/// Sizes the App to the terminal and draws one frame, as the event loop's first turn does.
pub fn first_frame<B: Backend>(app: &mut App, terminal: &mut Terminal<B>) -> anyhow::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let size = terminal.size()?;
    crate::ui::update(app, crate::ui::Action::Resize { width: size.width, height: size.height });
    terminal.draw(|frame| crate::ui::render(app, frame))?;
    Ok(())
}
