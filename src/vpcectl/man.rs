//! `vpcectl man`: manual pages for every command.

use super::*;

/// Man pages: `vpcectl.1` and `vpcectl-NOUN[-VERB].1` for every command, `vpced.8` (a
/// daemon: section 8), `vpce-appliance.1`.
pub(super) fn cmd_man(out: &mut impl Write, dir: &Path) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure {
        code: 1,
        message: format!("{}: {e}", dir.display()),
        json: None,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut written = Vec::new();
    fn pages(
        cmd: &clap::Command,
        name: String,
        section: &str,
        acc: &mut Vec<(String, clap::Command, String)>,
    ) {
        let page = cmd.clone().name(name.clone()).display_name(name.clone());
        acc.push((name.clone(), page, section.to_string()));
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            pages(sub, format!("{name}-{}", sub.get_name()), section, acc);
        }
    }
    let mut all = Vec::new();
    let mut vpcectl = Cli::command();
    vpcectl.build();
    pages(&vpcectl, "vpcectl".into(), "1", &mut all);
    all.push(("vpced".into(), crate::vpced::command(), "8".into()));
    all.push((
        "vpce-appliance".into(),
        crate::appliance::command(),
        "1".into(),
    ));
    for (name, cmd, section) in all {
        let path = dir.join(format!("{name}.{section}"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd)
            .section(section.clone())
            .render(&mut buf)
            .map_err(fail)?;
        buf.extend_from_slice(extra_sections(&name).as_bytes());
        std::fs::write(&path, buf).map_err(fail)?;
        written.push(path);
    }
    writeln!(out, "{} man pages in {}", written.len(), dir.display())?;
    Ok(())
}

/// A roff section.
fn section(title: &str, body: &[(&str, &str)]) -> String {
    let mut s = format!(".SH \"{title}\"\n");
    for (tag, text) in body {
        s.push_str(&format!(".TP\n{tag}\n{text}\n"));
    }
    s
}

/// EXIT STATUS, ENVIRONMENT, FILES and EXAMPLES, which clap does not know: the same for every
/// vpcectl page (with the command's own examples), and vpced's.
fn extra_sections(page: &str) -> String {
    match page {
        "vpced" => [
            section(
                "EXIT STATUS",
                &[
                    (
                        "0",
                        "stopped on SIGTERM or SIGINT, its devices and namespaces removed",
                    ),
                    (
                        "1",
                        "a failure at run time (a device, the control socket), logged",
                    ),
                    (
                        "2",
                        "bad input: the configuration or an option (named on stderr)",
                    ),
                ],
            ),
            section("ENVIRONMENT", &[("VPCED_LOG", "the log filter, as --log")]),
            section(
                "FILES",
                &[
                    (
                        "/etc/vpce/vpce.toml",
                        "the configuration the systemd unit runs",
                    ),
                    (
                        "/run/vpced.sock",
                        "the control socket vpcectl talks to (root only)",
                    ),
                    (
                        "/var/lib/vpced",
                        "the state directory: endpoint-connection decisions, target health",
                    ),
                    (
                        "/run/netns",
                        "the network namespaces vpced makes (as ip-netns(8) does)",
                    ),
                ],
            ),
            section(
                "EXAMPLES",
                &[
                    (
                        "vpced --config /etc/vpce/vpce.toml --netns vpce-fabric",
                        "run in a namespace of its own",
                    ),
                    (
                        "vpcectl apply /etc/vpce/vpce.toml",
                        "apply a changed configuration to the running daemon",
                    ),
                ],
            ),
        ]
        .concat(),
        "vpce-appliance" => section(
            "EXIT STATUS",
            &[
                ("0", "never: it runs until killed"),
                ("1", "it cannot listen"),
            ],
        ),
        _ if page.starts_with("vpcectl") => {
            let mut s = section("EXIT STATUS", &[
                ("0", "success (trace: the destination is reachable)"),
                ("1", "a failure: vpced unreachable, a file not writable"),
                ("2", "bad input: a file, an id, an option (named on stderr)"),
                ("3", "trace: the path is blocked (the blocking component and a code are printed)"),
            ]);
            s += &section(
                "ENVIRONMENT",
                &[("VPCE_SOCKET", "vpced's control socket, as --socket")],
            );
            s += &section(
                "FILES",
                &[("/run/vpced.sock", "vpced's control socket (the default)")],
            );
            let examples: &[(&str, &str)] = match page {
                "vpcectl-trace" => &[
                    ("vpcectl trace vpce.toml --from i-0a00000000000000a --to vpce-0a000000000000001 --port 80", "why a packet does or does not get through, hop by hop"),
                    ("vpcectl trace vpce.toml --all-pairs", "every instance to every endpoint, as a matrix"),
                ],
                "vpcectl-show" => &[
                    ("vpcectl show endpoints vpce.toml", "the endpoints, their state and DNS names"),
                    ("vpcectl show route-table vpce.toml --id rtb-0a000000000000001 -o json", "one route table's compiled routes, as JSON"),
                ],
                _ => &[
                    ("vpcectl validate vpce.toml", "check a configuration (exit 2 names what is wrong, and where)"),
                    ("vpcectl trace vpce.toml --from i-0a00000000000000a --to 52.216.39.26", "explain a path"),
                    ("vpcectl stats -o json", "the running vpced's counters, as JSON"),
                ],
            };
            s += &section("EXAMPLES", examples);
            s
        }
        _ => String::new(),
    }
}
