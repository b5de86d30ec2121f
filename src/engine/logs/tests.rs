use super::*;

fn miner() -> TemplateMiner {
    TemplateMiner::new(MinerConfig::default())
}

#[test]
fn same_shape_lines_share_a_template_that_generalises() {
    let mut m = miner();
    let a = m.add("Invalid user webmaster from 173.234.31.186");
    assert_eq!(a.change, TemplateChange::Created);
    assert_eq!(m.template(a.id), Some("Invalid user webmaster from <*>"));
    let b = m.add("Invalid user test9 from 52.80.34.196");
    assert_eq!((b.id, b.change), (a.id, TemplateChange::Generalised));
    assert_eq!(m.template(a.id), Some("Invalid user <*> from <*>"));
    let c = m.add("Invalid user admin from 10.0.0.1");
    assert_eq!((c.id, c.change), (a.id, TemplateChange::Unchanged));
    assert_eq!(m.templates().iter().map(|t| t.size).collect::<Vec<_>>(), vec![3]);
}

#[test]
fn different_events_stay_apart() {
    let mut m = miner();
    let ids: Vec<TemplateId> = [
        "Connection closed by 1.2.3.4 [preauth]",
        "Failed password for root from 1.2.3.4 port 22 ssh2",
        "Failed password for invalid user bob from 1.2.3.4 port 22 ssh2",
        "session opened for user root by (uid=0)",
        "session closed for user root",
    ]
    .iter()
    .map(|l| m.add(l).id)
    .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);
}

#[test]
fn generalising_keeps_the_common_punctuated_parts() {
    assert_eq!(generalise("user=root", "user=guest"), "user=<*>");
    assert_eq!(generalise("proxy.example.hk:<*>", "api.github.com:<*>"), "<*>:<*>");
    assert_eq!(generalise("(alpha)", "(beta.net)"), "(<*>)");
    assert_eq!(generalise("(host-a)", "(host-b.net)"), "(host-<*>)");
    assert_eq!(generalise("webmaster", "test"), "<*>");
    assert_eq!(generalise("rhost=", "rhost=x.net"), "rhost=<*>");
    // Never half a wildcard.
    assert_eq!(generalise("<*>.<*>", "<*>:<*>"), "<*>");
    assert!(fits("<*>:<*>", "a.b:<*>"));
    assert!(fits("user=<*>", "user="));
    assert!(!fits("user=<*>", "uid=0"));
    assert!(fits("a<*>b<*>c", "aXbYbZc"));
}

#[test]
fn ids_are_fixed_at_creation_and_reproducible() {
    let lines = ["job 1 started on node-a", "job 2 started on node-b", "disk sda1 full", "job 3 started on node-c"];
    let run = || {
        let mut m = miner();
        lines.iter().map(|l| m.add(l).id).collect::<Vec<_>>()
    };
    let first = run();
    assert_eq!(first, run(), "same input, same ids");
    // The job template generalised twice and kept the id its first line gave it.
    assert_eq!(first[0], first[1]);
    assert_eq!(first[0], first[3]);
    assert_eq!(first[0], TemplateId(fnv1a(b"job <*> started on node-a", None)));
    assert_eq!(first[0].to_string().len(), 16);
    // The id is the creating line's: another order of the same lines names it after another line.
    let mut m = miner();
    assert_eq!(m.add("job 2 started on node-b").id, TemplateId(fnv1a(b"job <*> started on node-b", None)));
}

#[test]
fn memory_is_bounded_by_forgetting_the_least_recently_matched() {
    let mut m = TemplateMiner::new(MinerConfig { max_clusters: 3, ..MinerConfig::default() });
    let kinds = ["alpha", "beta", "gamma", "delta", "epsilon"];
    let a = m.add("alpha event happened now").id;
    m.add("beta event happened now");
    m.add("gamma event happened now");
    // alpha is matched again: beta is now the least recently matched.
    assert_eq!(m.add("alpha event happened now").id, a);
    let d = m.add("delta thing went away").id;
    assert_eq!(m.len(), 3);
    assert_eq!(m.forgotten(), 1);
    assert!(m.template(a).is_some());
    let held: Vec<&str> = m.templates().iter().map(|t| t.template).collect();
    assert_eq!(held, ["alpha event happened now", "gamma event happened now", "delta thing went away"]);
    for i in 0..1000 {
        m.add(&format!("{} other {} kind{}", kinds[i % 5], i, i % 17));
        assert!(m.len() <= 3);
    }
    // Forgotten templates take their tree nodes with them.
    assert!(m.nodes.len() - m.free_nodes.len() <= 3 * (m.config().prefix_tokens + 1));
    // A forgotten template's creating line brings its id back.
    let _ = d;
    let again = m.add("delta thing went away");
    assert_eq!((again.id, again.change), (d, TemplateChange::Created));
}

#[test]
fn long_lines_are_cut() {
    let mut m = TemplateMiner::new(MinerConfig { max_tokens: 4, max_line_bytes: 40, ..MinerConfig::default() });
    let p = m.add("a b c d e f g");
    assert_eq!(m.template(p.id), Some("a b c <*>"));
    let q = m.add("a b c x y");
    assert_eq!(q.id, p.id);
    let long = "é".repeat(100);
    let r = m.add(&long);
    assert_eq!(m.template(r.id).map(str::len), Some(40));
}

#[test]
fn empty_lines_have_one_template() {
    let mut m = miner();
    let a = m.add("");
    let b = m.add("   ");
    assert_eq!(a.id, b.id);
    assert_eq!(m.template(a.id), Some(""));
}

#[test]
fn many_first_tokens_share_the_wildcard_branch() {
    let mut m = TemplateMiner::new(MinerConfig { max_children: 3, ..MinerConfig::default() });
    for w in ["apple", "banana", "cherry", "damson", "elder"] {
        m.add(&format!("{w} was eaten today"));
    }
    // Two named branches and the wildcard: the last three share it and one template.
    assert_eq!(m.len(), 3);
}

#[test]
fn variables_found_by_masking_agree_with_template_variables() {
    // All but the first token are numbers: Drain's rule (variables never agree) would leave each
    // line alone in a template of its own.
    let mut m = miner();
    let a = m.add("onExtend:1514038530000 14 0 4");
    let b = m.add("onExtend:1514038531000 2 0 4");
    assert_eq!(a.id, b.id);
    assert_eq!(b.change, TemplateChange::Unchanged);
    assert_eq!(m.template(a.id), Some("onExtend:<*> <*> <*> <*>"));
}

#[test]
fn one_word_of_three_is_too_little_to_share() {
    // 2 of 3 tokens agree: below the default 0.7, so two templates.
    let mut m = miner();
    let a = m.add("ifCanSync not! nocloud");
    let b = m.add("ifCanSync not! cloud");
    assert_ne!(a.id, b.id);
    // 3 of 4 agree: one template.
    let c = m.add("startTimer start auto sync");
    let d = m.add("startTimer start manual sync");
    assert_eq!(c.id, d.id);
    assert_eq!(m.template(c.id), Some("startTimer start <*> sync"));
}
