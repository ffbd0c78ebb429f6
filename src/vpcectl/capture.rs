//! `vpcectl capture`: a packet capture streamed from vpced, record by record.

use super::*;

/// Streams a capture from the daemon into a file or standard output, record by record (so that
/// an interrupted capture leaves whole records), counting them on standard error.
pub(super) fn cmd_capture(out: &mut impl Write, args: CaptureArgs) -> Result<(), Failure> {
    use dataplane::io::capture::Point;
    use std::io::{IsTerminal, Read};
    let to_stdout = match &args.write {
        None if std::io::stdout().is_terminal() => {
            return Err(Failure::bad_input(
                "pcap is binary: give -w FILE.pcap, or -w - and pipe it (`| tshark -r -`)",
            ))
        }
        None => true,
        Some(p) => p.as_os_str() == "-",
    };
    let mut file = match (&args.write, to_stdout) {
        (Some(p), false) => Some(std::fs::File::create(p).map_err(|e| Failure {
            code: 1,
            message: format!("{}: {e}", p.display()),
            json: None,
        })?),
        _ => None,
    };
    let points = args
        .point
        .iter()
        .map(|p| match p {
            CapturePoint::In => Point::In,
            CapturePoint::Rewritten => Point::Rewritten,
            CapturePoint::Out => Point::Out,
        })
        .collect();
    let req = Request::Capture {
        attachment: args.attachment.clone(),
        points,
        count: args.count,
    };
    let fail = |message: String| Failure {
        code: 1,
        message,
        json: None,
    };
    let (mut stream, _) =
        match protocol::capture(&args.socket.socket, &req).map_err(|e| fail(e.to_string()))? {
            Ok(s) => s,
            Err(Response::Rejected { error, .. }) if error.starts_with("no attachment") => {
                return Err(Failure::bad_input(error))
            }
            Err(Response::Rejected { error, .. }) => return Err(fail(error)),
            Err(other) => return Err(fail(format!("unexpected answer: {other:?}"))),
        };
    let point_names: Vec<String> = args
        .point
        .iter()
        .map(|p| format!("{p:?}").to_lowercase())
        .collect();
    let json = args.out.output == Output::Json;
    if !json {
        eprintln!(
            "vpcectl: capturing {} ({}); Ctrl-C to stop",
            args.attachment,
            point_names.join(", ")
        );
    }
    let mut sink = |bytes: &[u8]| -> Result<(), Failure> {
        match file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => out.write_all(bytes).and_then(|_| out.flush()),
        }
        .map_err(|e| fail(format!("writing the capture: {e}")))
    };
    let io = |e: std::io::Error| fail(format!("reading the capture: {e}"));
    let mut header = [0u8; 24];
    stream.read_exact(&mut header).map_err(io)?;
    sink(&header)?;
    let mut packets = 0u64;
    let mut record = vec![0u8; 16 + 65_536];
    loop {
        match stream.read_exact(&mut record[..16]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io(e)),
        }
        let incl = u32::from_le_bytes(record[8..12].try_into().expect("4")) as usize;
        if incl > record.len() - 16 {
            return Err(fail(format!("a record of {incl} bytes: not pcap")));
        }
        stream.read_exact(&mut record[16..16 + incl]).map_err(io)?;
        sink(&record[..16 + incl])?;
        packets += 1;
    }
    if !json {
        eprintln!("vpcectl: {packets} packets captured");
        return Ok(());
    }
    let doc = serde_json::json!({
        "attachment": args.attachment,
        "points": point_names,
        "packets": packets,
        "file": if to_stdout { None } else { args.write.as_ref() },
    });
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    if to_stdout {
        eprintln!("{text}");
    } else {
        writeln!(out, "{text}")?;
    }
    Ok(())
}
