//! Log templates: a streaming miner in the spirit of Drain (He et al., ICWS 2017).
//!
//! A line is masked first ([`mask`]: numbers, hex ids, IPs, paths, UUIDs… become `<*>`), then
//! routed down a fixed-depth tree: by its token count, then by its first `prefix_tokens` tokens
//! (a token holding a digit or a `<*>` takes the `<*>` branch, and so does any token once a node
//! has `max_children` children). The leaf holds a few templates; the line joins the one it agrees
//! with on most tokens, if that share of its tokens is at least `similarity`. A token agrees when
//! it is the template's token, or when both sides say "variable": the template has `<*>` (or a
//! pattern such as `user=<*>` that the token fits) and masking found a variable in the token. A
//! template variable over a plain word of the line does not count (as in Drain), but among equal
//! shares the template with more of them wins. (Drain counts no variable as agreement; with
//! masking that leaves lines like `onExtend:<*> <*> <*> <*>` unable to join their own template.)
//!
//! Joining generalises the template: each token the line disagrees with becomes `<*>`, keeping a
//! common prefix ending in punctuation and a common suffix starting with punctuation (`user=root`
//! and `user=guest` give `user=<*>`; `a.com:<*>` and `b.org:<*>` give `<*>:<*>`). A line that
//! joins nothing starts a new template.
//!
//! **Template ids** are fixed when a template is created and never change as it generalises: the
//! FNV-1a 64-bit hash of the masked line that created it, in hex. The same input in the same order
//! gives the same ids, in every process; a template recreated after it was forgotten, or created
//! by the same line after a restart, gets its old id back. (Should two live templates be created
//! by the same text, the later one hashes the text with `#1`, `#2`… appended.)
//!
//! **Memory is bounded**: at most `max_clusters` templates are kept; making room forgets the least
//! recently matched one (LRU), and tree nodes left empty are removed with it. A line counts at most
//! `max_line_bytes` bytes and `max_tokens` tokens (the rest becomes one trailing `<*>`). So the
//! miner holds at most `max_clusters` templates of at most `max_tokens` tokens each, and
//! `prefix_tokens + 1` tree nodes per template.
//!
//! The miner has no clock and no randomness; its hash maps are only looked up, never iterated
//! into output.

mod aggregate;
mod level;
mod mask;
mod scrub;

pub use aggregate::{LogPatternConfig, LogPatterns, PatternCount};
pub use level::detect_level;
pub use mask::{mask, MaskedLine, Masker, WILDCARD};
pub use scrub::scrub;

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hasher for the tree's maps: keys are short tokens, for which SipHash's setup
/// dominates. (The maps are only looked up, so the hash never orders anything.)
#[derive(Default)]
struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = mix(self.0, token_hash(bytes));
    }
}

type TokenMap<K, V> = HashMap<K, V, BuildHasherDefault<TokenHasher>>;

fn mix(a: u64, b: u64) -> u64 {
    (a.rotate_left(5) ^ b).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// A quick 64-bit hash of a token, eight bytes at a time, to compare tokens before their bytes.
fn token_hash(bytes: &[u8]) -> u64 {
    let mut hash = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = mix(hash, u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        hash = mix(hash, u64::from_le_bytes(word));
    }
    hash
}

/// Miner tunables. One configuration serves every kind of log (no per-system regexes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MinerConfig {
    /// Leading tokens that route a line down the tree after its token count (Drain's depth
    /// less two).
    pub prefix_tokens: usize,
    /// Least share of a line's tokens, in [0, 1], that must agree with a template for the line
    /// to join it.
    pub similarity: f64,
    /// Children a tree node may have; later tokens share its `<*>` child.
    pub max_children: usize,
    /// Templates kept; making room forgets the least recently matched one.
    pub max_clusters: usize,
    /// Tokens of a line that count; the rest become one trailing `<*>`.
    pub max_tokens: usize,
    /// Bytes of a line that count (cut at a character boundary); the rest is ignored.
    pub max_line_bytes: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            prefix_tokens: 2,
            similarity: 0.7,
            max_children: 100,
            max_clusters: 10_000,
            max_tokens: 128,
            max_line_bytes: 16 * 1024,
        }
    }
}

