//! Reading the files a configuration names, bounded: the configuration itself and the
//! `ip-ranges.json` files its prefix lists are filled from. A leaf: `load` and `ip_ranges` both
//! read through it.

use std::path::Path;

/// The largest configuration file read (the largest real deployment is a few MiB; this bounds
/// what a mistaken path, `/dev/zero` say, can make vpced or vpcectl hold).
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// Why [`read_bounded`] failed.
#[derive(Debug)]
pub enum Bounded {
    Io(std::io::Error),
    TooLarge,
}

/// Reads at most `limit` bytes of `path`; a longer file (or an endless one) is `TooLarge`.
/// Only a regular file is read: a FIFO with no writer, a device or a socket would block the
/// reader (vpced's control plane, once: issue 19) or never end, so it is opened without
/// blocking and refused after a look at what it is.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, Bounded> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(Bounded::Io)?;
    let meta = f.metadata().map_err(Bounded::Io)?;
    if !meta.is_file() {
        return Err(Bounded::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device, socket or directory); configurations are read from regular files only",
        )));
    }
    if meta.len() > limit {
        return Err(Bounded::TooLarge);
    }
    let mut bytes = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Bounded::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Bounded::TooLarge);
    }
    Ok(bytes)
}
