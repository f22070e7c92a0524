//! On-host process events → [`Action::AgentProcess`] events.
//!
//! Shapes read (one struct per family, every field optional, unknown keys skipped):
//! - **flat** Windows records as NXLog / Logstash ship them (`EventID`, `Image`, `ParentImage`,
//!   `CommandLine`, `CurrentDirectory`, `Hostname`, … — Sysmon event 1 and Security 4688 with
//!   `NewProcessName` / `ParentProcessName`), Sysmon for Linux event 1 in the same names, Azure
//!   Monitor / Microsoft Sentinel `SecurityEvent` rows as a Log Analytics export writes them
//!   (`Computer`, `TimeGenerated`, `Account`, `_ResourceId`), and the seed query's names
//!   (`host`, `user`, `process_name`, `process_cmdline`, `parent_process_name`,
//!   `parent_process_cmdline`);
//! - **ECS** (Winlogbeat / Elastic Agent / Auditbeat): `process.*`, `process.parent.*`,
//!   `host.*`, `user.*`, `event.{code, category, type, action}`, `winlog.*`, `cloud.*`;
//!   auditd EXECVE arrives as `event.action: executed` with `process.args`.
//!
//! A process event yields a verdict only when it descends from a cloud agent (**scope by
//! ancestry**): [`AGENT_PATHS`] and [`AGENT_IMAGES`] are the agents' real path fragments and
//! process names. Other process events, and other endpoint events (network, file, logon …),
//! are `Ok(None)`: not errors. The agent path also names the ids the join needs: the SSM agent
//! keeps each command under `…/<instance-id>/document/orchestration/<command-id>/…` (Windows
//! `%PROGRAMDATA%\Amazon\SSM\InstanceData\…`, Linux `/var/lib/amazon/ssm/…`; agent source
//! `amazon-ssm-agent`, `runpluginutil`), Azure Run Command its scripts under the handler's
//! `Downloads` folder (`C:\Packages\Plugins\Microsoft.CPlat.Core.RunCommandWindows\<v>\Downloads\script0.ps1`,
//! `/var/lib/waagent/run-command/download/<n>/script.sh`; managed Run Command
//! `…RunCommandHandlerWindows\<v>\Downloads`, `/var/lib/waagent/run-command-handler/download/`),
//! and the host name is normally the VM name.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::{Envelope, NormalizeError, Str};
use crate::model::{
    Action, Agent, CommandEvent, Host, Outcome, Principal, PrincipalKind, Process, Provider,
    Source, Targets,
};
use crate::signals::{image_base, slashed, SHELL_HOSTS};

/// Path fragments (lowercase, `/` separators) that place a process under an agent's run of
/// caller code, most specific first. The SSM fragments also need `amazon/ssm/` in the same text.
pub const AGENT_PATHS: &[(&str, Agent)] = &[
    ("/document/orchestration/", Agent::SsmRunCommand),
    ("/session/orchestration/", Agent::SsmSession),
    (
        "microsoft.cplat.core.runcommandhandlerwindows",
        Agent::AzureManagedRunCommand,
    ),
    (
        "microsoft.cplat.core.runcommandhandlerlinux",
        Agent::AzureManagedRunCommand,
    ),
    (
        "/waagent/run-command-handler/",
        Agent::AzureManagedRunCommand,
    ),
    (
        "microsoft.cplat.core.runcommandwindows",
        Agent::AzureRunCommand,
    ),
    (
        "microsoft.cplat.core.runcommandlinux",
        Agent::AzureRunCommand,
    ),
    ("/waagent/run-command/", Agent::AzureRunCommand),
    (
        "microsoft.compute.customscriptextension",
        Agent::AzureCustomScript,
    ),
    (
        "microsoft.azure.extensions.customscript",
        Agent::AzureCustomScript,
    ),
    ("/waagent/custom-script/", Agent::AzureCustomScript),
];

/// Agent process names (lowercase image file name without `.exe`): a parent (or the process
/// itself) with one of these names descends from the agent.
pub const AGENT_IMAGES: &[(&str, Agent)] = &[
    ("ssm-document-worker", Agent::SsmRunCommand),
    ("ssm-session-worker", Agent::SsmSession),
    ("amazon-ssm-agent", Agent::SsmAgent),
    ("ssm-agent-worker", Agent::SsmAgent),
    ("windowsazureguestagent", Agent::AzureGuestAgent),
    ("waappagent", Agent::AzureGuestAgent),
    ("collectguestlogs", Agent::AzureGuestAgent),
    ("waagent", Agent::AzureGuestAgent),
];

