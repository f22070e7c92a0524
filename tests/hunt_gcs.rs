//! End-to-end tests of `cadet hunt` over a Cloud Logging sink's export (the layout a sink to
//! Cloud Storage writes: `cloudaudit.googleapis.com/<log>/YYYY/MM/DD/HH:MM:SS_HH:MM:SS_S<n>.json`,
//! one `LogEntry` a line): on disk, and in a bucket of fake-gcs-server (the Cloud Storage
//! emulator, started here on a free loopback port) read as `gs://BUCKET/…` over the JSON API.
//!
//! The export holds more than 1,000 objects in one day, so a listing takes more than one page
//! (the API's maximum), a line that is not JSON (it costs only itself), a gzip file, an object
//! stored gzip-encoded, and damaged files outside the window that must never be read. Each
//! hunt must print one finding per startup-script write inside the window (project filter
//! applied) and exactly what `cadet detect` prints over the same entries sorted by event time.
#![cfg(feature = "hunt-gcs")]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{digest, files_read, findings, stderr};
use serde_json::{json, Value};

const PROJECTS: [&str; 2] = ["prod-web-4711", "data-lake-0815"];
/// The window every windowed hunt here uses: files of hours 01 to 06 (an hour of margin either
/// side) are read, the rest of the export is not.
const SINCE: &str = "2026-11-18T02:00:00Z";
const UNTIL: &str = "2026-11-18T06:00:00Z";
/// Empty appended shards in hour 05, so that one day needs more than one listing page.
const FILLER: usize = 1010;
const BUCKET: &str = "org-audit-logs";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    enc.finish().unwrap_or_else(|e| panic!("{e}"))
}

/// A Cloud Audit Logs entry as a sink exports it: `method` on a Compute Engine instance of
/// `project`, by a service account, at `time`.
fn entry(project: &str, time: &str, id: &str, method: &str) -> Value {
    let instance = format!("projects/{project}/zones/europe-west1-b/instances/web-frontend-3");
    let sa = format!("ci-deployer@{project}.iam.gserviceaccount.com");
    let request = if method.ends_with("setMetadata") {
        json!({"Metadata Keys Added": ["startup-script"], "@type": "type.googleapis.com/compute.instances.setMetadata"})
    } else {
        json!({"@type": "type.googleapis.com/compute.instances.get"})
    };
    json!({
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {},
            "authenticationInfo": {
                "principalEmail": sa,
                "principalSubject": format!("serviceAccount:{sa}")
            },
            "requestMetadata": {
                "callerIp": "185.220.101.47",
                "callerSuppliedUserAgent": "google-cloud-sdk gcloud/452.0.1 command/gcloud.compute.instances.add-metadata",
                "requestAttributes": {"time": time, "auth": {}},
                "destinationAttributes": {}
            },
            "serviceName": "compute.googleapis.com",
            "methodName": method,
            "authorizationInfo": [{
                "permission": "compute.instances.setMetadata",
                "granted": true,
                "resourceAttributes": {"service": "compute", "name": instance, "type": "compute.instances"},
                "permissionType": "ADMIN_WRITE"
            }],
            "resourceName": instance,
            "request": request,
            "resourceLocation": {"currentLocations": ["europe-west1-b"]}
        },
        "insertId": id,
        "resource": {
            "type": "gce_instance",
            "labels": {"zone": "europe-west1-b", "instance_id": "4477321908812345678", "project_id": project}
        },
        "timestamp": time,
        "severity": "NOTICE",
        "logName": format!("projects/{project}/logs/cloudaudit.googleapis.com%2Factivity"),
        "operation": {"id": format!("operation-{id}"), "producer": "compute.googleapis.com", "first": true},
        "receiveTimestamp": time
    })
}

/// One object of the export: its key, its bytes, and whether the bucket stores it gzip-encoded
/// (`Content-Encoding: gzip`, the bytes then being gzip).
struct Object {
    key: String,
    data: Vec<u8>,
    gzip_encoded: bool,
}

