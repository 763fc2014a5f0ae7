//! moto in server mode, started once per test binary on a free loopback port. `scripts/test`
//! installs the pinned moto into `~/.cache/dapgov/moto` (or set `DAPGOV_MOTO_VENV`).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub fn venv() -> PathBuf {
    let v = std::env::var_os("DAPGOV_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/dapgov/moto")
        });
    assert!(
        v.join("bin/moto_server").is_file(),
        "no moto server at {}: run scripts/test (it installs moto[server]==5.1.22 there) or set DAPGOV_MOTO_VENV",
        v.display()
    );
    v
}

fn http_ok(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut buf = [0u8; 16];
    s.read(&mut buf).is_ok_and(|n| {
        buf[..n].starts_with(b"HTTP/1.0 200") || buf[..n].starts_with(b"HTTP/1.1 200")
    })
}

/// The endpoint of the shared emulator, started on first use.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(venv().join("bin/moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // The server goes when the test binary goes.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        // PR_SET_PDEATHSIG fires when the spawning *thread* ends: spawn from one that never does.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            tx.send(cmd.spawn().map(|_| ())).unwrap();
            loop {
                std::thread::park();
            }
        });
        rx.recv().unwrap().expect("start moto_server");
        for _ in 0..200 {
            if http_ok(port) {
                return format!("http://127.0.0.1:{port}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto_server did not answer on port {port}");
    })
}
