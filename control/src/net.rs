//! CIDR types as the configuration writes them.
//!
//! AWS rejects a CIDR whose host bits are set (`10.0.0.1/16`), and so do we, at parse time, so
//! the error carries the line and column of the offending string and suggests the network the
//! user probably meant. After parsing, a `Cidr4`/`Cidr6`/`Cidr` is always canonical, which lets
//! every later stage compare and hash them without truncating.

use std::fmt;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// Parses `s` as a canonical CIDR of family `N`.
fn parse_canonical<N>(s: &str, family: &str, example: &str) -> Result<N, String>
where
    N: FromStr + Copy + PartialEq + fmt::Display,
    N: Canonical,
{
    let net: N = s.trim().parse().map_err(|_| {
        format!(
            "`{s}` is not an {family} CIDR; write an address and a prefix length, like {example}"
        )
    })?;
    let canon = net.canonical();
    if canon != net {
        return Err(format!(
            "`{s}` has host bits set; the network is {canon} (AWS rejects the former)"
        ));
    }
    Ok(net)
}

/// Truncation to the network address.
pub trait Canonical {
    fn canonical(&self) -> Self;
}
impl Canonical for Ipv4Net {
    fn canonical(&self) -> Self {
        self.trunc()
    }
}
impl Canonical for Ipv6Net {
    fn canonical(&self) -> Self {
        self.trunc()
    }
}
impl Canonical for IpNet {
    fn canonical(&self) -> Self {
        self.trunc()
    }
}

macro_rules! cidr_type {
    ($name:ident, $inner:ty, $family:literal, $example:literal) => {
        #[doc = concat!("A canonical ", $family, " CIDR such as `", $example, "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $inner);

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                parse_canonical::<$inner>(s, $family, $example).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str(concat!(
                            "an ",
                            $family,
                            " CIDR string like \"",
                            $example,
                            "\""
                        ))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

cidr_type!(Cidr4, Ipv4Net, "IPv4", "10.0.0.0/16");
cidr_type!(Cidr6, Ipv6Net, "IPv6", "2001:db8::/56");
cidr_type!(Cidr, IpNet, "IPv4 or IPv6", "52.216.0.0/15");

impl Cidr {
    pub fn is_ipv4(&self) -> bool {
        matches!(self.0, IpNet::V4(_))
    }
}

impl From<Cidr4> for Cidr {
    fn from(c: Cidr4) -> Cidr {
        Cidr(IpNet::V4(c.0))
    }
}

impl From<Cidr6> for Cidr {
    fn from(c: Cidr6) -> Cidr {
        Cidr(IpNet::V6(c.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_cidrs_parse_and_print_back() {
        for s in ["10.0.0.0/16", "0.0.0.0/0", "52.216.0.0/15", "10.0.1.125/32"] {
            assert_eq!(s.parse::<Cidr4>().unwrap().to_string(), s);
        }
        assert_eq!(
            "2001:db8::/56".parse::<Cidr>().unwrap().to_string(),
            "2001:db8::/56"
        );
    }

    #[test]
    fn host_bits_are_rejected_with_the_network_suggested() {
        let err = "10.0.0.1/16".parse::<Cidr4>().unwrap_err();
        assert!(err.contains("10.0.0.0/16"), "{err}");
    }

    #[test]
    fn malformed_cidrs_say_what_is_expected() {
        for s in ["10.0.0.0", "10.0.0.0/33", "banana", "", "::/0"] {
            let err = s.parse::<Cidr4>().unwrap_err();
            assert!(err.contains("IPv4 CIDR"), "{s}: {err}");
        }
    }
}