/// Least specific: the agents' own directories (the guest agent's `C:\WindowsAzure\`, the
/// extension plugin root, the Linux agent's script and state directory).
const AGENT_HOMES: &[(&str, Agent)] = &[
    ("c:/windowsazure/", Agent::AzureGuestAgent),
    ("c:/packages/plugins/", Agent::AzureGuestAgent),
    ("/usr/sbin/waagent", Agent::AzureGuestAgent),
    ("/var/lib/waagent/", Agent::AzureGuestAgent),
    ("/amazon/ssm/", Agent::SsmAgent),
];

/// Flat records: NXLog / Logstash Windows events, Sentinel `SecurityEvent`, the seed's names.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Flat<'a> {
    #[serde(rename = "EventID", borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(rename = "Channel", borrow)]
    channel: Option<Str<'a>>,
    #[serde(rename = "Hostname", borrow)]
    hostname: Option<Str<'a>>,
    #[serde(rename = "Computer", borrow)]
    computer: Option<Str<'a>>,
    /// The seed's host name (NXLog also has `host`: the collector; `Hostname` wins there).
    #[serde(borrow)]
    host: Option<&'a RawValue>,
    #[serde(rename = "Image", borrow)]
    image: Option<Str<'a>>,
    #[serde(rename = "NewProcessName", borrow)]
    new_process_name: Option<Str<'a>>,
    #[serde(borrow)]
    process_name: Option<Str<'a>>,
    #[serde(rename = "CommandLine", borrow)]
    command_line: Option<Str<'a>>,
    #[serde(borrow)]
    process_cmdline: Option<Str<'a>>,
    #[serde(rename = "ParentImage", borrow)]
    parent_image: Option<Str<'a>>,
    #[serde(rename = "ParentProcessName", borrow)]
    parent_process_name_win: Option<Str<'a>>,
    #[serde(borrow)]
    parent_process_name: Option<Str<'a>>,
    #[serde(rename = "ParentCommandLine", borrow)]
    parent_command_line: Option<Str<'a>>,
    #[serde(borrow)]
    parent_process_cmdline: Option<Str<'a>>,
    #[serde(rename = "CurrentDirectory", borrow)]
    current_directory: Option<Str<'a>>,
    #[serde(rename = "User", borrow)]
    user_win: Option<Str<'a>>,
    #[serde(borrow)]
    user: Option<&'a RawValue>,
    #[serde(rename = "Account", borrow)]
    account: Option<Str<'a>>,
    #[serde(rename = "SubjectUserName", borrow)]
    subject_user: Option<Str<'a>>,
    #[serde(rename = "SubjectDomainName", borrow)]
    subject_domain: Option<Str<'a>>,
    #[serde(rename = "TargetUserName", borrow)]
    target_user: Option<Str<'a>>,
    #[serde(rename = "TargetDomainName", borrow)]
    target_domain: Option<Str<'a>>,
    #[serde(rename = "ProcessId", borrow)]
    process_id: Option<&'a RawValue>,
    #[serde(rename = "NewProcessId", borrow)]
    new_process_id: Option<&'a RawValue>,
    #[serde(borrow)]
    pid: Option<&'a RawValue>,
    #[serde(rename = "ProcessGuid", borrow)]
    process_guid: Option<Str<'a>>,
    #[serde(rename = "RecordNumber", borrow)]
    record_number: Option<&'a RawValue>,
    #[serde(rename = "EventRecordId", borrow)]
    event_record_id: Option<&'a RawValue>,
    #[serde(rename = "UtcTime", borrow)]
    utc_time: Option<Str<'a>>,
    #[serde(rename = "@timestamp", borrow)]
    at_timestamp: Option<Str<'a>>,
    #[serde(rename = "TimeGenerated", borrow)]
    time_generated: Option<Str<'a>>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(rename = "_ResourceId", borrow)]
    resource_id: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Ecs<'a> {
    #[serde(rename = "@timestamp", borrow, deserialize_with = "borrowed")]
    timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    event: Option<EcsEvent<'a>>,
    #[serde(borrow)]
    host: Option<EcsHost<'a>>,
    #[serde(borrow)]
    process: Option<EcsProcess<'a>>,
    #[serde(borrow)]
    user: Option<EcsUser<'a>>,
    #[serde(borrow)]
    winlog: Option<Winlog<'a>>,
    #[serde(borrow)]
    cloud: Option<EcsCloud<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsEvent<'a> {
    #[serde(borrow)]
    code: Option<&'a RawValue>,
    #[serde(borrow, deserialize_with = "borrowed")]
    action: Option<Str<'a>>,
    #[serde(borrow)]
    category: Option<&'a RawValue>,
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow, deserialize_with = "borrowed")]
    module: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    id: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsHost<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    name: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    hostname: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    id: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsProcess<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    name: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    executable: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    command_line: Option<Str<'a>>,
    #[serde(borrow)]
    args: Option<Vec<Str<'a>>>,
    pid: Option<u64>,
    #[serde(borrow, deserialize_with = "borrowed")]
    working_directory: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    entity_id: Option<Str<'a>>,
    #[serde(borrow)]
    parent: Option<EcsParent<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsParent<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    name: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    executable: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    command_line: Option<Str<'a>>,
    #[serde(borrow)]
    args: Option<Vec<Str<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsUser<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    name: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    domain: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Winlog<'a> {
    #[serde(borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow)]
    record_id: Option<&'a RawValue>,
    #[serde(borrow, deserialize_with = "borrowed")]
    computer_name: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    channel: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsCloud<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    provider: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    region: Option<Str<'a>>,
    #[serde(borrow)]
    account: Option<EcsId<'a>>,
    #[serde(borrow)]
    instance: Option<EcsInstance<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsId<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    id: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsInstance<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    id: Option<Str<'a>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    name: Option<Str<'a>>,
}

