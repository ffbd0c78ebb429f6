//! `vpcectl region`: a region's configuration applied through etcd, its nodes shown, a zone
//! taken down and brought back (`daemon::region` holds the store's layout).

use std::time::Duration;

use daemon::region::etcd::{Endpoint, Etcd};
use daemon::region::{NodeView, Region, RegionError, Rollout};

use super::*;

pub(super) fn cmd_region(out: &mut impl Write, args: RegionArgs) -> Result<(), Failure> {
    let endpoint: Endpoint = args
        .etcd
        .parse()
        .map_err(|e: String| Failure::bad_input(format!("--etcd {e}")))?;
    let region = Region::new(Etcd::new(endpoint));
    match args.command {
        RegionCommand::Apply {
            file,
            timeout,
            out: o,
        } => apply(out, &region, &file, timeout, o.output),
        RegionCommand::Status { out: o } => status(out, &region, o.output),
        RegionCommand::FailZone { zone, out: o } => mark(out, &region, &zone, true, o.output),
        RegionCommand::RestoreZone { zone, out: o } => mark(out, &region, &zone, false, o.output),
        RegionCommand::Stats { out: o } => stats(out, &region, o.output),
        RegionCommand::Trace {
            from,
            to,
            protocol,
            port,
            output,
        } => {
            let socket = node_of_source(&region, &from)?;
            let args = TraceArgs {
                file: None,
                from: Some(from),
                to: Some(to),
                protocol,
                port,
                all_pairs: false,
                fragmented: false,
                daemon: true,
                action: None,
                resource: None,
                principal: "anonymous".into(),
                socket,
                output,
                zone_down: Vec::new(),
            };
            cmd_trace(out, args)
        }
        RegionCommand::EndpointConnections(c) => {
            let (endpoint, accept, o) = match c {
                RegionConnectionsCommand::Accept { endpoint, out } => (endpoint, true, out),
                RegionConnectionsCommand::Reject { endpoint, out } => (endpoint, false, out),
            };
            decide(out, &region, &endpoint, accept, o.output)
        }
    }
}

/// The control socket of the live node serving the zone of `from` (an instance, by id or
/// name, or a network interface of the region's configuration).
fn node_of_source(region: &Region, from: &str) -> Result<PathBuf, Failure> {
    let loaded = region_config(region)?;
    let config = &loaded.config;
    let subnet = config
        .instances
        .iter()
        .find(|i| i.id == from || i.name.as_deref() == Some(from))
        .map(|i| &i.subnet)
        .or_else(|| {
            config
                .network_interfaces
                .iter()
                .find(|n| n.id == from)
                .map(|n| &n.subnet)
        })
        .ok_or_else(|| {
            Failure::bad_input(format!(
                "--from {from}: no instance or network interface of that id or name in the region's configuration"
            ))
        })?;
    let zone = config
        .subnets
        .iter()
        .find(|s| &s.id == subnet)
        .map(|s| s.availability_zone.clone())
        .unwrap_or_default();
    let nodes = region.nodes().map_err(store_failure)?;
    let node = nodes
        .iter()
        .find(|n| n.record.zone == zone)
        .ok_or_else(|| Failure {
            code: 1,
            message: format!("no live node serves {zone}, the zone of {from}"),
            json: None,
        })?;
    node.record.control_socket.clone().ok_or_else(|| Failure {
        code: 1,
        message: format!("the node of {zone} did not report its control socket"),
        json: None,
    })
}

/// Every live node's counters, by zone.
fn stats(out: &mut impl Write, region: &Region, output: Output) -> Result<(), Failure> {
    let nodes = region.nodes().map_err(store_failure)?;
    let mut all = serde_json::Map::new();
    for n in &nodes {
        let Some(socket) = &n.record.control_socket else {
            continue;
        };
        let r = daemon_call(socket, &Request::Stats)?;
        if output == Output::Json {
            all.insert(
                n.record.zone.clone(),
                serde_json::to_value(&r).unwrap_or_default(),
            );
        } else {
            writeln!(out, "== {} (pid {})", n.record.zone, n.record.pid)?;
            render::daemon_response(out, &r, Output::Table)?;
        }
    }
    if output == Output::Json {
        print_json(out, &all)?;
    } else if nodes.is_empty() {
        writeln!(out, "no live nodes")?;
    }
    Ok(())
}

/// Records the provider's decision on `endpoint`'s connection, resolved against the region's
/// configuration, and waits for the nodes to run with it.
fn decide(
    out: &mut impl Write,
    region: &Region,
    endpoint: &str,
    accept: bool,
    output: Output,
) -> Result<(), Failure> {
    let loaded = region_config(region)?;
    let d = daemon::state_dir::decision_for(&loaded.config, endpoint, accept).map_err(|e| {
        Failure::bad_input(e.replace("the running configuration", "the region's configuration"))
    })?;
    region.decide(&d).map_err(store_failure)?;
    let behind = region
        .wait_for_decision(&d, Duration::from_secs(10))
        .map_err(store_failure)?;
    if output == Output::Json {
        let doc = json!({ "decision": d, "behind": behind });
        print_json(out, &doc)?;
    } else {
        writeln!(
            out,
            "{} → {}: {} in the region",
            d.endpoint, d.service, d.state
        )?;
    }
    if behind.is_empty() {
        return Ok(());
    }
    Err(Failure {
        code: 3,
        message: format!(
            "nodes not running with it after 10 s: {}",
            behind.join(", ")
        ),
        json: None,
    })
}

/// One JSON document on `out`.
fn print_json(out: &mut impl Write, doc: &impl serde::Serialize) -> std::io::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(doc).unwrap_or_default()
    )
}

