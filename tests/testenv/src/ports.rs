//! Free loopback ports for the control plane's listeners.

use std::net::{Ipv4Addr, TcpListener};

use crate::error::{Error, Result};

/// `N` distinct free ports on 127.0.0.1. All listeners are held until every port is picked, so
/// the ports differ from each other; another process may still take one before the child binds
/// it, which `start()` handles by retrying with new ports.
pub(crate) fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(Error::FreePort)?;
        *port = listener.local_addr().map_err(Error::FreePort)?.port();
        listeners.push(listener);
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_non_zero() -> Result<()> {
        let [a, b, c] = free_ports::<3>()?;
        assert!(a != 0 && b != 0 && c != 0);
        assert!(a != b && b != c && a != c);
        Ok(())
    }
}