/// A template's stable id: see the module documentation. Shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TemplateId(pub u64);

impl fmt::Display for TemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What a line did to its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateChange {
    /// The line started a new template.
    Created,
    /// The line joined a template and made it more general.
    Generalised,
    /// The line joined a template as it was.
    Unchanged,
}

/// The outcome of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub id: TemplateId,
    pub change: TemplateChange,
}

/// A template as the miner holds it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateView<'a> {
    pub id: TemplateId,
    /// Tokens separated by single spaces, variables as `<*>`.
    pub template: &'a str,
    /// Lines it has matched since it was created.
    pub size: u64,
}

const NIL: u32 = u32::MAX;

/// What a template token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A word to equal; `named`: an upper-case name (see [`is_name_constant`]).
    Constant { named: bool },
    /// `<*>`: anything.
    Wildcard,
    /// Text with a `<*>` in it, such as `user=<*>`: what fits. With exactly one `<*>`, the
    /// lengths of the text before and after it (what fits starts and ends with those).
    Pattern { single: Option<(u32, u32)> },
}

/// A template token with what comparing needs, worked out once.
struct Token {
    text: Box<str>,
    kind: Kind,
}

impl Token {
    fn new(text: &str) -> Token {
        let kind = if text == WILDCARD {
            Kind::Wildcard
        } else if let Some(first) = find_wildcard(text.as_bytes(), 0) {
            let after = first + WILDCARD.len();
            let single = find_wildcard(text.as_bytes(), after).is_none();
            Kind::Pattern { single: single.then_some((first as u32, (text.len() - after) as u32)) }
        } else {
            Kind::Constant { named: is_name_constant(text.as_bytes()) }
        };
        Token { kind, text: text.into() }
    }

    /// Whether a line whose token `i` differs from this one must not join its template: one of
    /// the two is an upper-case name (see [`is_name_constant`]).
    fn names_differ(&self, line: &Line<'_>, i: usize) -> bool {
        match self.kind {
            Kind::Constant { named } => named || is_name_constant(line.get_bytes(i)),
            _ => false,
        }
    }

    /// Whether the line's token `i` agrees with this one (`Some(true)`: equal or both variable,
    /// `Some(false)`: the template's variable covers a line's word, `None`: they differ).
    /// (Inlined: it runs for every token of every template a line is compared with.)
    #[inline(always)]
    fn agrees(&self, line: &Line<'_>, i: usize) -> Option<bool> {
        match self.kind {
            Kind::Constant { .. } => same(self.text.as_bytes(), line.get_bytes(i)).then_some(true),
            Kind::Wildcard => Some(line.variable(i)),
            Kind::Pattern { single } => {
                let (text, token) = (self.text.as_bytes(), line.get_bytes(i));
                if same(text, token) {
                    Some(true)
                } else {
                    let fit = match single {
                        // What `fits` finds for one `<*>`: the text around it at both ends.
                        Some((before, after)) => {
                            let (before, after) = (before as usize, after as usize);
                            token.len() >= before + after
                                && same(&token[..before], &text[..before])
                                && same(&token[token.len() - after..], &text[text.len() - after..])
                        }
                        None => fits(text, token),
                    };
                    fit.then_some(line.variable(i))
                }
            }
        }
    }
}

struct Cluster {
    id: TemplateId,
    tokens: Vec<Token>,
    text: String,
    size: u64,
    /// The tree leaf holding it.
    leaf: u32,
    /// Creation order, for listing.
    seq: u64,
    /// LRU neighbours: `prev` was matched more recently, `next` less.
    prev: u32,
    next: u32,
}

/// How a node hangs from its parent, to unlink it when it empties.
enum Edge {
    /// A first-layer node: the token count.
    Length(usize),
    Token(Box<str>),
    Wildcard,
}

struct Node {
    parent: u32,
    edge: Edge,
    children: TokenMap<Box<str>, u32>,
    wildcard: u32,
    /// Cluster slots, on leaves only, in insertion order.
    clusters: Vec<u32>,
}

impl Node {
    fn fanout(&self) -> usize {
        self.children.len() + usize::from(self.wildcard != NIL)
    }
    fn is_empty(&self) -> bool {
        self.clusters.is_empty() && self.children.is_empty() && self.wildcard == NIL
    }
}