/// `Option<Cow<str>>` that borrows from the input when the string has no escapes. serde's
/// `#[serde(borrow)]` borrows a bare `Cow<str>` only: inside `Option` (or behind the `Str`
/// alias) every string would be copied, read or not.
fn borrowed<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Str<'a>>, D::Error> {
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'a>>::deserialize(d)?.map(|b| b.0))
}

/// A value the envelope kept as a raw slice, read as a string: borrowed when it has no escapes.
/// `Err` when it is not a string; the caller then reads the whole record again with serde, so
/// the error is the one a direct parse reports.
fn raw_str(raw: Option<&RawValue>) -> Result<Option<Str<'_>>, ()> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        // The slice passed the JSON scan: without `\` its characters are the string's.
        Some(inner) if !inner.contains('\\') => Ok(Some(Cow::Borrowed(inner))),
        Some(inner) => match unescape(inner) {
            Some(s) => Ok(Some(Cow::Owned(s))),
            None => serde_json::from_str::<String>(text)
                .map(|s| Some(Cow::Owned(s)))
                .map_err(|_| ()),
        },
        None => Err(()),
    }
}

/// The inside of a JSON string the parser already accepted, with its escapes decoded; `None`
/// for a `\u` escape (left to serde_json). Windows paths are dense with `\\`: decoding them
/// here into one buffer, a run between escapes at a time, beats serde_json's scratch buffer
/// and copy.
fn unescape(inner: &str) -> Option<String> {
    let mut out = Vec::with_capacity(inner.len());
    let mut rest = inner.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        out.extend_from_slice(&rest[..at]);
        out.push(match rest.get(at + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            _ => return None,
        });
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    // Only ASCII bytes were swapped for ASCII bytes: still UTF-8.
    String::from_utf8(out).ok()
}

/// A raw object the envelope kept, parsed into its struct (`Err` as for [`raw_str`]).
fn raw_object<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Result<Option<T>, ()> {
    raw.map(|r| serde_json::from_str(r.get()))
        .transpose()
        .map_err(|_| ())
}

