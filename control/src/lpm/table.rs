//! Prefix tables in text: what `vpcectl bench lpm` and the benchmarks load.
//!
//! One prefix per line (`193.0.0.0/21`), optionally followed by whitespace and a next hop
//! (`2600:2004::/32 2001:7f8:4::1a0b:1`, the LINX format); `#` starts a comment, blank lines
//! are skipped. A line that is not a prefix is an error naming its line number. Host bits are
//! cleared (BGP dumps are canonical, hand-written tables may not be).

use std::collections::HashMap;

use ipnet::IpNet;

/// A table line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TableError {
    pub line: usize,
    pub message: String,
}

/// A parsed table: prefixes with next-hop ids, deduplicated (the first occurrence wins).
#[derive(Debug, Clone, Default)]
pub struct PrefixTable {
    pub v4: Vec<(ipnet::Ipv4Net, u32)>,
    pub v6: Vec<(ipnet::Ipv6Net, u32)>,
    /// Distinct next hops named in the file (empty when the file has none).
    pub next_hops: Vec<String>,
    /// Lines that repeated an earlier prefix.
    pub duplicates: usize,
}

/// Parses `text`. When lines carry no next hop, each prefix gets `hash(prefix) % k` (the
/// synthetic next hops the RIS data set's README suggests; `k` between 1 and 65,535).
pub fn parse(text: &str, k: u32) -> Result<PrefixTable, TableError> {
    let k = k.clamp(1, 65_535);
    let mut t = PrefixTable::default();
    let mut hop_ids: HashMap<String, u32> = HashMap::new();
    let mut seen4 = std::collections::HashSet::new();
    let mut seen6 = std::collections::HashSet::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let prefix = parts.next().unwrap_or("");
        let net: IpNet = prefix.parse().map_err(|_| TableError {
            line: n + 1,
            message: format!("`{prefix}` is not a prefix (expected a.b.c.d/len or x:y::/len)"),
        })?;
        let net = net.trunc();
        let hop = match parts.next() {
            Some(h) => {
                let next = hop_ids.len() as u32;
                let id = *hop_ids.entry(h.to_string()).or_insert(next);
                if id == next {
                    t.next_hops.push(h.to_string());
                }
                if id >= 65_535 {
                    return Err(TableError {
                        line: n + 1,
                        message: "more than 65,535 distinct next hops".into(),
                    });
                }
                id
            }
            None => synthetic(&net, k),
        };
        if parts.next().is_some() {
            return Err(TableError {
                line: n + 1,
                message: format!("`{line}` has more than a prefix and a next hop"),
            });
        }
        let fresh = match net {
            IpNet::V4(n4) => {
                seen4.insert(n4) && {
                    t.v4.push((n4, hop));
                    true
                }
            }
            IpNet::V6(n6) => {
                seen6.insert(n6) && {
                    t.v6.push((n6, hop));
                    true
                }
            }
        };
        if !fresh {
            t.duplicates += 1;
        }
    }
    Ok(t)
}

/// A deterministic next hop in `0..k` for a prefix.
pub fn synthetic(net: &IpNet, k: u32) -> u32 {
    let (hi, len) = match net {
        IpNet::V4(n) => (u64::from(u32::from(n.network())), n.prefix_len()),
        IpNet::V6(n) => (
            (u128::from(n.network()) >> 64) as u64 ^ u128::from(n.network()) as u64,
            n.prefix_len(),
        ),
    };
    let h = (hi ^ u64::from(len)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 32) % u64::from(k)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_comments_and_duplicates() {
        let t = parse("# RIS\n193.0.0.0/21\n193.0.0.0/21\n\n2600:2004::/32 2001:7f8:4::1a0b:1\n2a00::/12 2001:7f8:4::1a0b:1\n10.0.0.1/8\n", 256).unwrap();
        assert_eq!(t.v4.len(), 2);
        assert_eq!(t.v4[1].0.to_string(), "10.0.0.0/8", "host bits cleared");
        assert_eq!(t.v6.len(), 2);
        assert_eq!(t.next_hops.len(), 1);
        assert_eq!(t.v6[0].1, t.v6[1].1);
        assert_eq!(t.duplicates, 1);
        assert!(t.v4.iter().all(|(_, h)| *h < 256));
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = parse("10.0.0.0/8\n10.0.0.0/33\n", 4).unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("10.0.0.0/8 a b\n", 4).unwrap_err();
        assert_eq!(e.line, 1);
    }
}
