//! Connections from many loopback addresses, for the cases that open
//! thousands: the ephemeral ports of one source address (about 28,000,
//! shared with everything else on the machine, `TIME_WAIT` included) run
//! short, and every address of 127.0.0.0/8 has ports of its own.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

/// How many source addresses the connections are spread over.
const SOURCES: u32 = 64;

/// Connects to `addr` from 127.0.0.(2 + n mod 64).
pub(crate) async fn connect(addr: SocketAddr, n: usize) -> std::io::Result<TcpStream> {
    let spread = u32::try_from(n).unwrap_or(0) % SOURCES;
    let source = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)) + spread);
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(addr).await
}