/// The export and every entry in it (project, time, entry).
struct Export {
    objects: Vec<Object>,
    entries: Vec<(&'static str, String, Value)>,
}

impl Export {
    /// Objects the window keeps (hours 01 to 06 of 11/18).
    fn in_window(&self, under: &str) -> usize {
        self.objects
            .iter()
            .filter(|o| o.key.starts_with(under) && o.key.contains("/2026/11/18/0"))
            .filter(|o| !o.key.contains("/09:00:00"))
            .count()
    }
}

fn export() -> Export {
    let mut objects = Vec::new();
    let mut entries = Vec::new();
    let mut n = 0u32;
    let act = "cloudaudit.googleapis.com/activity/2026/11/18";
    // (file, hours of its entries, how it is stored)
    let files: [(&str, u32, &str); 5] = [
        ("01:00:00_01:59:59_S0.json", 1, "plain"),
        ("02:00:00_02:59:59_S0.json", 2, "bad line"),
        ("03:00:00_03:59:59_S0.json.gz", 3, "gzip file"),
        ("04:00:00_04:59:59_S1.json", 4, "gzip-encoded"),
        ("05:00:00_05:59:59_S0.json", 5, "plain"),
    ];
    for (name, hour, how) in files {
        let mut text = String::new();
        for (i, method) in [
            "v1.compute.instances.setMetadata",
            "v1.compute.instances.get",
            "v1.compute.instances.setMetadata",
        ]
        .into_iter()
        .enumerate()
        {
            let project = PROJECTS[(n % 2) as usize];
            // In reverse time order inside the file (exports are not in time order).
            let time = format!("2026-11-18T{hour:02}:{:02}:07.114296Z", 50 - 10 * i);
            let e = entry(project, &time, &format!("-x1c9hxe2k{n:04}"), method);
            text.push_str(&format!("{e}\n"));
            if how == "bad line" && i == 0 {
                text.push_str("{\"protoPayload\":{\"methodName\":\n");
            }
            entries.push((project, time, e));
            n += 1;
        }
        let (data, gzip_encoded) = match how {
            "gzip file" => (gzip(text.as_bytes()), false),
            "gzip-encoded" => (gzip(text.as_bytes()), true),
            _ => (text.into_bytes(), false),
        };
        objects.push(Object {
            key: format!("{act}/{name}"),
            data,
            gzip_encoded,
        });
    }
    // Another audit log of the same sink.
    let time = "2026-11-18T03:12:00.000001Z".to_string();
    let e = entry(PROJECTS[0], &time, "-data0001", "v1.compute.instances.get");
    objects.push(Object {
        key: "cloudaudit.googleapis.com/data_access/2026/11/18/03:00:00_03:59:59_S0.json".into(),
        data: format!("{e}\n").into_bytes(),
        gzip_encoded: false,
    });
    entries.push((PROJECTS[0], time, e));
    for i in 0..FILLER {
        objects.push(Object {
            key: format!("{act}/05:00:00_05:59:59_A{i}.json"),
            data: Vec::new(),
            gzip_encoded: false,
        });
    }
    // Outside the window (by hour, by day, by month): damaged, so that a read would show.
    for key in [
        format!("{act}/09:00:00_09:59:59_S0.json"),
        "cloudaudit.googleapis.com/activity/2026/11/10/02:00:00_02:59:59_S0.json".into(),
        "cloudaudit.googleapis.com/activity/2026/10/31/23:00:00_23:59:59_S0.json".into(),
    ] {
        objects.push(Object {
            key,
            data: vec![0x1f, 0x8b, 8, 0, 9, 9, 9, 9],
            gzip_encoded: false,
        });
    }
    Export { objects, entries }
}

fn write_tree(dir: &Path, export: &Export) {
    for o in &export.objects {
        let p = dir.join(&o.key);
        std::fs::create_dir_all(p.parent().unwrap_or(dir)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&p, &o.data).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn cadet(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cadet"));
    c.args(args)
        .env_remove("STORAGE_EMULATOR_HOST")
        .env_remove("GOOGLE_OAUTH_ACCESS_TOKEN")
        .env_remove("GCE_METADATA_HOST")
        .stdin(Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("{e}"))
}

/// A figure of the summary's second line: `N rejected records`, `N unreadable objects`.
fn summary_count(err: &str, what: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.starts_with("hunt: events "))
        .unwrap_or_else(|| panic!("no summary in {err}"));
    let at = line
        .find(what)
        .unwrap_or_else(|| panic!("no `{what}` in {line}"));
    line[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before `{what}` in {line}"))
}

/// `cadet detect` over the entries inside the window, sorted by event time: what a hunt must
/// print.
fn reference(export: &Export, dir: &Path, keep: impl Fn(&str, &Value) -> bool) -> Vec<Value> {
    let mut sel: Vec<&(&str, String, Value)> = export
        .entries
        .iter()
        .filter(|(_, t, e)| t.as_str() >= SINCE && t.as_str() < UNTIL && keep(t, e))
        .collect();
    sel.sort_by(|a, b| a.1.cmp(&b.1));
    let path = dir.join("sorted.jsonl");
    let text: String = sel.iter().map(|(_, _, e)| format!("{e}\n")).collect();
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let out = common::detect_all(&path);
    findings(&out)
}

/// What every windowed hunt of the whole export shows: the objects in the window all read,
/// nothing outside it touched, the bad line reported alone.
fn check_window_hunt(
    out: &Output,
    export: &Export,
    listed: usize,
    logs: &[&str],
    name_prefix: &str,
) {
    let err = stderr(out);
    assert_eq!(files_read(&err), (listed, listed), "{err}");
    assert_eq!(summary_count(&err, "unreadable objects"), 0, "{err}");
    assert!(
        err.lines().any(|l| l.starts_with("error: ")
            && l.contains(&format!("{name_prefix}cloudaudit.googleapis.com/activity/2026/11/18/02:00:00_02:59:59_S0.json"))
            && l.contains("record 2 (line 2)")),
        "{err}"
    );
    for outside in ["09:00:00_09:59:59", "/2026/11/10/", "/2026/10/31/"] {
        assert!(!err.contains(outside), "{outside} was read: {err}");
    }
    // The bad line, and only it, is rejected: exit 2.
    assert_eq!(summary_count(&err, "rejected records"), 1, "{err}");
    assert_eq!(out.status.code(), Some(2), "{err}");
    // The entries of hours 01 to 06 in the logs listed.
    let entries = export
        .entries
        .iter()
        .filter(|(_, t, _)| t.as_str() >= "2026-11-18T01" && t.as_str() < "2026-11-18T07")
        .filter(|(_, _, e)| {
            let data = e["insertId"].as_str().unwrap_or("").starts_with("-data");
            logs.contains(&if data { "data_access" } else { "activity" })
        })
        .count() as u64;
    // Every entry of the files read is a record (plus the bad line).
    let records: u64 = err
        .lines()
        .find(|l| l.starts_with("hunt: ") && l.contains(" records in "))
        .and_then(|l| l.split(" records in ").next())
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record count in {err}"));
    assert_eq!(records, entries + 1, "{err}");
}

/// The insertIds of the startup-script writes inside the window of `projects` (sorted): the
/// findings a windowed hunt prints.
fn startup_writes(export: &Export, projects: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = export
        .entries
        .iter()
        .filter(|(p, t, e)| {
            projects.contains(p)
                && t.as_str() >= SINCE
                && t.as_str() < UNTIL
                && e["protoPayload"]["methodName"] == "v1.compute.instances.setMetadata"
        })
        .map(|(_, _, e)| e["insertId"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

/// The event ids of a run's findings (sorted), each checked to be a startup-script write.
fn finding_ids(out: &Output) -> Vec<String> {
    let mut ids: Vec<String> = findings(out)
        .iter()
        .map(|f| {
            assert_eq!(f["operation"], "compute.instances.setMetadata", "{f}");
            assert!(f["signals"].to_string().contains("startup script"), "{f}");
            f["event_id"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn local_sink_export_is_pruned_by_hour_and_day() {
    let dir = common::tmp("hunt-gcs-local");
    let export = export();
    let root = dir.join("export");
    write_tree(&root, &export);
    let src = root.display().to_string();

    let out = cadet(
        &[
            "hunt", "--format", "json", "--all", "--since", SINCE, "--until", UNTIL, &src,
        ],
        &[],
    );
    let both = ["activity", "data_access"];
    check_window_hunt(
        &out,
        &export,
        export.in_window(""),
        &both,
        &format!("{src}/"),
    );
    let want = reference(&export, &dir, |_, _| true);
    assert_eq!(digest(&findings(&out)), digest(&want), "{}", stderr(&out));
    let writes = startup_writes(&export, &PROJECTS);
    assert_eq!(writes.len(), 8);
    assert_eq!(finding_ids(&out), writes, "{}", stderr(&out));
    // Hour 01's file is read (the margin) but its two writes are before --since.
    assert_eq!(
        summary_count(&stderr(&out), "outside the window/accounts/regions"),
        2
    );

    // One project: the same files (the paths name none), its events only.
    let out = cadet(
        &[
            "hunt",
            "--format",
            "json",
            "--all",
            "--since",
            SINCE,
            "--until",
            UNTIL,
            "--account",
            PROJECTS[1],
            &src,
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(
        files_read(&err),
        (export.in_window(""), export.in_window(""))
    );
    let writes = startup_writes(&export, &PROJECTS[1..]);
    assert_eq!(writes.len(), 4);
    assert_eq!(finding_ids(&out), writes, "{err}");
    assert_eq!(
        summary_count(&err, "outside the window/accounts/regions"),
        6
    );

    // Without a window everything is read, the damaged files too: one error line each.
    let out = cadet(&["hunt", "--format", "json", "--all", &src], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        files_read(&err),
        (export.objects.len() - 3, export.objects.len()),
        "{err}"
    );
    assert_eq!(summary_count(&err, "unreadable objects"), 3, "{err}");
    // Every startup-script write of the export: hours 01 to 05.
    assert_eq!(findings(&out).len(), 10, "{err}");
}

/// A `POST …/upload/storage/v1/b/BUCKET/o?uploadType=media` of one object.
fn upload(client: &reqwest::blocking::Client, url: &str, o: &Object) {
    let mut q = vec![("uploadType", "media"), ("name", o.key.as_str())];
    if o.gzip_encoded {
        q.push(("contentEncoding", "gzip"));
    }
    let resp = client
        .post(format!("{url}/upload/storage/v1/b/{BUCKET}/o"))
        .query(&q)
        .header("Content-Type", "application/json")
        .body(o.data.clone())
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(resp.status().is_success(), "{}: {:?}", o.key, resp.text());
}

#[test]
fn gcs_sink_export_hunt_pages_prunes_and_reports() {
    let gcs = common::start_fake_gcs();
    let dir = common::tmp("hunt-gcs");
    let export = export();
    let client = reqwest::blocking::Client::new();
    let resp = client
        .post(format!("{}/storage/v1/b?project=test", gcs.url))
        .json(&json!({ "name": BUCKET }))
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(resp.status().is_success(), "{:?}", resp.text());
    // Four uploaders (the emulator answers each in about a millisecond).
    std::thread::scope(|s| {
        for part in export.objects.chunks(export.objects.len().div_ceil(4)) {
            let (client, url) = (&client, &gcs.url);
            s.spawn(move || part.iter().for_each(|o| upload(client, url, o)));
        }
    });
    let emulator = [(
        "STORAGE_EMULATOR_HOST",
        gcs.url.trim_start_matches("http://"),
    )];

    // The whole bucket through STORAGE_EMULATOR_HOST (HOST:PORT, as Google's clients take it).
    let bucket = format!("gs://{BUCKET}/");
    let out = cadet(
        &[
            "hunt",
            "--format",
            "json",
            "--all",
            "--concurrency",
            "8",
            "--since",
            SINCE,
            "--until",
            UNTIL,
            &bucket,
        ],
        &emulator,
    );
    let both = ["activity", "data_access"];
    check_window_hunt(&out, &export, export.in_window(""), &both, &bucket);
    let want = reference(&export, &dir, |_, _| true);
    assert_eq!(digest(&findings(&out)), digest(&want), "{}", stderr(&out));
    assert_eq!(
        finding_ids(&out),
        startup_writes(&export, &PROJECTS),
        "{}",
        stderr(&out)
    );

    // One log's prefix, through --gcs-endpoint: data_access is not listed.
    let activity = format!("gs://{BUCKET}/cloudaudit.googleapis.com/activity/");
    let out = cadet(
        &[
            "hunt",
            "--format",
            "json",
            "--all",
            "--gcs-endpoint",
            &gcs.url,
            "--since",
            SINCE,
            "--until",
            UNTIL,
            &activity,
        ],
        &[(
            "GOOGLE_OAUTH_ACCESS_TOKEN",
            "ya29.never-sent-over-plain-http",
        )],
    );
    let listed = export.in_window("cloudaudit.googleapis.com/activity/");
    assert_eq!(listed, export.in_window("") - 1);
    check_window_hunt(&out, &export, listed, &["activity"], &bucket);
    let want = reference(&export, &dir, |_, e| {
        !e["insertId"].as_str().unwrap_or("").starts_with("-data")
    });
    assert_eq!(digest(&findings(&out)), digest(&want), "{}", stderr(&out));
    assert_eq!(finding_ids(&out), startup_writes(&export, &PROJECTS));
    assert!(!stderr(&out).contains("ya29."));

    // A bucket that does not exist: one line naming it and the service's answer, exit 1.
    let out = cadet(&["hunt", "gs://no-such-bucket/"], &emulator);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with("error: gs://no-such-bucket/: cannot list: HTTP 404")
            && errors[0].contains("no bucket no-such-bucket"),
        "{err}"
    );
    assert_eq!(summary_count(&err, "unreadable objects"), 1, "{err}");

    // An endpoint where nothing listens: one line, exit 1.
    let out = cadet(
        &[
            "hunt",
            "--gcs-endpoint",
            &format!("http://127.0.0.1:{}", common::free_port()),
            &bucket,
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines().any(|l| l.starts_with(&format!(
            "error: {bucket}: cannot list: cannot reach http://127.0.0.1:"
        ))),
        "{err}"
    );
}
