//! Google Cloud: engineers (IAP tunnels every working day, `gcloud compute ssh` keys in the ops
//! project's metadata, a startup script fixed now and then, the serial console when a VM will
//! not boot), Terraform service accounts impersonated by the pipelines (instance templates with
//! startup scripts at each rollout, OS policy assignments, project metadata), and VM Manager
//! patch jobs.

use serde_json::{json, Value};

use super::{seconds, Names, Person};
use crate::emit::gcp::{Call, Log};
use crate::net;
use crate::org::{gce_vms, Zone, PROJECTS};
use crate::rng::Rng;
use crate::sim::{routine, GcpPersona, Gen};
use crate::Kind;

/// Compute Engine.
pub const COMPUTE: &str = "compute.googleapis.com";
/// VM Manager (OS Config).
pub const OSCONFIG: &str = "osconfig.googleapis.com";
/// `setMetadata` on one VM.
pub const SET_METADATA: &str = "v1.compute.instances.setMetadata";
/// Project-wide metadata.
pub const SET_COMMON: &str = "v1.compute.projects.setCommonInstanceMetadata";
/// An OS policy assignment created.
pub const CREATE_OSPA: &str =
    "google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment";
/// An OS policy assignment updated.
pub const UPDATE_OSPA: &str =
    "google.cloud.osconfig.v1.OsConfigZonalService.UpdateOSPolicyAssignment";

/// The request of a metadata write (the values are redacted by Compute Engine; the keys are
/// not).
pub fn metadata_request(added: &[&str], modified: &[&str]) -> Value {
    let mut r = json!({ "@type": "type.googleapis.com/compute.instances.setMetadata" });
    if !added.is_empty() {
        r["Metadata Keys Added"] = json!(added);
    }
    if !modified.is_empty() {
        r["Metadata Keys Modified"] = json!(modified);
    }
    r
}

/// An OS policy assignment request with an `exec` resource, applied to a label or every VM.
pub fn ospa_request(project: &str, zone: &str, id: &str, label: Option<(&str, &str)>) -> Value {
    let filter = match label {
        Some((k, v)) => json!({ "inclusionLabels": [{ "labels": { k: v } }] }),
        None => json!({ "all": true }),
    };
    json!({
        "@type": "type.googleapis.com/google.cloud.osconfig.v1.CreateOSPolicyAssignmentRequest",
        "parent": format!("projects/{project}/locations/{zone}"),
        "osPolicyAssignmentId": id,
        "osPolicyAssignment": {
            "osPolicies": [{ "id": id, "mode": "ENFORCEMENT", "resourceGroups": [{ "resources": [
                { "id": "pkg", "pkg": { "desiredState": "INSTALLED", "apt": { "name": "google-osconfig-agent" } } },
                { "id": "run", "exec": {
                    "validate": { "interpreter": "SHELL", "script": "exit 100" },
                    "enforce": { "interpreter": "SHELL", "script": "exit 100" } } }
            ] }] }],
            "instanceFilter": filter,
            "rollout": { "disruptionBudget": { "percent": 25 }, "minWaitDuration": "60s" }
        }
    })
}

/// Writes one Google Cloud call as routine.
fn emit(g: &mut Gen, call: &Call, id: &str, kind: Kind) {
    g.gcp(call, routine(id, kind));
}

/// Writes the Google Cloud routine.
pub fn generate(g: &mut Gen, names: &mut Names) {
    engineers(g, names);
    pipelines(g);
    patching(g);
}

