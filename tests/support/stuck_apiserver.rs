//! An API server that answers `GET /version` and nothing else: a cluster that connects and then
//! never finishes its initial sync, however long a scan waits (its lists are held open
//! unanswered, and the client bounds only the `/version` probe).
//!
//! Each held list parks its connection's thread until the test binary ends (a scan opens a few,
//! and the binary's life bounds them). At the first accept error (out of file descriptors) the
//! server closes its listener rather than spin on an error that repeats: later connections are
//! refused, and a test sees a cluster it cannot reach instead of hanging.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

const VERSION: &str = r#"{"major":"1","minor":"37","gitVersion":"v1.37.2","gitCommit":"0","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.25","compiler":"gc","platform":"linux/amd64"}"#;

/// Serves plain HTTP on a free loopback port for as long as the test binary runs; its address.
pub fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
    let addr = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else {
                return;
            };
            std::thread::spawn(move || serve(stream));
        }
    });
    addr
}

/// Answers every `/version` on the connection; any other request holds it open, unanswered.
fn serve(stream: TcpStream) {
    let Ok(read) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read);
    let mut writer = stream;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        // The headers, up to the blank line (the client sends no body with a GET).
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
        }
        if request.split_whitespace().nth(1) != Some("/version") {
            // Held (the stream stays open with this thread) until the test binary ends.
            loop {
                std::thread::park();
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{VERSION}",
            VERSION.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
