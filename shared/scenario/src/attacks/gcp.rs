//! Google Cloud attacks: startup scripts, SSH keys in project metadata, OS policy assignments
//! with `exec`, the IAP tunnel role granted to an outsider, Data Access logs switched off.

use cadet_core::Severity;
use serde_json::json;

use super::{day, step, time};
use crate::emit::gcp::{Call, Log};
use crate::net;
use crate::org::{gce_vms, PROJECTS};
use crate::rng::Rng;
use crate::routine::gcp::{
    metadata_request, ospa_request, COMPUTE, CREATE_OSPA, OSCONFIG, SET_COMMON, SET_METADATA,
};
use crate::sim::{GcpPersona, Gen};
use crate::Kind;

fn victim(g: &Gen, rng: &mut Rng, kind: Kind) -> Option<GcpPersona> {
    let c: Vec<&GcpPersona> = g.gcp_cast.iter().filter(|p| p.kind == kind).collect();
    (!c.is_empty()).then(|| (*rng.pick(&c)).clone())
}

/// An attacker's gcloud on Linux.
fn attacker_gcloud(command: &str) -> String {
    format!(
        "google-cloud-sdk gcloud/470.0.0 command/gcloud.{command} invocation-id/5f0c1e2d3b4a59687766554433221100 environment/None environment-version/None client-os/LINUX client-os-ver/6.6.9 client-pltf-arch/x86_64 interactive/True from-script/False python/3.11.8 term/xterm-256color (Linux 6.6.9-amd64),gzip(gfe)"
    )
}

fn base<'a>(
    t: jiff::Timestamp,
    project: &'a str,
    email: &'a str,
    ip: &'a str,
    ua: &'a str,
) -> Call<'a> {
    Call {
        time: t,
        project,
        email,
        ip: Some(ip),
        ua,
        service: COMPUTE,
        method: SET_METADATA,
        resource: "",
        lro: true,
        ..Call::default()
    }
}

/// A pipeline service account's downloaded key, used from a VPS: the startup script of one
/// production VM replaced.
pub fn startup_script_key(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some(v) = victim(g, rng, Kind::GcpPipeline) else {
        return;
    };
    let d = day(g, rng, 1);
    let t = time(g, rng, None, d);
    let (_, ip) = net::attacker_ip(rng);
    let proj = &PROJECTS[v.project];
    let vms = gce_vms(g.seed, v.project, d);
    let vm = rng.pick(&vms).clone();
    let resource = vm.resource(proj);
    let ua = attacker_gcloud("compute.instances.add-metadata");
    let call = Call {
        key: Some("3c9e1f0a7b2d4c6e8f1a0b9c8d7e6f5a4b3c2d1e"),
        resource: &resource,
        zone: Some(vm.zone),
        request: Some(metadata_request(&["startup-script"], &[])),
        ..base(t, proj.id, &v.id, &ip, &ua)
    };
    g.gcp(&call, step(name, Some(Severity::High)));
}

/// An engineer's gcloud credentials replayed from a VPS: an SSH key written into project-wide
/// metadata (every VM of the project accepts it).
pub fn ssh_key_project(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some(v) = victim(g, rng, Kind::GcpEngineer) else {
        return;
    };
    let d = day(g, rng, 1);
    let t = time(g, rng, v.zone, d);
    let (_, ip) = net::attacker_ip(rng);
    let proj = &PROJECTS[v.project];
    let resource = format!("projects/{}", proj.id);
    let ua = attacker_gcloud("compute.project-info.add-metadata");
    let call = Call {
        method: SET_COMMON,
        resource: &resource,
        request: Some(metadata_request(&[], &["ssh-keys"])),
        ..base(t, proj.id, &v.id, &ip, &ua)
    };
    g.gcp(&call, step(name, Some(Severity::Medium)));
}

/// An engineer's credentials from a VPS impersonate the project's Terraform service account
/// and create an OS policy assignment whose `exec` runs on every VM.
pub fn os_policy_exec(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some(v) = victim(g, rng, Kind::GcpEngineer) else {
        return;
    };
    let d = day(g, rng, 1);
    let t = time(g, rng, v.zone, d);
    let (_, ip) = net::attacker_ip(rng);
    let proj = &PROJECTS[v.project];
    let zone = proj.zones[0];
    let sa = format!("terraform@{}.iam.gserviceaccount.com", proj.id);
    let resource = format!(
        "projects/{}/locations/{zone}/osPolicyAssignments/agent-refresh",
        proj.id
    );
    let ua = "grpc-python/1.66.1 grpc-c/43.0.0 (linux; chttp2),gzip(gfe)";
    let call = Call {
        delegator: Some(&v.id),
        service: OSCONFIG,
        method: CREATE_OSPA,
        resource: &resource,
        zone: Some(zone),
        request: Some(ospa_request(proj.id, zone, "agent-refresh", None)),
        log: Log::DataAccess,
        ..base(t, proj.id, &sa, &ip, ua)
    };
    g.gcp(&call, step(name, Some(Severity::High)));
}