/// The masked tokens of one line, at most `max_tokens` of them.
struct Line<'a> {
    masked: MaskedLine<'a>,
    len: usize,
    /// More tokens than `max_tokens`: the last one reads as `<*>`.
    truncated: bool,
}

impl<'a> Line<'a> {
    fn len(&self) -> usize {
        self.len
    }
    fn get(&self, i: usize) -> &'a str {
        if self.truncated && i + 1 == self.len {
            return WILDCARD;
        }
        self.masked.token(i)
    }
    /// [`Line::get`] as bytes, for comparing.
    #[inline]
    fn get_bytes(&self, i: usize) -> &'a [u8] {
        if self.truncated && i + 1 == self.len {
            return WILDCARD.as_bytes();
        }
        self.masked.token_bytes(i)
    }
    /// Whether masking found a variable in token `i`.
    fn variable(&self, i: usize) -> bool {
        (self.truncated && i + 1 == self.len) || self.masked.is_variable(i)
    }
}

/// The streaming template miner.
pub struct TemplateMiner {
    config: MinerConfig,
    /// First-layer nodes by token count.
    roots: Vec<u32>,
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    slots: Vec<Option<Cluster>>,
    free_slots: Vec<u32>,
    by_id: TokenMap<TemplateId, u32>,
    /// Most and least recently matched clusters.
    head: u32,
    tail: u32,
    live: usize,
    next_seq: u64,
    forgotten: u64,
    /// Buffers reused for every line (boxed, so taking them out for a line moves one pointer).
    masker: Option<Box<Masker>>,
}

impl TemplateMiner {
    pub fn new(config: MinerConfig) -> TemplateMiner {
        let config = MinerConfig {
            max_children: config.max_children.max(2),
            max_clusters: config.max_clusters.max(1),
            max_tokens: config.max_tokens.max(1),
            ..config
        };
        TemplateMiner {
            roots: vec![NIL; config.max_tokens + 1],
            config,
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            by_id: TokenMap::default(),
            head: NIL,
            tail: NIL,
            live: 0,
            next_seq: 0,
            forgotten: 0,
            masker: Some(Box::default()),
        }
    }

    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Templates held now.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Templates forgotten to make room so far.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// The current text of a template, if it is still held.
    pub fn template(&self, id: TemplateId) -> Option<&str> {
        self.by_id.get(&id).and_then(|s| self.cluster(*s)).map(|c| c.text.as_str())
    }