fn engineers(g: &mut Gen, names: &mut Names) {
    let days = g.clock.days;
    let mut rng = g.stream("gcp-engineers");
    let zones = [Zone::London, Zone::London, Zone::NewYork, Zone::Kolkata];
    for i in 0..16 {
        let zone = zones[i % zones.len()];
        let mut p = Person::draw(&mut rng, names, zone, 1.0, days);
        // Churn: two join during the weeks, two leave.
        if i >= 14 {
            p.sched.from = rng.range(7, days - 10);
            p.sched.vacation = None;
        } else if i % 7 == 3 {
            p.sched.to = rng.range(14, days - 7);
        }
        let email = format!("{}@corp.example", p.handle);
        g.register(
            &email,
            Kind::GcpEngineer,
            Some(zone),
            p.sched.from.max(0),
            p.sched.to,
        );
        let mut rng = g.stream(&email);
        // Each engineer works in one or two projects; the ops project's people use `gcloud
        // compute ssh`, which writes their key into metadata there (OS Login is off).
        let home_project = i % PROJECTS.len();
        let second = (home_project + 1 + rng.below(2) as usize) % PROJECTS.len();
        let projects = if rng.chance(0.4) {
            vec![home_project, second]
        } else {
            vec![home_project]
        };
        let startup_rate = rng.unit() * 0.06;
        let serial_rate = rng.unit() * 0.02;
        let first_release = p.upgrades.release_day(0);
        g.gcp_cast.push(GcpPersona {
            id: email.clone(),
            kind: Kind::GcpEngineer,
            project: home_project,
            ip: net::office_ip(&mut rng, zone),
            ua: net::gcloud(first_release, "compute.ssh"),
            delegator: None,
            zone: Some(zone),
        });
        for day in 0..days {
            if !p.sched.works(&g.clock, day) {
                continue;
            }
            let release = p.upgrades.release_day(day);
            let n = p.sched.calls(&mut rng, day);
            for _ in 0..n {
                let (t, evening) = p.sched.time(&mut rng, &g.clock, day);
                let ip = p.ip(&mut rng, day, evening);
                let project = *rng.pick(&projects);
                let proj = &PROJECTS[project];
                let vms = gce_vms(g.seed, project, day);
                let vm = rng.pick(&vms).clone();
                let resource = vm.resource(proj);
                // `gcloud compute ssh` first writes the key (when OS Login is off), then
                // tunnels through IAP.
                if proj.metadata_ssh_keys && rng.chance(0.5) {
                    let call = Call {
                        time: t,
                        project: proj.id,
                        email: &email,
                        ip: Some(&ip),
                        ua: &net::gcloud(release, "compute.ssh"),
                        service: COMPUTE,
                        method: SET_METADATA,
                        resource: &resource,
                        zone: Some(vm.zone),
                        request: Some(metadata_request(&[], &["ssh-keys"])),
                        lro: true,
                        ..Call::default()
                    };
                    emit(g, &call, &email, Kind::GcpEngineer);
                }
                // Windows VMs are reached on 3389; the fleet here is Linux (22).
                let tunnel = vm.tunnel(proj, 22);
                let call = Call {
                    time: seconds(&mut rng, t + jiff::SignedDuration::from_secs(20)),
                    project: proj.id,
                    email: &email,
                    ip: Some(&ip),
                    ua: "",
                    service: "iap.googleapis.com",
                    method: "AuthorizeUser",
                    resource: &tunnel,
                    zone: Some(vm.zone),
                    request: Some(json!({
                        "@type": "type.googleapis.com/cloud.security.gatekeeper.AuthorizeUserRequest"
                    })),
                    log: Log::DataAccess,
                    failed: rng.chance(0.01),
                    ..Call::default()
                };
                emit(g, &call, &email, Kind::GcpEngineer);
            }
            // Now and then a startup script fixed on a VM of their project.
            if rng.chance(startup_rate) {
                let (t, evening) = p.sched.time(&mut rng, &g.clock, day);
                let ip = p.ip(&mut rng, day, evening);
                let project = *rng.pick(&projects);
                let vms = gce_vms(g.seed, project, day);
                let vm = rng.pick(&vms).clone();
                let call = Call {
                    time: t,
                    project: PROJECTS[project].id,
                    email: &email,
                    ip: Some(&ip),
                    ua: &net::gcloud(release, "compute.instances.add-metadata"),
                    service: COMPUTE,
                    method: SET_METADATA,
                    resource: &vm.resource(&PROJECTS[project]),
                    zone: Some(vm.zone),
                    request: Some(metadata_request(&[], &["startup-script"])),
                    lro: true,
                    ..Call::default()
                };
                emit(g, &call, &email, Kind::GcpEngineer);
            }
            // A VM that will not boot: the serial console, switched on, then connected.
            if rng.chance(serial_rate) {
                let (t, evening) = p.sched.time(&mut rng, &g.clock, day);
                let ip = p.ip(&mut rng, day, evening);
                let project = *rng.pick(&projects);
                let proj = &PROJECTS[project];
                let vms = gce_vms(g.seed, project, day);
                let vm = rng.pick(&vms).clone();
                let resource = vm.resource(proj);
                let enable = Call {
                    time: t,
                    project: proj.id,
                    email: &email,
                    ip: Some(&ip),
                    ua: &net::gcloud(release, "compute.instances.add-metadata"),
                    service: COMPUTE,
                    method: SET_METADATA,
                    resource: &resource,
                    zone: Some(vm.zone),
                    request: Some(metadata_request(&["serial-port-enable"], &[])),
                    lro: true,
                    ..Call::default()
                };
                emit(g, &enable, &email, Kind::GcpEngineer);
                let connect = Call {
                    time: t + jiff::SignedDuration::from_secs(rng.range(30, 300)),
                    service: "ssh-serialport.googleapis.com",
                    method: "google.ssh-serialport.v1.connect",
                    ua: "",
                    request: None,
                    log: Log::DataAccess,
                    lro: false,
                    ..enable.clone()
                };
                emit(g, &connect, &email, Kind::GcpEngineer);
            }
        }
    }
}

