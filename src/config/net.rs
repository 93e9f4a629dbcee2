//! Network values in the config: IP networks (`exempt_ips`, `own_relays`, `sign_networks`),
//! the SPF resolver (`spf.dns`) and the milter's socket (`milter.listen`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// An IP network: an address and a prefix length, host bits zero. A bare address is a /32 or
/// /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside this network. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
    /// matches the IPv4 network, as dual-stack sockets report IPv4 peers that way.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask(u32::from(ip).into(), self.prefix, 32) == u32::from(net).into(),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask(u128::from(ip), self.prefix, 128) == u128::from(net),
            _ => false,
        }
    }
}

/// `bits` with everything after the first `prefix` of `width` bits cleared.
fn mask(bits: u128, prefix: u8, width: u8) -> u128 {
    let host_bits = u32::from(width.saturating_sub(prefix));
    bits.checked_shr(host_bits).and_then(|b| b.checked_shl(host_bits)).unwrap_or(0)
}

/// Why a string is not a [`Cidr`]; the message is the "what to do" part of a config problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(pub String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| {
            CidrError(
                "write an IP address or network, e.g. \"192.0.2.1\", \"192.0.2.0/24\" or \"2001:db8::/32\"".into(),
            )
        })?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= width => p,
                _ => return Err(CidrError(format!("the prefix length after `/` must be 0–{width}"))),
            },
        };
        let bits = match addr {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let network = mask(bits, prefix, width);
        if network != bits {
            let network = match addr {
                // `network` came from a u32, so it fits.
                IpAddr::V4(_) => IpAddr::from(u32::try_from(network).unwrap_or(0).to_be_bytes()),
                IpAddr::V6(_) => IpAddr::from(network.to_be_bytes()),
            };
            return Err(CidrError(format!("host bits are set; the network is \"{network}/{prefix}\"")));
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `spf.dns`: which DNS resolver SPF lookups use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dns {
    /// `"system"`: the resolvers in /etc/resolv.conf.
    #[default]
    System,
    /// `"IP:PORT"`: this one server (e.g. a local unbound).
    Server(SocketAddr),
}

impl FromStr for Dns {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "system" {
            return Ok(Dns::System);
        }
        s.parse().map(Dns::Server)
    }
}

/// `milter.listen`: a socket in Postfix's milter notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// `inet:IP:PORT` (`inet:[::1]:PORT` for IPv6): a TCP socket.
    Inet(SocketAddr),
    /// `unix:/PATH`: a Unix socket (Postfix's smtpd in a chroot needs it inside the chroot).
    Unix(PathBuf),
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            return match path.starts_with('/') {
                true => Ok(Listen::Unix(PathBuf::from(path))),
                false => Err("the Unix socket needs a full path".to_owned()),
            };
        }
        let Some(addr) = s.strip_prefix("inet:").or_else(|| s.strip_prefix("inet6:")) else {
            return Err("start with inet: or unix:".to_owned());
        };
        addr.parse().map(Listen::Inet).map_err(|_| "inet: takes an IP address and a port, no host name".to_owned())
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Inet(addr) => write!(f, "inet:{addr}"),
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn networks_contain_their_addresses() {
        let net: Cidr = "192.0.2.0/24".parse().expect("valid");
        assert!(net.contains(ip("192.0.2.77")));
        assert!(net.contains(ip("::ffff:192.0.2.1")));
        assert!(!net.contains(ip("192.0.3.1")));
        assert!(!net.contains(ip("2001:db8::1")));
        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains(ip("203.0.113.9")));
        let v6: Cidr = "2001:db8::/32".parse().expect("valid");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let host: Cidr = "2001:db8::1".parse().expect("valid");
        assert_eq!(host.prefix(), 128);
        assert!(host.contains(ip("2001:db8::1")) && !host.contains(ip("2001:db8::2")));
    }

    #[test]
    fn bad_networks_say_why() {
        let err = |s: &str| s.parse::<Cidr>().expect_err(s).0;
        assert!(err("10.0.0.1/8").contains("\"10.0.0.0/8\""), "{}", err("10.0.0.1/8"));
        assert!(err("10.0.0.0/33").contains("0–32"));
        assert!(err("example.com").contains("IP address"));
        assert!(err("10.0.0.0/").contains("prefix"));
    }

    #[test]
    fn listen_takes_postfix_notation() {
        let inet = "inet:127.0.0.1:8891".parse::<Listen>().expect("inet");
        assert_eq!(inet, Listen::Inet(SocketAddr::from(([127, 0, 0, 1], 8891))));
        assert_eq!(inet.to_string(), "inet:127.0.0.1:8891");
        assert!(matches!("inet:[::1]:8891".parse(), Ok(Listen::Inet(a)) if a.ip().is_loopback()));
        assert_eq!("unix:/run/m.sock".parse(), Ok(Listen::Unix(PathBuf::from("/run/m.sock"))));
        assert!("unix:m.sock".parse::<Listen>().is_err());
        assert!("inet:localhost:8891".parse::<Listen>().is_err());
        assert!("127.0.0.1:8891".parse::<Listen>().is_err());
    }

    #[test]
    fn dns_is_system_or_a_socket_address() {
        assert_eq!("system".parse(), Ok(Dns::System));
        assert_eq!("127.0.0.1:5353".parse(), Ok(Dns::Server(SocketAddr::from(([127, 0, 0, 1], 5353)))));
        assert!("127.0.0.1".parse::<Dns>().is_err());
    }
}
