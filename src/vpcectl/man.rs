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
        std::fs::write(&path, buf).map_err(fail)?;
        written.push(path);
    }
    writeln!(out, "{} man pages in {}", written.len(), dir.display())?;
    Ok(())
}
