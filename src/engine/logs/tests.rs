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

/// Mines `lines` with one miner; the template id of each.
fn mine_all(lines: &[&str]) -> Vec<TemplateId> {
    let mut m = miner();
    lines.iter().map(|l| m.add(l).id).collect()
}

// Lines of formats faultline has no sample of (constructed here in their style, with values of
// our own): Windows CBS/CSI, macOS syslog, OpenStack API logs.

#[test]
fn windows_servicing_lines_of_one_event_share_a_template() {
    let ids = mine_all(&[
        "Loaded Servicing Stack v6.1.7601.23505 with Core: C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_6.1.7601.23505_none_681aa442f6fed7f0\\cbscore.dll",
        "Loaded Servicing Stack v10.0.14393.0 with Core: C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.14393.0_none_7e3a1b2c9d8e7f60\\cbscore.dll",
        "Read out cached package applicability for package: Package_for_KB2928120~31bf3856ad364e35~amd64~~6.1.1.1, ApplicableState: 112, CurrentState:112",
        "Read out cached package applicability for package: Package_for_KB3004394~31bf3856ad364e35~amd64~~6.1.7601.17514, ApplicableState: 80, CurrentState:112",
        "Session: 30546173_4261722401 initialized by client WindowsUpdateAgent.",
        "Session: 30546190_88213 initialized by client WindowsUpdateAgent.",
    ]);
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[2], ids[3]);
    assert_eq!(ids[4], ids[5]);
    assert_ne!(ids[0], ids[2]);
    assert_ne!(ids[2], ids[4]);
}

#[test]
fn a_list_of_like_values_reads_as_one_whatever_its_length() {
    let mut m = miner();
    let six = m.add("00000001@2016/9/27:20:30:31.455 WcpInitialize (wcp.dll version 0.0.0.6) called (stack @0x7fed806eb5d @0x7fefa1c8728 @0x7fefa1c8a98 @0xff83e474 @0xff83d7bd @0xff83db2f)");
    let three = m.add("00000002@2016/9/27:20:31:02.101 WcpInitialize (wcp.dll version 0.0.0.6) called (stack @0x7fed806eb5d @0x7fefa1c8728 @0xff83e474)");
    let two = m.add("0000000a@2016/9/28:04:30:30.918 WcpInitialize (wcp.dll version 0.0.0.6) called (stack @0x7fed806eb5d @0xff83e474)");
    assert_eq!((six.id, three.id, two.id), (six.id, six.id, six.id));
    assert_eq!(
        m.template(six.id),
        Some("<*>@<*>/<*>/<*>:<*>:<*>:<*>.<*> WcpInitialize (wcp.dll version <*>) called (stack @<*> @<*>)")
    );
    // The same for block lists.
    let ids = mine_all(&[
        "BLOCK* ask 10.250.14.224:50010 to delete blk_-1 blk_2 blk_3",
        "BLOCK* ask 10.250.14.38:50010 to delete blk_7",
    ]);
    assert_eq!(ids[0], ids[1]);
    // Values without a prefix are not a list: an address and a code stay two tokens.
    assert_eq!(mask("disconnect from 1.2.3.4: 11: Bye"), "disconnect from <*>: <*>: Bye");
}

#[test]
fn upper_case_names_tell_events_apart() {
    let ids = mine_all(&[
        "Failed to internally open package. [HRESULT = 0x800f0805 - CBS_E_INVALID_PACKAGE]",
        "Failed to internally open package. [HRESULT = 0x800f081e - CBS_E_NOT_APPLICABLE]",
        "Failed to internally open package. [HRESULT = 0x800f0805 - CBS_E_INVALID_PACKAGE]",
        "attempt_1445144423722_0020_m_000000_0 TaskAttempt Transitioned from NEW to UNASSIGNED",
        "attempt_1445144423722_0020_m_000001_0 TaskAttempt Transitioned from UNASSIGNED to ASSIGNED",
        "attempt_1445144423722_0020_m_000002_0 TaskAttempt Transitioned from NEW to UNASSIGNED",
    ]);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[2]);
    assert_ne!(ids[3], ids[4]);
    assert_eq!(ids[3], ids[5]);
    // Lower-case words still generalise (user names), and so do masked values.
    let ids = mine_all(&["Invalid user webmaster from 1.2.3.4", "Invalid user test from 5.6.7.8"]);
    assert_eq!(ids[0], ids[1]);
    assert!(is_name_constant(b"\"GET") && is_name_constant(b"S_OK]") && is_name_constant(b"UNASSIGNED"));
    assert!(!is_name_constant(b"A") && !is_name_constant(b"Bye") && !is_name_constant(b"<*>"));
}

#[test]
fn openstack_requests_split_by_method_and_join_across_ids() {
    let get = |req: &str, ids: &str, len: u32| {
        format!("nova.osapi_compute.wsgi.server [req-{req} {ids}] 10.11.10.1 \"GET /v2/54fdadf860e544d0bd6b3a7b60a39b6e/servers/detail HTTP/1.1\" status: 200 len: {len} time: 0.2477829")
    };
    let lines = [
        get("38101a0b-2096-447d-96ea-a692162415ae", "113d3a99c3da401fbd62cc2caa5b96d2 54fdadf860e544d0bd6b3a7b60a39b6e - - -", 1893),
        get("0c5b2e1a-77aa-4c1e-9f3e-5d1a2b3c4d5e", "- - - - -", 211),
        "nova.osapi_compute.wsgi.server [req-4895c258-b2f8-488f-a2a3-4fae63982e48 113d3a99c3da401fbd62cc2caa5b96d2 54fdadf860e544d0bd6b3a7b60a39b6e - - -] 10.11.10.1 \"POST /v2/54fdadf860e544d0bd6b3a7b60a39b6e/os-server-external-events HTTP/1.1\" status: 200 len: 380 time: 0.0913160".to_string(),
        get("9bc36dd9-91c5-4314-898a-47625eb93b09", "113d3a99c3da401fbd62cc2caa5b96d2 54fdadf860e544d0bd6b3a7b60a39b6e - - -", 1910),
    ];
    let ids = mine_all(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[3]);
    assert_ne!(ids[0], ids[2]);
}

#[test]
fn macos_process_lines_of_one_event_share_a_template() {
    let ids = mine_all(&[
        "kernel[0]: ARPT: 620701.011328: AirPort_Brcm43xx::syncPowerState: WWEN[enabled]",
        "kernel[0]: ARPT: 620749.920514: AirPort_Brcm43xx::syncPowerState: WWEN[enabled]",
        "com.apple.CDScheduler[43]: Thermal pressure state: 1 Memory pressure state: 0",
        "com.apple.CDScheduler[258]: Thermal pressure state: 0 Memory pressure state: 0",
        "kernel[0]: ARPT: 620702.879952: wl0: MDNS: IPV6 Addr: fe80:0:0:0:c6b3:1ff:fecd:467f",
    ]);
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[2], ids[3]);
    assert_ne!(ids[0], ids[4]);
    assert_ne!(ids[0], ids[2]);
}
