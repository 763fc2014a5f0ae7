//! moto in server mode, started once per test binary on a free loopback port. `scripts/test`
//! builds the test tools' Python environment exactly as `scripts/python/test.lock` pins it
//! and names it in `DAPGOV_MOTO_VENV`; without that, the environment `scripts/pyenv.py` keeps
//! for the lock is used when it matches.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The test tools' Python environment (moto, boto3, sqlglot, the report validators).
pub fn venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(v) = std::env::var_os("DAPGOV_MOTO_VENV") {
            return PathBuf::from(v);
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pyenv.py");
        let o = Command::new("python3")
            .args([script, "--check", "test"])
            .output()
            .expect("run python3 scripts/pyenv.py");
        assert!(
            o.status.success(),
            "the test tools' Python environment is missing or differs from scripts/python/test.lock: \
             run scripts/test (or scripts/pyenv.py test) first\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
    })
    .clone()
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
