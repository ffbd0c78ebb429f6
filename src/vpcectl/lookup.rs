//! `vpcectl lookup`: the route an address takes in a route table.

use super::*;

pub(super) fn cmd_lookup(
    out: &mut impl Write,
    file: &Path,
    compiled: &Compiled,
    route_table: Option<String>,
    subnet: Option<String>,
    address: IpAddr,
    output: Output,
) -> Result<(), Failure> {
    let snap = &compiled.snapshot;
    let table = match (&route_table, &subnet) {
        // A VPC's route table, or a transit gateway's.
        (Some(id), _) => snap
            .route_table(id)
            .or_else(|| snap.transit.table(id))
            .ok_or_else(|| {
                let ids: Vec<&str> = snap
                    .route_tables
                    .iter()
                    .chain(&snap.transit.tables)
                    .map(|t| t.id.as_str())
                    .collect();
                Failure::bad_input(format!(
                    "{}: no route table `{id}`; known: {}",
                    file.display(),
                    if ids.is_empty() {
                        "none".to_string()
                    } else {
                        ids.join(", ")
                    }
                ))
            })?,
        (None, Some(s)) => snap.subnet_route_table(s).ok_or_else(|| {
            Failure::bad_input(format!(
                "{}: no subnet `{s}` with a route table",
                file.display()
            ))
        })?,
        (None, None) => return Err(Failure::bad_input("give --route-table or --subnet")),
    };
    let ex = table.explain(&snap.config, address);
    render::lookup(out, table, &ex, output)
}