impl<'a> Flat<'a> {
    /// The flat fields out of the envelope's slices (the record is not scanned again).
    fn from_envelope(env: &Envelope<'a>) -> Result<Flat<'a>, ()> {
        Ok(Flat {
            event_id: env.win_event_id,
            channel: raw_str(env.channel)?,
            hostname: raw_str(env.hostname)?,
            computer: raw_str(env.computer)?,
            host: env.host,
            image: raw_str(env.image)?,
            new_process_name: raw_str(env.new_process_name)?,
            process_name: raw_str(env.process_name)?,
            command_line: raw_str(env.command_line)?,
            process_cmdline: raw_str(env.process_cmdline)?,
            parent_image: raw_str(env.parent_image)?,
            parent_process_name_win: raw_str(env.parent_process_name_win)?,
            parent_process_name: raw_str(env.parent_process_name)?,
            parent_command_line: raw_str(env.parent_command_line)?,
            parent_process_cmdline: raw_str(env.parent_process_cmdline)?,
            current_directory: raw_str(env.current_directory)?,
            user_win: raw_str(env.user_win)?,
            user: env.user,
            account: raw_str(env.account_win)?,
            subject_user: raw_str(env.subject_user)?,
            subject_domain: raw_str(env.subject_domain)?,
            target_user: raw_str(env.target_user)?,
            target_domain: raw_str(env.target_domain)?,
            process_id: env.process_id,
            new_process_id: env.new_process_id,
            pid: env.pid,
            process_guid: raw_str(env.process_guid)?,
            record_number: env.record_number,
            event_record_id: env.event_record_id,
            utc_time: raw_str(env.utc_time)?,
            at_timestamp: raw_str(env.at_timestamp)?,
            time_generated: raw_str(env.time_generated)?,
            timestamp: env.timestamp,
            resource_id: raw_str(env.resource_id)?,
        })
    }
}

impl<'a> Ecs<'a> {
    /// The ECS objects out of the envelope's slices (only they are parsed, not the record).
    fn from_envelope(env: &Envelope<'a>) -> Result<Ecs<'a>, ()> {
        Ok(Ecs {
            timestamp: raw_str(env.at_timestamp)?,
            event: raw_object(env.event)?,
            host: raw_object(env.host)?,
            process: raw_object(env.process)?,
            user: raw_object(env.user)?,
            winlog: raw_object(env.winlog)?,
            cloud: raw_object(env.cloud)?,
        })
    }
}

/// The facts of one process start, whatever the shape.
#[derive(Default)]
struct Facts {
    source: &'static str,
    host: String,
    host_id: Option<String>,
    image: String,
    command_line: Option<String>,
    parent_image: Option<String>,
    parent_command_line: Option<String>,
    cwd: Option<String>,
    user: Option<String>,
    pid: Option<u64>,
    record: Option<String>,
    time: Option<String>,
    account: Option<String>,
    region: Option<String>,
    cloud: Option<Provider>,
}

/// A flat record (`EventID` / `Image` / `process_name` present), read from the envelope's
/// slices; `text` is the whole record, parsed again only to report a field of the wrong type.
pub(crate) fn flat(env: &Envelope<'_>, text: &str) -> Result<Option<CommandEvent>, NormalizeError> {
    let f = match Flat::from_envelope(env) {
        Ok(f) => f,
        Err(()) => serde_json::from_str(text).map_err(|e| NormalizeError::json("", e))?,
    };
    let code = f.event_id.map(number_text);
    let sysmon = f
        .channel
        .as_deref()
        .is_some_and(|c| c.to_ascii_lowercase().contains("sysmon"));
    let source = match code.as_deref() {
        Some("1") => "sysmon:1",
        Some("4688") => "security:4688",
        Some(_) => return Ok(None), // another Windows event: not a process start
        None if f.process_name.is_some() => "process",
        None if f.image.is_some() && sysmon => "sysmon:1",
        None => return Ok(None),
    };
    // The values kept are moved out (`Cow::into_owned` copies only what still borrows).
    let image = f
        .image
        .or(f.new_process_name)
        .or(f.process_name)
        .filter(|s| !s.is_empty())
        .ok_or(NormalizeError::Missing(
            "Image (Sysmon), NewProcessName (4688) or process_name",
        ))?
        .into_owned();
    let seed_host = f.host.and_then(string_of);
    let host = f
        .hostname
        .or(f.computer)
        .map(Cow::into_owned)
        .or(seed_host)
        .filter(|s| !s.is_empty())
        .ok_or(NormalizeError::Missing("Hostname, Computer or host"))?;
    let user = f
        .user_win
        .map(Cow::into_owned)
        .or_else(|| f.user.and_then(string_of))
        .or_else(|| {
            let t = f
                .target_user
                .as_deref()
                .filter(|u| !u.is_empty() && *u != "-");
            let (d, u) = match t {
                Some(u) => (f.target_domain.as_deref(), Some(u)),
                None => (f.subject_domain.as_deref(), f.subject_user.as_deref()),
            };
            u.map(|u| match d.filter(|d| !d.is_empty() && *d != "-") {
                Some(d) => format!("{d}\\{u}"),
                None => u.to_string(),
            })
        })
        .or_else(|| f.account.map(Cow::into_owned));
    // 4688: `ProcessId` is the creator; the new process is `NewProcessId`.
    let pid = if source == "security:4688" {
        f.new_process_id.and_then(parse_pid)
    } else {
        f.process_id.or(f.pid).and_then(parse_pid)
    };
    let record = f
        .process_guid
        .map(Cow::into_owned)
        .or_else(|| f.record_number.map(number_text))
        .or_else(|| f.event_record_id.map(number_text));
    let time = f
        .utc_time
        .or(f.time_generated)
        .or(f.at_timestamp)
        .map(Cow::into_owned)
        .or_else(|| f.timestamp.map(number_text));
    let (account, cloud) = match f.resource_id.as_deref().and_then(subscription_of) {
        Some(sub) => (Some(sub), Some(Provider::Azure)),
        None => (None, None),
    };
    let host_id = f.resource_id.map(Cow::into_owned);
    let facts = Facts {
        source,
        host,
        host_id,
        image,
        command_line: f.command_line.or(f.process_cmdline).map(Cow::into_owned),
        parent_image: f
            .parent_image
            .or(f.parent_process_name_win)
            .or(f.parent_process_name)
            .map(Cow::into_owned),
        parent_command_line: f
            .parent_command_line
            .or(f.parent_process_cmdline)
            .map(Cow::into_owned),
        cwd: f.current_directory.map(Cow::into_owned),
        user,
        pid,
        record,
        time,
        account,
        region: None,
        cloud,
    };
    build(facts)
}

/// An ECS record (`process` / `winlog` / `event` objects), read from the envelope's slices;
/// `text` is the whole record, parsed again only to report a field of the wrong type.
pub(crate) fn ecs(env: &Envelope<'_>, text: &str) -> Result<Option<CommandEvent>, NormalizeError> {
    let e = match Ecs::from_envelope(env) {
        Ok(e) => e,
        Err(()) => serde_json::from_str(text).map_err(|e| NormalizeError::json("", e))?,
    };
    let event = e.event.unwrap_or_default();
    let winlog = e.winlog.unwrap_or_default();
    let code = event
        .code
        .or(winlog.event_id)
        .map(number_text)
        .unwrap_or_default();
    let action = event.action.as_deref().unwrap_or("").to_ascii_lowercase();
    let has = |v: Option<&RawValue>, want: &str| {
        v.is_some_and(|raw| {
            let t = raw.get().to_ascii_lowercase();
            t.contains(&format!("\"{want}\""))
        })
    };
    let module = event.module.as_deref().unwrap_or("").to_ascii_lowercase();
    let windows = winlog.channel.is_some() || winlog.event_id.is_some();
    let source = if windows && code == "1" {
        "sysmon:1"
    } else if windows && code == "4688" {
        "security:4688"
    } else if module == "auditd" && (action == "executed" || code.eq_ignore_ascii_case("execve")) {
        "auditd:execve"
    } else if has(event.category, "process")
        && (has(event.kind, "start") || action == "process_started" || action == "exec")
    {
        "ecs:process_start"
    } else {
        return Ok(None);
    };
    let Some(p) = e.process else {
        return Ok(None);
    };
    let args_line = |args: &Option<Vec<Str<'_>>>| {
        args.as_ref()
            .filter(|a| !a.is_empty())
            .map(|a| a.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(" "))
    };
    // The values kept are moved out (`Cow::into_owned` copies only what still borrows).
    let image = p
        .executable
        .or(p.name)
        .filter(|s| !s.is_empty())
        .ok_or(NormalizeError::Missing(
            "process.executable or process.name",
        ))?
        .into_owned();
    let host = e.host.unwrap_or_default();
    let cloud = e.cloud.unwrap_or_default();
    let host_name = host
        .name
        .as_deref()
        .or(host.hostname.as_deref())
        .or(winlog.computer_name.as_deref())
        .or(cloud.instance.as_ref().and_then(|i| i.name.as_deref()))
        .filter(|s| !s.is_empty())
        .ok_or(NormalizeError::Missing("host.name"))?
        .to_string();
    let provider = match cloud
        .provider
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("aws") => Some(Provider::Aws),
        Some("azure") => Some(Provider::Azure),
        _ => None,
    };
    let user = e.user.and_then(|u| {
        let name = u.name?.into_owned();
        Some(match u.domain.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => format!("{d}\\{name}"),
            None => name,
        })
    });
    let parent = p.parent.unwrap_or_default();
    let facts = Facts {
        source,
        host: host_name,
        host_id: cloud
            .instance
            .as_ref()
            .and_then(|i| i.id.as_deref())
            .or(host.id.as_deref())
            .map(str::to_string),
        command_line: p
            .command_line
            .map(Cow::into_owned)
            .or_else(|| args_line(&p.args)),
        parent_image: parent.executable.or(parent.name).map(Cow::into_owned),
        parent_command_line: parent
            .command_line
            .map(Cow::into_owned)
            .or_else(|| args_line(&parent.args)),
        cwd: p.working_directory.map(Cow::into_owned),
        user,
        pid: p.pid,
        record: p
            .entity_id
            .as_deref()
            .or(event.id.as_deref())
            .map(str::to_string)
            .or_else(|| winlog.record_id.map(number_text)),
        time: e.timestamp.map(Cow::into_owned),
        account: cloud
            .account
            .as_ref()
            .and_then(|a| a.id.as_deref())
            .map(str::to_string),
        region: cloud.region.as_deref().map(str::to_string),
        cloud: provider,
        image,
    };
    build(facts)
}

