//! The topology view at scale: one frame of the whole-estate diagram, and the layout it copies
//! from, on a generated estate (`faultline::ui::topo::sample::estate`: services calling each
//! other in a chain, each on many pods spread over a few hosts).
//!
//! Measured:
//! - `frame/<n> entities/<w>x<h>`: one `render` of the App into a `TestBackend` with the
//!   topology view open on the whole estate, the layout already cached (what every redraw costs);
//! - `layout/<n> entities`: computing the layout (neighbourhood, sibling collapse, layering,
//!   ordering, placement, drawing onto the canvas), which `update` does only when what it shows
//!   changes (the topology's facts, the hops, a group opened, the marks the problems give);
//! - `update: an event, layout kept/<n> entities`: what a batch of events that changes nothing
//!   drawn costs with the view open (the marks are taken again, the layout is kept).
//!
//! Run with `cargo bench --bench topology_view`.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::engine::topology::TopologyHistory;
use faultline::model::{EventKind, ProblemEvent, ProblemId, Severity, Timestamp};
use faultline::ui::topo::layout::{layout, Scene};
use faultline::ui::topo::sample;
use faultline::ui::{render, update, Action, App, Feed, UiOptions};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::collections::{BTreeMap, BTreeSet};

const T0: Timestamp = Timestamp(1_793_588_400_000);

/// Estates of about 200 and 2,000 entities: (services, pods each, hosts).
const ESTATES: [(usize, usize, usize); 2] = [(12, 15, 6), (100, 18, 20)];

fn entities((services, pods, hosts): (usize, usize, usize)) -> usize {
    services * (pods + 1) + hosts + 2
}

/// An App with the estate's topology, one problem event after it (the topology shown is as of
/// the cursor's data time), and the whole-estate topology view open.
fn app(estate: (usize, usize, usize), width: u16, height: u16) -> App {
    let mut app = App::new(UiOptions::default());
    update(&mut app, Action::Resize { width, height });
    update(&mut app, Feed::Observations(sample::estate(estate.0, estate.1, estate.2, T0)).into());
    let opened = EventKind::Opened { title: "bench".to_string(), severity: Severity::Info };
    let event = ProblemEvent { seq: 1, problem: ProblemId(1), at: T0.plus_ms(60_000), kind: opened };
    update(&mut app, Feed::Events(vec![event]).into());
    app.open_topology_all();
    app
}

fn bench(c: &mut Criterion) {
    for estate in ESTATES {
        let n = entities(estate);
        for (w, h) in [(80u16, 24u16), (200, 50)] {
            let app = app(estate, w, h);
            assert!(app.topo.as_ref().is_some_and(|t| t.diagram.entities == n), "the estate is laid out");
            let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
            c.bench_function(&format!("frame/{n} entities/{w}x{h}"), |b| {
                b.iter(|| terminal.draw(|frame| render(&app, frame)).map(|_| ()).expect("drawn"))
            });
        }
        let mut live = app(estate, 80, 24);
        let layouts = live.topo.as_ref().map_or(0, |t| t.layouts);
        let mut seq = 1;
        c.bench_function(&format!("update: an event, layout kept/{n} entities"), |b| {
            b.iter(|| {
                seq += 1;
                let kind = EventKind::Acknowledged { by: "bench".to_string() };
                let event = ProblemEvent { seq, problem: ProblemId(1), at: T0.plus_ms(60_000), kind };
                update(&mut live, Feed::Events(vec![event]).into());
            })
        });
        assert_eq!(live.topo.as_ref().map_or(0, |t| t.layouts), layouts, "no event changed what is drawn");
        let observations = sample::estate(estate.0, estate.1, estate.2, T0);
        let topology = TopologyHistory::from_observations(&observations, 1_000_000).as_of(T0).expect("a topology");
        let (marks, expanded) = (BTreeMap::new(), BTreeSet::new());
        c.bench_function(&format!("layout/{n} entities"), |b| {
            b.iter(|| layout(&Scene { topology: &topology, focus: None, hops: 0, marks: &marks, expanded: &expanded }))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