/// An engineer's credentials from a VPS grant the IAP tunnel role on the project to an outside
/// account, which opens a tunnel to a VM from another VPS minutes later.
pub fn iap_grant_outsider(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some(v) = victim(g, rng, Kind::GcpEngineer) else {
        return;
    };
    let d = day(g, rng, 1);
    let t = time(g, rng, v.zone, d);
    let (_, ip) = net::attacker_ip(rng);
    let (_, ip2) = net::attacker_ip(rng);
    let proj = &PROJECTS[v.project];
    let resource = format!("projects/{}", proj.id);
    let outsider = "ops.contractor.7731@gmail.com";
    let ua = attacker_gcloud("projects.add-iam-policy-binding");
    let grant = Call {
        service: "cloudresourcemanager.googleapis.com",
        method: "SetIamPolicy",
        resource: &resource,
        request: Some(
            json!({ "@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest", "resource": proj.id }),
        ),
        service_data: Some(json!({
            "@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
            "policyDelta": { "bindingDeltas": [
                { "action": "ADD", "role": "roles/iap.tunnelResourceAccessor", "member": format!("user:{outsider}") }
            ] }
        })),
        lro: false,
        ..base(t, proj.id, &v.id, &ip, &ua)
    };
    g.gcp(&grant, step(name, Some(Severity::Medium)));
    let vms = gce_vms(g.seed, v.project, d);
    let vm = rng.pick(&vms).clone();
    let tunnel = vm.tunnel(proj, 22);
    let use_it = Call {
        time: t + jiff::SignedDuration::from_secs(rng.range(120, 900)),
        email: outsider,
        ip: Some(&ip2),
        ua: "",
        service: "iap.googleapis.com",
        method: "AuthorizeUser",
        resource: &tunnel,
        zone: Some(vm.zone),
        request: None,
        service_data: None,
        log: Log::DataAccess,
        lro: false,
        ..grant.clone()
    };
    g.gcp(&use_it, step(name, Some(Severity::High)));
}

/// An engineer's credentials from a VPS switch off OS Config's Data Access audit logs, then
/// create an OS policy assignment with `exec` on every VM.
pub fn data_access_off(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some(v) = victim(g, rng, Kind::GcpEngineer) else {
        return;
    };
    let d = day(g, rng, 1);
    let t = time(g, rng, v.zone, d);
    let (_, ip) = net::attacker_ip(rng);
    let proj = &PROJECTS[v.project];
    let resource = format!("projects/{}", proj.id);
    let ua = attacker_gcloud("projects.set-iam-policy");
    let off = Call {
        service: "cloudresourcemanager.googleapis.com",
        method: "SetIamPolicy",
        resource: &resource,
        service_data: Some(json!({
            "@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
            "policyDelta": { "auditConfigDeltas": [
                { "action": "REMOVE", "service": "osconfig.googleapis.com", "logType": "DATA_WRITE" },
                { "action": "REMOVE", "service": "osconfig.googleapis.com", "logType": "DATA_READ" }
            ] }
        })),
        lro: false,
        ..base(t, proj.id, &v.id, &ip, &ua)
    };
    g.gcp(&off, step(name, Some(Severity::High)));
    let zone = proj.zones[0];
    let ospa = format!(
        "projects/{}/locations/{zone}/osPolicyAssignments/base-hardening",
        proj.id
    );
    let run = Call {
        time: t + jiff::SignedDuration::from_secs(rng.range(60, 600)),
        service: OSCONFIG,
        method: CREATE_OSPA,
        resource: &ospa,
        zone: Some(zone),
        request: Some(ospa_request(proj.id, zone, "base-hardening", None)),
        service_data: None,
        log: Log::DataAccess,
        lro: true,
        ..off.clone()
    };
    g.gcp(&run, step(name, Some(Severity::High)));
}