/// Which agent a process descends from, and the join ids its paths reveal.
struct Ancestry {
    agent: Agent,
    ssm_instance: Option<String>,
    ssm_command: Option<String>,
    ssm_session: Option<String>,
}

/// The texts the agent markers are searched in, each lowercased with `/` separators
/// ([`slashed`]) beside the original: the command line (first, when there is one), working
/// directory, image, parent image and parent command line. Built once per event.
fn search_fields(f: &Facts) -> Vec<(String, &str)> {
    [
        f.command_line.as_deref(),
        f.cwd.as_deref(),
        Some(f.image.as_str()),
        f.parent_image.as_deref(),
        f.parent_command_line.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(|s| (slashed(s), s))
    .collect()
}

fn ancestry(f: &Facts, fields: &[(String, &str)]) -> Option<Ancestry> {
    let mut found: Option<Agent> = None;
    'paths: for (marker, agent) in AGENT_PATHS {
        for (lower, _) in fields {
            let ssm = matches!(agent, Agent::SsmRunCommand | Agent::SsmSession);
            if lower.contains(marker) && (!ssm || lower.contains("amazon/ssm/")) {
                found = Some(*agent);
                break 'paths;
            }
        }
    }
    if found.is_none() {
        let parent = f.parent_image.as_deref().map(image_base);
        let own = image_base(&f.image);
        found = AGENT_IMAGES
            .iter()
            .find(|(name, _)| parent.as_deref() == Some(*name))
            .or_else(|| AGENT_IMAGES.iter().find(|(name, _)| own == *name))
            .map(|(_, a)| *a);
    }
    if found.is_none() {
        found = AGENT_HOMES
            .iter()
            .find(|(marker, _)| fields.iter().any(|(l, _)| l.contains(marker)))
            .map(|(_, a)| *a);
    }
    let agent = found?;
    let mut out = Ancestry {
        agent,
        ssm_instance: None,
        ssm_command: None,
        ssm_session: None,
    };
    for (lower, original) in fields {
        if out.ssm_command.is_none() {
            if let Some((instance, id)) = around(lower, original, "/document/orchestration/") {
                out.ssm_instance = instance;
                out.ssm_command = Some(id);
            }
        }
        if out.ssm_session.is_none() {
            if let Some((instance, id)) = around(lower, original, "/session/orchestration/") {
                out.ssm_instance = out.ssm_instance.or(instance);
                out.ssm_session = Some(id);
            }
        }
    }
    Some(out)
}