/// The region's configuration, parsed.
fn region_config(region: &Region) -> Result<control::LoadedConfig, Failure> {
    let Some((c, _)) = region.config().map_err(store_failure)? else {
        return Err(Failure::bad_input(
            "the region has no configuration yet: vpcectl region apply FILE first",
        ));
    };
    control::load_str(&c.file, c.text, &c.base_dir).map_err(config_failure)
}

fn store_failure(e: RegionError) -> Failure {
    let code = match e {
        RegionError::TooLarge { .. } => 2,
        _ => 1,
    };
    Failure {
        code,
        message: e.to_string(),
        json: None,
    }
}

fn apply(
    out: &mut impl Write,
    region: &Region,
    file: &Path,
    timeout: f64,
    output: Output,
) -> Result<(), Failure> {
    let timeout = Duration::try_from_secs_f64(timeout).map_err(|_| {
        Failure::bad_input(format!(
            "--timeout {timeout}: give a number of seconds, 0 or more"
        ))
    })?;
    let path = std::path::absolute(file)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    // Validated and compiled here: nothing invalid reaches the store.
    let compiled = load_and_compile(&path)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let generation = region
        .publish(path.clone(), base_dir, text)
        .map_err(store_failure)?;
    let rollout = region
        .wait_for(generation, timeout)
        .map_err(store_failure)?;
    let doc = json!({
        "file": path,
        "generation": generation,
        "complete": rollout.complete(),
        "rollout": rollout,
    });
    if output == Output::Json {
        print_json(out, &doc)?;
    } else {
        for w in &compiled.warnings {
            eprintln!("{w}");
        }
        write_rollout(out, file, &rollout)?;
    }
    if rollout.complete() {
        Ok(())
    } else {
        Err(Failure {
            code: 3,
            message: format!(
                "partial apply: generation {generation} is in the region, but {} of {} live nodes do not run it",
                rollout.behind.len(),
                rollout.behind.len() + rollout.running.len()
            ),
            json: None,
        })
    }
}

fn write_rollout(out: &mut impl Write, file: &Path, r: &Rollout) -> Result<(), Failure> {
    writeln!(
        out,
        "applied {} to the region: generation {} runs on {} node{} ({}) after {:.0} ms",
        file.display(),
        r.generation,
        r.running.len(),
        if r.running.len() == 1 { "" } else { "s" },
        if r.running.is_empty() {
            "none live".to_string()
        } else {
            r.running.join(", ")
        },
        r.waited * 1000.0
    )?;
    for n in &r.behind {
        let why = match &n.error {
            Some(e) if e.generation == r.generation => {
                format!("does not build there: {}", e.message)
            }
            _ => "did not report it in time".into(),
        };
        writeln!(
            out,
            "  {} (pid {}) still runs generation {}: {why}",
            n.zone, n.pid, n.generation
        )?;
    }
    Ok(())
}

fn status(out: &mut impl Write, region: &Region, output: Output) -> Result<(), Failure> {
    let config = region.config().map_err(store_failure)?;
    let nodes = region.nodes().map_err(store_failure)?;
    let down = region.zones_down().map_err(store_failure)?;
    let generation = config.as_ref().map(|(c, _)| c.generation);
    if output == Output::Json {
        let doc = json!({
            "etcd": region.etcd().endpoint().to_string(),
            "generation": generation,
            "file": config.as_ref().map(|(c, _)| c.file.clone()),
            "zones_down": down,
            "nodes": nodes,
        });
        print_json(out, &doc)?;
        return Ok(());
    }
    match &config {
        Some((c, _)) => writeln!(
            out,
            "region at {}: generation {} ({})",
            region.etcd().endpoint(),
            c.generation,
            c.file.display()
        )?,
        None => writeln!(
            out,
            "region at {}: no configuration applied yet",
            region.etcd().endpoint()
        )?,
    }
    if !down.is_empty() {
        writeln!(out, "zones down: {}", down.join(", "))?;
    }
    write_nodes(out, &nodes, generation)
}

fn write_nodes(
    out: &mut impl Write,
    nodes: &[NodeView],
    generation: Option<u64>,
) -> Result<(), Failure> {
    if nodes.is_empty() {
        writeln!(out, "no live nodes")?;
        return Ok(());
    }
    let mut t = render::table(&["ZONE", "PID", "GENERATION", "LEASE", "STATE"]);
    for n in nodes {
        let r = &n.record;
        let state = match (&r.error, r.zone_down) {
            (Some(e), _) => format!("generation {} does not build: {}", e.generation, e.message),
            (None, true) => "zone down".into(),
            (None, false) if Some(r.generation) == generation => "running".into(),
            (None, false) => "behind".into(),
        };
        let lease = match n.lease_left {
            Some(s) => format!("{s}/{} s", r.lease_ttl),
            None => "lapsed".into(),
        };
        t.add_row([
            r.zone.clone(),
            r.pid.to_string(),
            r.generation.to_string(),
            lease,
            state,
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

fn mark(
    out: &mut impl Write,
    region: &Region,
    zone: &str,
    down: bool,
    output: Output,
) -> Result<(), Failure> {
    let changed = region.set_zone_down(zone, down).map_err(store_failure)?;
    let known = region
        .nodes()
        .map_err(store_failure)?
        .iter()
        .any(|n| n.record.zone == zone);
    if output == Output::Json {
        let doc = json!({ "zone": zone, "down": down, "changed": changed, "live_node": known });
        print_json(out, &doc)?;
        return Ok(());
    }
    let what = if down { "down" } else { "up" };
    let change = if changed { "now" } else { "already" };
    writeln!(out, "zone {zone} is {change} {what}")?;
    if !known {
        eprintln!("vpcectl: warning: no live node serves {zone}");
    }
    Ok(())
}