/// One Terraform service account per project, impersonated by the pipeline (GitHub-hosted
/// runners, a new Azure address nearly every run) through workload identity federation (no
/// delegating person): a new instance template with the group's
/// startup script at each rollout, the agents' OS policy assignment updated every week or two,
/// the project's startup script now and then.
fn pipelines(g: &mut Gen) {
    let days = g.clock.days;
    for (project, proj) in PROJECTS.iter().enumerate() {
        let email = format!("terraform@{}.iam.gserviceaccount.com", proj.id);
        g.register(&email, Kind::GcpPipeline, None, 0, i64::MAX);
        let mut rng: Rng = g.stream(&email);
        g.gcp_cast.push(GcpPersona {
            id: email.clone(),
            kind: Kind::GcpPipeline,
            project,
            ip: net::azure_pool_ip(&mut rng),
            ua: net::terraform_google(0),
            delegator: None,
            zone: None,
        });
        let upgrades = net::Upgrades::new(&mut rng, 14.0, days);
        let mut last: Vec<String> = Vec::new();
        for day in 0..days {
            if !g.clock.weekday(day) {
                continue;
            }
            let ua = net::terraform_google(upgrades.release_day(day));
            // Rollouts: a group's VM names changed today → its new template was written.
            let vms = gce_vms(g.seed, project, day);
            let names: Vec<String> = vms.iter().map(|v| v.name.clone()).collect();
            let rolled: Vec<&'static str> = proj
                .groups
                .iter()
                .map(|(grp, _)| *grp)
                .filter(|grp| {
                    !last.is_empty()
                        && !names
                            .iter()
                            .filter(|n| n.starts_with(&format!("{grp}-")))
                            .all(|n| last.contains(n))
                })
                .collect();
            last = names;
            let runs = rolled.len() as u64 + u64::from(rng.chance(0.15));
            for k in 0..runs {
                let minute = rng.range(8 * 60, 18 * 60);
                let t = seconds(&mut rng, g.clock.utc(day, minute));
                let ip = net::azure_pool_ip(&mut rng);
                let group = rolled.get(k as usize).copied().unwrap_or(proj.groups[0].0);
                let template = format!(
                    "projects/{}/global/instanceTemplates/{group}-{}-{k}",
                    proj.id,
                    g.clock.date(day).to_string().replace('-', "")
                );
                let call = Call {
                    time: t,
                    project: proj.id,
                    email: &email,
                    ip: Some(&ip),
                    ua: &ua,
                    service: COMPUTE,
                    method: "v1.compute.instanceTemplates.insert",
                    resource: &template,
                    request: Some(json!({
                        "@type": "type.googleapis.com/compute.instanceTemplates.insert",
                        "name": template.rsplit('/').next(),
                        "properties": { "metadata": { "items": [
                            { "key": "startup-script" }, { "key": "enable-oslogin" }
                        ] } }
                    })),
                    lro: true,
                    ..Call::default()
                };
                emit(g, &call, &email, Kind::GcpPipeline);
            }
            if rng.chance(0.12) {
                let zone = *rng.pick(proj.zones);
                let minute = rng.range(8 * 60, 18 * 60);
                let t = seconds(&mut rng, g.clock.utc(day, minute));
                let ip = net::azure_pool_ip(&mut rng);
                let resource = format!(
                    "projects/{}/locations/{zone}/osPolicyAssignments/ops-agent",
                    proj.id
                );
                let call = Call {
                    time: t,
                    project: proj.id,
                    email: &email,
                    ip: Some(&ip),
                    ua: &ua,
                    service: OSCONFIG,
                    method: UPDATE_OSPA,
                    resource: &resource,
                    zone: Some(zone),
                    request: Some(ospa_request(
                        proj.id,
                        zone,
                        "ops-agent",
                        Some(("env", "prod")),
                    )),
                    log: Log::DataAccess,
                    lro: true,
                    ..Call::default()
                };
                emit(g, &call, &email, Kind::GcpPipeline);
            }
            if rng.chance(0.03) {
                let minute = rng.range(8 * 60, 18 * 60);
                let t = seconds(&mut rng, g.clock.utc(day, minute));
                let ip = net::azure_pool_ip(&mut rng);
                let resource = format!("projects/{}", proj.id);
                let call = Call {
                    time: t,
                    project: proj.id,
                    email: &email,
                    ip: Some(&ip),
                    ua: &ua,
                    service: COMPUTE,
                    method: SET_COMMON,
                    resource: &resource,
                    request: Some(metadata_request(&[], &["startup-script"])),
                    lro: true,
                    ..Call::default()
                };
                emit(g, &call, &email, Kind::GcpPipeline);
            }
        }
    }
}