/// For `…/<instance>/document/orchestration/<id>/…`: the instance id (segment before the
/// marker's first part) and the id after it, in the original case.
fn around(lower: &str, original: &str, marker: &str) -> Option<(Option<String>, String)> {
    // `contains` before `find`: most texts miss, and `contains` has a vectorised search that
    // `find` lacks.
    if !lower.contains("amazon/ssm/") || !lower.contains(marker) {
        return None;
    }
    let at = lower.find(marker)?;
    // Lowercasing ASCII and swapping `\` for `/` keep byte offsets.
    let after = &original[at + marker.len()..];
    let end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(after.len());
    let id = after[..end].to_string();
    if id.is_empty() {
        return None;
    }
    let before = &lower[..at];
    let instance = before
        .rsplit('/')
        .next()
        .filter(|s| s.starts_with("i-") || s.starts_with("mi-"))
        .map(|s| s.to_string());
    Some((instance, id))
}

/// Whether a shell host runs the agent's own copy of the script it was sent (rather than
/// being started by that script). `cmd` is the command line [`slashed`].
fn is_wrapper(f: &Facts, base: &str, cmd: &str) -> bool {
    if !SHELL_HOSTS.contains(&base) {
        return false;
    }
    let parent = f
        .parent_image
        .as_deref()
        .map(image_base)
        .unwrap_or_default();
    if SHELL_HOSTS.contains(&parent.as_str()) {
        return false;
    }
    const SCRIPT_FILES: &[&str] = &[
        "/_script.ps1",
        "/_script.sh",
        "/downloads/script",
        "/download/",
    ];
    AGENT_PATHS.iter().any(|(m, _)| cmd.contains(m)) && SCRIPT_FILES.iter().any(|s| cmd.contains(s))
}

