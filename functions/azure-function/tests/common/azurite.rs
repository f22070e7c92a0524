//! Starts Azurite's table service on a free loopback port (killed on drop). Fails with a
//! message to run `npm ci` when it is not installed: never skips.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct Azurite {
    child: Child,
    pub port: u16,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Azurite {
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};\
             TableEndpoint=http://127.0.0.1:{}/devstoreaccount1;",
            self.port
        )
    }
}

pub fn start() -> Azurite {
    let bin = super::root().join("node_modules/.bin/azurite-table");
    assert!(
        bin.exists(),
        "Azurite is not installed ({} is missing): run `npm ci` in the repository root \
         (`make test` does it)",
        bin.display()
    );
    for _ in 0..3 {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
            l.local_addr().unwrap_or_else(|e| panic!("{e}")).port()
        };
        let mut child = Command::new(&bin)
            .args(["--tableHost", "127.0.0.1", "--tablePort"])
            .arg(port.to_string())
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
            ])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e} (run `npm ci`)", bin.display()));
        let mut ok = false;
        if let Some(out) = child.stdout.take() {
            let started = Instant::now();
            let mut lines = BufReader::new(out).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if line.contains("successfully started") {
                    ok = true;
                    break;
                }
                if started.elapsed() > Duration::from_secs(30) {
                    break;
                }
            }
            std::thread::spawn(move || lines.for_each(drop));
        }
        if ok {
            return Azurite { child, port };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("Azurite did not start (tried 3 ports)");
}

/// Azurite's blob, queue and table services on free loopback ports (killed on drop).
pub struct AzuriteAll {
    child: Child,
    pub blob: u16,
    pub queue: u16,
    pub table: u16,
}

impl Drop for AzuriteAll {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AzuriteAll {
    /// A connection string naming all three endpoints.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};\
             BlobEndpoint=http://127.0.0.1:{}/devstoreaccount1;\
             QueueEndpoint=http://127.0.0.1:{}/devstoreaccount1;\
             TableEndpoint=http://127.0.0.1:{}/devstoreaccount1;",
            self.blob, self.queue, self.table
        )
    }
}

/// Starts `azurite` (blob + queue + table).
pub fn start_all() -> AzuriteAll {
    let bin = super::root().join("node_modules/.bin/azurite");
    assert!(
        bin.exists(),
        "Azurite is not installed ({} is missing): run `npm ci` in the repository root \
         (`make test` does it)",
        bin.display()
    );
    let free = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().unwrap_or_else(|e| panic!("{e}")).port()
    };
    for _ in 0..3 {
        let (blob, queue, table) = (free(), free(), free());
        let mut child = Command::new(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &blob.to_string()])
            .args([
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                &queue.to_string(),
            ])
            .args([
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                &table.to_string(),
            ])
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
            ])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e} (run `npm ci`)", bin.display()));
        let mut started_services = 0;
        if let Some(out) = child.stdout.take() {
            let started = Instant::now();
            let mut lines = BufReader::new(out).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if line.contains("successfully listening") || line.contains("successfully started")
                {
                    started_services += 1;
                    if started_services == 3 {
                        break;
                    }
                }
                if started.elapsed() > Duration::from_secs(30) {
                    break;
                }
            }
            std::thread::spawn(move || lines.for_each(drop));
        }
        if started_services == 3 {
            return AzuriteAll {
                child,
                blob,
                queue,
                table,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("Azurite (blob, queue, table) did not start (tried 3 times)");
}