    /// Every template held, in creation order.
    pub fn templates(&self) -> Vec<TemplateView<'_>> {
        let mut all: Vec<&Cluster> = self.slots.iter().flatten().collect();
        all.sort_by_key(|c| c.seq);
        all.into_iter().map(|c| TemplateView { id: c.id, template: &c.text, size: c.size }).collect()
    }

    /// Mines one line: its template id and what it did to the template.
    pub fn add(&mut self, line: &str) -> Parsed {
        let mut masker = self.masker.take().unwrap_or_default();
        let masked = masker.mask_line(cut(line, self.config.max_line_bytes));
        let truncated = masked.len() > self.config.max_tokens;
        let line = Line { masked, len: masked.len().min(self.config.max_tokens), truncated };
        let parsed = match self.search(&line) {
            Some((slot, covered)) => self.join(slot, &line, covered),
            None => self.create(&line),
        };
        self.masker = Some(masker);
        parsed
    }

    fn cluster(&self, slot: u32) -> Option<&Cluster> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn cluster_mut(&mut self, slot: u32) -> Option<&mut Cluster> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// The leaf a line routes to, then the best template in it, and whether that template
    /// covers the line as it is.
    fn search(&self, line: &Line<'_>) -> Option<(u32, bool)> {
        let mut node = *self.roots.get(line.len())?;
        if node == NIL {
            return None;
        }
        for i in 0..self.config.prefix_tokens.min(line.len()) {
            let n = &self.nodes[node as usize];
            node = match n.children.get(line.get(i)) {
                Some(child) => *child,
                None if n.wildcard != NIL => n.wildcard,
                None => return None,
            };
        }
        self.best_match(&self.nodes[node as usize].clusters, line)
    }

    fn best_match(&self, slots: &[u32], line: &Line<'_>) -> Option<(u32, bool)> {
        let mut best: Option<(u32, usize, usize)> = None;
        for &slot in slots {
            let Some(c) = self.cluster(slot) else { continue };
            let Some((equal, params)) = compare(&c.tokens, line) else { continue };
            if best.is_none_or(|(_, e, p)| equal > e || (equal == e && params > p)) {
                best = Some((slot, equal, params));
            }
        }
        let (slot, equal, params) = best?;
        let share = if line.len() == 0 { 1.0 } else { equal as f64 / line.len() as f64 };
        (share >= self.config.similarity).then_some((slot, equal + params == line.len()))
    }

    fn join(&mut self, slot: u32, line: &Line<'_>, covered: bool) -> Parsed {
        self.touch(slot);
        // (A matched slot always holds a cluster; should it not, the line starts a template.)
        let Some(c) = self.cluster_mut(slot) else { return self.create(line) };
        c.size += 1;
        let mut changed = false;
        if !covered {
            for (i, token) in c.tokens.iter_mut().enumerate() {
                if token.agrees(line, i).is_none() {
                    *token = Token::new(&generalise(&token.text, line.get(i)));
                    changed = true;
                }
            }
        }
        if changed {
            c.text = join(&c.tokens);
        }
        Parsed { id: c.id, change: if changed { TemplateChange::Generalised } else { TemplateChange::Unchanged } }
    }

    fn create(&mut self, line: &Line<'_>) -> Parsed {
        if self.live >= self.config.max_clusters {
            self.forget_oldest();
        }
        let tokens: Vec<Token> = (0..line.len()).map(|i| Token::new(line.get(i))).collect();
        let text = join(&tokens);
        let mut id = TemplateId(fnv1a(text.as_bytes(), None));
        let mut salt = 0u32;
        while self.by_id.contains_key(&id) {
            salt += 1;
            id = TemplateId(fnv1a(text.as_bytes(), Some(salt)));
        }
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let leaf = self.insert_path(&tokens);
        self.nodes[leaf as usize].clusters.push(slot);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.slots[slot as usize] = Some(Cluster { id, tokens, text, size: 1, leaf, seq, prev: NIL, next: NIL });
        self.by_id.insert(id, slot);
        self.live += 1;
        self.push_front(slot);
        Parsed { id, change: TemplateChange::Created }
    }

    /// Walks (and grows) the tree for a new template's tokens; returns the leaf.
    fn insert_path(&mut self, tokens: &[Token]) -> u32 {
        let len = tokens.len();
        let mut node = self.roots[len];
        if node == NIL {
            node = self.new_node(NIL, Edge::Length(len));
            self.roots[len] = node;
        }
        for token in tokens.iter().take(self.config.prefix_tokens) {
            let token = &token.text;
            let n = &self.nodes[node as usize];
            if let Some(child) = n.children.get(token) {
                node = *child;
                continue;
            }
            let wildcard_exists = n.wildcard != NIL;
            let room = if wildcard_exists {
                n.fanout() < self.config.max_children
            } else {
                n.fanout() + 1 < self.config.max_children
            };
            node = if !has_variable(token) && room {
                let child = self.new_node(node, Edge::Token(token.clone()));
                self.nodes[node as usize].children.insert(token.clone(), child);
                child
            } else if wildcard_exists {
                n.wildcard
            } else {
                let child = self.new_node(node, Edge::Wildcard);
                self.nodes[node as usize].wildcard = child;
                child
            };
        }
        node
    }

    fn new_node(&mut self, parent: u32, edge: Edge) -> u32 {
        let node = Node { parent, edge, children: TokenMap::default(), wildcard: NIL, clusters: Vec::new() };
        match self.free_nodes.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Forgets the least recently matched template and the tree nodes only it needed.
    fn forget_oldest(&mut self) {
        let slot = self.tail;
        if slot == NIL {
            return;
        }
        self.unlink(slot);
        let Some(c) = self.slots[slot as usize].take() else { return };
        self.free_slots.push(slot);
        self.by_id.remove(&c.id);
        self.live -= 1;
        self.forgotten += 1;
        let mut node = c.leaf;
        self.nodes[node as usize].clusters.retain(|s| *s != slot);
        while node != NIL && self.nodes[node as usize].is_empty() {
            let parent = self.nodes[node as usize].parent;
            match std::mem::replace(&mut self.nodes[node as usize].edge, Edge::Wildcard) {
                Edge::Length(len) => self.roots[len] = NIL,
                Edge::Token(key) => {
                    self.nodes[parent as usize].children.remove(&key);
                }
                Edge::Wildcard => self.nodes[parent as usize].wildcard = NIL,
            }
            self.nodes[node as usize].children = TokenMap::default();
            self.free_nodes.push(node);
            node = parent;
        }
    }

    fn touch(&mut self, slot: u32) {
        if self.head != slot {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    fn push_front(&mut self, slot: u32) {
        let old = self.head;
        if let Some(c) = self.cluster_mut(slot) {
            c.prev = NIL;
            c.next = old;
        }
        if let Some(h) = self.cluster_mut(old) {
            h.prev = slot;
        }
        self.head = slot;
        if self.tail == NIL {
            self.tail = slot;
        }
    }

    fn unlink(&mut self, slot: u32) {
        let Some(c) = self.cluster(slot) else { return };
        let (prev, next) = (c.prev, c.next);
        match self.cluster_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.cluster_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }
}

/// `line` cut to at most `max` bytes at a character boundary.
fn cut(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Drain's routing test: a token with a digit or a variable goes down the `<*>` branch.
fn has_variable(token: &str) -> bool {
    token.bytes().any(|c| c.is_ascii_digit()) || has_wildcard(token)
}

/// Tokens of `template` the line agrees with (equal, or variable on both sides), and the
/// template's variables that cover a word of the line.
/// (`None` when they differ in an upper-case name: never the same event.)
fn compare(template: &[Token], line: &Line<'_>) -> Option<(usize, usize)> {
    let mut equal = 0;
    let mut params = 0;
    for (i, t) in template.iter().enumerate() {
        match t.agrees(line, i) {
            Some(true) => equal += 1,
            Some(false) => params += 1,
            None if t.names_differ(line, i) => return None,
            None => {}
        }
    }
    Some((equal, params))
}

/// An upper-case name, such as `NEW`, `TASK_ABORT`, `S_OK`, `CBS_E_INVALID_PACKAGE` or `"GET`
/// (wrapping quotes, brackets and trailing punctuation aside): a capital first, at least two in
/// all, and only capitals, digits and `_`. Such words name states, error codes and methods:
/// lines that differ in one are different events, so no template generalises over one. (From the analogues
/// Hadoop `TaskAttempt Transitioned from NEW to UNASSIGNED` / `… from ASSIGNED to RUNNING`,
/// separate events a word apart; Windows CBS `[HRESULT = 0x800f0805 - CBS_E_INVALID_PACKAGE]`;
/// OpenStack `"GET /v2/… HTTP/1.1"` / `"POST …"`.) Words masked as variables are not names.
fn is_name_constant(token: &[u8]) -> bool {
    let start = token.iter().take_while(|c| matches!(c, b'[' | b'(' | b'"' | b'\'')).count();
    let end = token.len()
        - token[start..]
            .iter()
            .rev()
            .take_while(|c| matches!(c, b']' | b')' | b'"' | b'\'' | b',' | b'.' | b';' | b':' | b'!' | b'?'))
            .count();
    let core = &token[start..end];
    core.first().is_some_and(u8::is_ascii_uppercase)
        && core.iter().filter(|c| c.is_ascii_uppercase()).count() >= 2
        && core.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// Byte equality without a call to `memcmp` for the short tokens most lines are made of.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let half = |s: &[u8], at: usize| u32::from_le_bytes([s[at], s[at + 1], s[at + 2], s[at + 3]]);
    match a.len() {
        0 => true,
        // First, middle and last byte cover one to three bytes.
        1..=3 => a[0] == b[0] && a[a.len() / 2] == b[b.len() / 2] && a[a.len() - 1] == b[b.len() - 1],
        // Two overlapping four-byte words cover 4 to 7 bytes.
        4..=7 => half(a, 0) == half(b, 0) && half(a, a.len() - 4) == half(b, b.len() - 4),
        // Two overlapping eight-byte words cover 8 to 16 bytes.
        8..=16 => word(a, 0) == word(b, 0) && word(a, a.len() - 8) == word(b, b.len() - 8),
        _ => a == b,
    }
}

fn join(tokens: &[Token]) -> String {
    let mut text = String::with_capacity(tokens.iter().map(|t| t.text.len() + 1).sum());
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&t.text);
    }
    text
}

/// Whether a token holds a `<*>` (cheaper than a substring search on short tokens).
fn has_wildcard(token: &str) -> bool {
    let b = token.as_bytes();
    b.len() >= 3 && b.windows(3).any(|w| w == b"<*>")
}

/// Whether `token` fits the pattern `template`, where each `<*>` stands for any text.
fn fits<T: AsRef<[u8]> + ?Sized>(template: &T, token: &T) -> bool {
    let (t, mut rest) = (template.as_ref(), token.as_ref());
    let Some(first) = find_wildcard(t, 0) else { return same(t, rest) };
    if rest.len() < first || !same(&rest[..first], &t[..first]) {
        return false;
    }
    rest = &rest[first..];
    let mut pos = first + WILDCARD.len();
    while let Some(next) = find_wildcard(t, pos) {
        let part = &t[pos..next];
        if !part.is_empty() {
            let Some(i) = find(rest, part, 0) else { return false };
            rest = &rest[i + part.len()..];
        }
        pos = next + WILDCARD.len();
    }
    let suffix = &t[pos..];
    rest.len() >= suffix.len() && same(&rest[rest.len() - suffix.len()..], suffix)
}

/// The first `<*>` in `hay` at or after `from` (a byte loop: no call to `memcmp` per place).
fn find_wildcard(hay: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 3 <= hay.len() {
        if hay[i] == b'<' && hay[i + 1] == b'*' && hay[i + 2] == b'>' {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The first place at or after `from` where `needle` (not empty) occurs in `hay`: its first
/// byte, then the rest compared with [`same`].
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (&head, tail) = needle.split_first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        // The next place of the first byte, then the rest there.
        i += hay[i..hay.len() - tail.len()].iter().position(|c| *c == head)?;
        if same(&hay[i + 1..i + needle.len()], tail) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The most specific pattern covering two different tokens: their common prefix up to and
/// including its last punctuation character, `<*>`, their common suffix from its first
/// punctuation character on.
fn generalise(a: &str, b: &str) -> String {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let limit = x.len().min(y.len());
    let common_prefix = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    let mut prefix = (0..=common_prefix).rev().find(|&k| k == 0 || is_punctuation(x[k - 1])).unwrap_or(0);
    // Never keep part of a `<*>`.
    while prefix > 0 && (x[..prefix].ends_with(b"<") || x[..prefix].ends_with(b"<*")) {
        prefix -= 1;
    }
    let common_suffix = x.iter().rev().zip(y.iter().rev()).take_while(|(p, q)| p == q).count();
    let room = limit - prefix;
    let mut suffix =
        (0..=common_suffix.min(room)).rev().find(|&k| k == 0 || is_punctuation(x[x.len() - k])).unwrap_or(0);
    while suffix > 0 && (x[x.len() - suffix..].starts_with(b">") || x[x.len() - suffix..].starts_with(b"*>")) {
        suffix -= 1;
    }
    let mut out = String::with_capacity(prefix + WILDCARD.len() + suffix);
    out.push_str(&a[..prefix]);
    out.push_str(WILDCARD);
    out.push_str(&a[a.len() - suffix..]);
    while out.contains("<*><*>") {
        out = out.replace("<*><*>", WILDCARD);
    }
    out
}

fn is_punctuation(c: u8) -> bool {
    c.is_ascii_punctuation()
}

/// FNV-1a, 64 bits, of `text`, then of `#salt` when given: stable across builds and platforms.
fn fnv1a(text: &[u8], salt: Option<u32>) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = FNV_OFFSET;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    feed(text);
    if let Some(salt) = salt {
        feed(format!("#{salt}").as_bytes());
    }
    hash
}

#[cfg(test)]
mod tests;