fn build(f: Facts) -> Result<Option<CommandEvent>, NormalizeError> {
    let fields = search_fields(&f);
    let Some(anc) = ancestry(&f, &fields) else {
        return Ok(None);
    };
    let time_text = f.time.as_deref().ok_or(NormalizeError::Missing(
        "UtcTime, @timestamp, TimeGenerated or timestamp",
    ))?;
    let event_time = parse_time(time_text)?;
    let base = image_base(&f.image);
    let cmd = match (&f.command_line, fields.first()) {
        (Some(_), Some((lower, _))) => lower.as_str(),
        _ => "",
    };
    let wrapper = is_wrapper(&f, &base, cmd);
    let event_id = match &f.record {
        Some(r) => format!("{}:{}:{}", f.host.to_ascii_lowercase(), f.source, r),
        None => {
            let mut h = Sha256::new();
            for part in [
                f.host.as_str(),
                time_text,
                f.image.as_str(),
                f.command_line.as_deref().unwrap_or(""),
                &f.pid.map(|p| p.to_string()).unwrap_or_default(),
            ] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            let digest = h.finalize();
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            format!("{}:{}:{hex}", f.host.to_ascii_lowercase(), f.source)
        }
    };
    // From here the facts move into the event; only values it holds twice are copied.
    let Ancestry {
        agent,
        ssm_instance,
        ssm_command,
        ssm_session,
    } = anc;
    let provider = f.cloud.unwrap_or(agent.provider());
    let host_id = ssm_instance.or(f.host_id);
    let user = f.user.filter(|u| !u.is_empty());
    let name = f
        .image
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(&f.image)
        .to_string();
    let parent_name = f
        .parent_image
        .as_deref()
        .map(|p| p.rsplit(['\\', '/']).next().unwrap_or(p).to_string());
    let command_id = match agent {
        Agent::SsmSession => ssm_session.or(ssm_command),
        _ => ssm_command.or(ssm_session),
    };
    let target = host_id.clone().unwrap_or_else(|| f.host.clone());
    Ok(Some(CommandEvent {
        provider,
        event_id,
        correlation_id: None,
        event_time,
        account: f.account.unwrap_or_else(|| "unknown".to_string()),
        tenant: None,
        region: f.region,
        operation: f.source.to_string(),
        action: Action::AgentProcess,
        principal: Principal {
            id: user.clone().unwrap_or_else(|| "unknown".to_string()),
            kind: Some(PrincipalKind::Unknown),
            name: user.clone(),
            ..Principal::default()
        },
        source: Source::default(),
        targets: Targets {
            ids: vec![target],
            selector: None,
            count: Some(1),
        },
        document: None,
        outcome: Outcome::Success,
        error_code: None,
        max_errors: None,
        phase: None,
        command_id,
        shared_with: Vec::new(),
        command_text: f.command_line.clone().filter(|c| !c.is_empty()),
        enrichment_error: None,
        deleted_before_read: false,
        host: Some(Host {
            name: f.host,
            id: host_id,
        }),
        process: Some(Process {
            name,
            path: Some(f.image),
            command_line: f.command_line,
            parent_name,
            parent_command_line: f.parent_command_line,
            working_directory: f.cwd,
            pid: f.pid,
            user,
            agent: Some(agent),
            agent_wrapper: wrapper,
        }),
        related: Vec::new(),
        tamper: None,
    }))
}