/// VM Manager patch jobs: every week per project, from Cloud Scheduler with the patch service
/// account, by label; the data project's jobs stop its services first (a pre-patch script).
fn patching(g: &mut Gen) {
    let days = g.clock.days;
    for (project, proj) in PROJECTS.iter().enumerate() {
        let email = format!("patch-scheduler@{}.iam.gserviceaccount.com", proj.id);
        g.register(&email, Kind::GcpPatch, None, 0, i64::MAX);
        let mut rng: Rng = g.stream(&email);
        let weekday = rng.range(1, 4);
        let hour = rng.range(1, 5);
        for day in 0..days {
            if day.rem_euclid(7) != weekday {
                continue;
            }
            for (group, _) in proj.groups {
                let minute = hour * 60 + rng.range(0, 3);
                let t = seconds(&mut rng, g.clock.utc(day, minute));
                let mut config = json!({ "rebootConfig": "DEFAULT", "apt": { "type": "DIST" } });
                if project == 1 {
                    config["preStep"] = json!({ "linuxExecStepConfig": {
                        "gcsObject": { "bucket": "acme-data-ops", "object": "patch/stop-services.sh", "generationNumber": "1718000000000000" } } });
                }
                let name = format!("projects/{}/patchJobs/{}", proj.id, g.uuid());
                let call = Call {
                    time: t,
                    project: proj.id,
                    email: &email,
                    ip: None,
                    ua: "Google-Cloud-Scheduler",
                    service: OSCONFIG,
                    method: "google.cloud.osconfig.v1.OsConfigService.ExecutePatchJob",
                    resource: &name,
                    request: Some(json!({
                        "@type": "type.googleapis.com/google.cloud.osconfig.v1.ExecutePatchJobRequest",
                        "parent": format!("projects/{}", proj.id),
                        "displayName": format!("weekly-{group}"),
                        "instanceFilter": { "groupLabels": [{ "labels": { "patch-group": group } }] },
                        "patchConfig": config,
                        "duration": "3600s"
                    })),
                    log: Log::DataAccess,
                    ..Call::default()
                };
                emit(g, &call, &email, Kind::GcpPatch);
            }
        }
    }
}
