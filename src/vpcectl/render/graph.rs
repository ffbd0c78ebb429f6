//! Pictures of a trace (`vpcectl trace -o dot|mermaid`): the way there and the way back as a
//! chain of the components a packet crosses, left to right, each with what happened there;
//! where the path stops, the blocking component in red with its code. Graphviz renders the
//! `dot` (`| dot -Tsvg > trace.svg`); GitHub and GitLab render the Mermaid in Markdown.

use std::fmt::Write as _;

use dataplane::trace::{Leg, Trace};

/// One picture's nodes and edges, before it is written in either language.
struct Picture {
    title: String,
    /// (node id, label lines, blocked)
    nodes: Vec<(String, Vec<String>, bool)>,
    /// (from, to, label)
    edges: Vec<(String, String, String)>,
}

fn picture(t: &Trace, resolved: Option<&str>) -> Picture {
    let mut p = Picture {
        title: resolved.map_or_else(String::new, str::to_string),
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    leg(&mut p, "f", "there", &t.forward);
    if let Some(r) = &t.reply {
        leg(&mut p, "r", "back", r);
    }
    p
}

fn leg(p: &mut Picture, prefix: &str, name: &str, l: &Leg) {
    let mut prev: Option<String> = None;
    for (i, h) in l.hops.iter().enumerate() {
        let id = format!("{prefix}{i}");
        let blocked = l.blocked.is_some() && i + 1 == l.hops.len();
        p.nodes.push((
            id.clone(),
            vec![
                h.component.replace('_', " "),
                h.id.clone(),
                h.detail.clone(),
            ],
            blocked,
        ));
        if let Some(from) = prev.replace(id.clone()) {
            p.edges.push((from, id, String::new()));
        }
    }
    let end = format!("{prefix}end");
    let (label, blocked) = match (&l.blocked, &l.delivered_to) {
        (Some(b), _) => (
            vec![format!("blocked: {}", b.code), b.explanation.clone()],
            true,
        ),
        (None, Some(to)) => (vec![format!("delivered ({name})"), to.clone()], false),
        (None, None) => (vec![format!("{name}: no further hop")], false),
    };
    p.nodes.push((end.clone(), label, blocked));
    if let Some(from) = prev {
        p.edges.push((from, end, String::new()));
    }
}

/// A DOT string literal's contents.
fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The trace in Graphviz's DOT language.
pub fn trace_dot(t: &Trace, resolved: Option<&str>) -> String {
    let p = picture(t, resolved);
    let mut s = String::from("digraph trace {\n  rankdir=LR;\n");
    s.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f5f5f5\", fontname=\"sans-serif\", fontsize=10];\n");
    if !p.title.is_empty() {
        let _ = writeln!(s, "  label=\"{}\"; labelloc=t;", dot_escape(&p.title));
    }
    for (id, lines, blocked) in &p.nodes {
        let label: Vec<String> = lines.iter().map(|l| dot_escape(l)).collect();
        let style = if *blocked {
            ", color=\"#c00000\", fillcolor=\"#ffe0e0\", penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(s, "  {id} [label=\"{}\"{style}];", label.join("\\n"));
    }
    for (from, to, _) in &p.edges {
        let _ = writeln!(s, "  {from} -> {to};");
    }
    s.push_str("}\n");
    s
}

/// A Mermaid label's contents: quotes and markup characters as entity codes.
fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// The trace as a Mermaid flowchart.
pub fn trace_mermaid(t: &Trace, resolved: Option<&str>) -> String {
    let p = picture(t, resolved);
    let mut s = String::new();
    if !p.title.is_empty() {
        // YAML front matter: a double-quoted scalar, so no double quote or backslash inside.
        let title = p.title.replace(['"', '\\'], "'");
        let _ = writeln!(s, "---\ntitle: \"{title}\"\n---");
    }
    s.push_str("flowchart LR\n");
    for (id, lines, _) in &p.nodes {
        let label: Vec<String> = lines.iter().map(|l| mermaid_escape(l)).collect();
        let _ = writeln!(s, "  {id}[\"{}\"]", label.join("<br/>"));
    }
    for (from, to, _) in &p.edges {
        let _ = writeln!(s, "  {from} --> {to}");
    }
    s.push_str("  classDef blocked fill:#ffe0e0,stroke:#c00000,stroke-width:2px\n");
    let blocked: Vec<&str> = p
        .nodes
        .iter()
        .filter(|n| n.2)
        .map(|n| n.0.as_str())
        .collect();
    if !blocked.is_empty() {
        let _ = writeln!(s, "  class {} blocked", blocked.join(","));
    }
    s
}