/// Sysmon `UtcTime` (`2020-08-06 07:20:07.636`, UTC without a zone), RFC 3339, or epoch
/// milliseconds (Sumo `_messagetime`).
fn parse_time(text: &str) -> Result<jiff::Timestamp, NormalizeError> {
    let t = text.trim().trim_matches('"');
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = t.parse().map_err(|_| NormalizeError::Invalid {
            field: "timestamp",
            reason: format!("{t:?} is not epoch milliseconds"),
        })?;
        return jiff::Timestamp::from_millisecond(ms).map_err(|e| NormalizeError::Invalid {
            field: "timestamp",
            reason: e.to_string(),
        });
    }
    let iso: Cow<'_, str> = if t.len() > 10 && t.as_bytes()[10] == b' ' {
        // Sysmon's zone-less form fails the first parse below and passes with `Z` appended: try
        // that first (a text that parses with `Z` appended cannot parse without it).
        if let Ok(ts) = format!("{}T{}Z", &t[..10], &t[11..]).parse::<jiff::Timestamp>() {
            return Ok(ts);
        }
        Cow::Owned(format!("{}T{}", &t[..10], &t[11..]))
    } else {
        Cow::Borrowed(t)
    };
    super::azure::parse_time(&iso, "UtcTime / @timestamp / TimeGenerated")
}

/// A JSON number or string as text (`1`, `"1"` → `1`).
fn number_text(raw: &RawValue) -> String {
    let t = raw.get().trim();
    // Only a string can decode as one: a number goes straight to its text (decoding it as a
    // string first would build, and drop, a serde error per record).
    if t.starts_with('"') {
        if let Ok(s) = serde_json::from_str::<String>(t) {
            return s;
        }
    }
    t.to_string()
}

fn string_of(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

/// `6424`, `"6424"`, `"0x1ec0"` → the pid.
fn parse_pid(raw: &RawValue) -> Option<u64> {
    let t = number_text(raw);
    let t = t.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

fn subscription_of(resource_id: &str) -> Option<String> {
    let lower = resource_id.to_ascii_lowercase();
    let rest = lower.strip_prefix("/subscriptions/")?;
    let sub = rest.split('/').next()?;
    (!sub.is_empty()).then(|| resource_id["/subscriptions/".len()..][..sub.len()].to_string())
}

/// The VM name a host name stands for (`MORDORDC.theshire.local` → `mordordc`), or the last
/// segment of a VM resource id.
pub fn vm_name(host: &Host) -> String {
    if let Some(id) = host.id.as_deref() {
        let lower = id.to_ascii_lowercase();
        if let Some(at) = lower.rfind("/virtualmachines/") {
            return lower[at + "/virtualmachines/".len()..]
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();
        }
    }
    host.name
        .split('.')
        .next()
        .unwrap_or(&host.name)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssm_ids_come_out_of_windows_and_linux_paths() {
        let win = r"C:\ProgramData\Amazon\SSM\InstanceData\i-0a1b2c3d4e5f67890\document\orchestration\8d2f1c3e-5b6a-4c7d-9e0f-1a2b3c4d5e6f\awsrunPowerShellScript\0.awsrunPowerShellScript\_script.ps1";
        let (i, c) = around(&slashed(win), win, "/document/orchestration/").unwrap_or_default();
        assert_eq!(i.as_deref(), Some("i-0a1b2c3d4e5f67890"));
        assert_eq!(c, "8d2f1c3e-5b6a-4c7d-9e0f-1a2b3c4d5e6f");
        let linux = "/var/lib/amazon/ssm/i-0123456789abcdef0/document/orchestration/11112222-3333-4444-5555-666677778888/awsrunShellScript/0.awsrunShellScript/_script.sh";
        let (i, c) = around(&slashed(linux), linux, "/document/orchestration/").unwrap_or_default();
        assert_eq!(i.as_deref(), Some("i-0123456789abcdef0"));
        assert_eq!(c, "11112222-3333-4444-5555-666677778888");
        assert!(around(
            "/tmp/document/orchestration/x",
            "/tmp/document/orchestration/x",
            "/document/orchestration/"
        )
        .is_none());
    }

    #[test]
    fn times_pids_and_vm_names() {
        assert!(parse_time("2020-08-06 07:20:07.636").is_ok());
        assert!(parse_time("2020-08-06T07:20:08.896Z").is_ok());
        assert!(parse_time("1790000000000").is_ok());
        assert!(parse_time("yesterday").is_err());
        let raw = |s: &str| {
            serde_json::from_str::<&RawValue>(s)
                .map(parse_pid)
                .ok()
                .flatten()
        };
        assert_eq!(raw("\"0x1ec0\""), Some(0x1ec0));
        assert_eq!(raw("6424"), Some(6424));
        assert_eq!(raw("\"6424\""), Some(6424));
        let host = Host {
            name: "MORDORDC.theshire.local".into(),
            id: None,
        };
        assert_eq!(vm_name(&host), "mordordc");
        let host = Host {
            name: "x".into(),
            id: Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/Web-01".into()),
        };
        assert_eq!(vm_name(&host), "web-01");
    }
}
