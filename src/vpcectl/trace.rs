//! `vpcectl trace`: why a packet does or does not get through, from a file or the daemon.

use super::*;

pub(super) fn cmd_trace(out: &mut impl Write, args: TraceArgs) -> Result<(), Failure> {
    use dataplane::trace::{self, Protocol};
    let protocol = match args.protocol {
        TraceProtocol::Tcp => Protocol::Tcp,
        TraceProtocol::Udp => Protocol::Udp,
        TraceProtocol::Icmp => Protocol::Icmp,
    };
    let output = match args.output {
        PictureOutput::Json => Output::Json,
        _ => Output::Table,
    };
    let picture = matches!(args.output, PictureOutput::Dot | PictureOutput::Mermaid);
    if picture && args.all_pairs {
        return Err(Failure::bad_input(
            "--all-pairs prints a matrix: -o table or -o json",
        ));
    }
    let show = |out: &mut dyn Write, t: &dataplane::trace::Trace, resolved: Option<&str>| match args
        .output
    {
        PictureOutput::Dot => out.write_all(render::trace_dot(t, resolved).as_bytes()),
        PictureOutput::Mermaid => out.write_all(render::trace_mermaid(t, resolved).as_bytes()),
        _ => Ok(()),
    };
    let not_reachable = || Failure {
        code: 3,
        message: String::new(),
        json: None,
    };
    if args.daemon {
        let req = if args.all_pairs {
            Request::TraceAllPairs
        } else {
            Request::Trace {
                from: args.from.clone().unwrap_or_default(),
                to: args.to.clone().unwrap_or_default(),
                protocol,
                port: args.port,
                fragmented: args.fragmented,
            }
        };
        let r = daemon_call(&args.socket, &req)?;
        return match r {
            Response::Trace { resolved, trace } => {
                if picture {
                    show(out, &trace, resolved.as_deref())?;
                } else {
                    render::trace(out, &trace, resolved.as_deref(), output)?;
                }
                if trace.reachable {
                    Ok(())
                } else {
                    Err(not_reachable())
                }
            }
            Response::TraceAllPairs { pairs } => render::all_pairs(out, &pairs, output),
            Response::Rejected { error, .. } => Err(Failure::bad_input(error)),
            other => Err(Failure {
                code: 1,
                message: format!("unexpected answer from vpced: {other:?}"),
                json: None,
            }),
        };
    }
    let file = args.file.expect("clap requires FILE without --daemon");
    let compiled = load_and_compile(&file)?;
    let mut f = dataplane::fabric::Fabric::build(
        compiled.snapshot,
        std::sync::Arc::new(dataplane::stats::Registry::default()),
    )
    .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    let unknown = f.set_zones_down(&args.zone_down);
    if let Some(z) = unknown.first() {
        return Err(Failure::bad_input(format!(
            "--zone-down {z}: not one of {}'s availability_zones ({})",
            file.display(),
            f.zones.join(", ")
        )));
    }
    f.down_zones_fail_health_checks();
    if args.all_pairs {
        return render::all_pairs(out, &trace::all_pairs(&f), output);
    }
    let (mut q, resolved) = trace::resolve(
        &f,
        args.from.as_deref().unwrap_or_default(),
        args.to.as_deref().unwrap_or_default(),
        protocol,
        args.port,
    )
    .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    q.fragmented = args.fragmented;
    let mut t = trace::trace(&f, &q);
    if let (Some(action), Some(resource)) = (&args.action, &args.resource) {
        let ask = control::policy::access::Ask {
            principal: &args.principal,
            action,
            resource,
            source_ip: Some(q.src),
            org_id: None,
        };
        trace::authorize(&f, &mut t, &ask)
            .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    }
    if picture {
        show(out, &t, resolved.as_deref())?;
    } else {
        render::trace(out, &t, resolved.as_deref(), output)?;
    }
    if t.reachable {
        Ok(())
    } else {
        Err(not_reachable())
    }
}
