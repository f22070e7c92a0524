//! The generator's state: clock, fleets, the records written so far, the identities met and
//! the cast of personas the attack library picks its victims from.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::emit::{aws, azure, gcp};
use crate::org::{Clock, Fleet, Zone, SUBS};
use crate::rng::Rng;
use crate::{Cloud, Kind, Label, Record};

/// What the simulator knows about one routine identity.
#[derive(Debug, Clone)]
pub struct IdentityInfo {
    /// Kind.
    pub kind: Kind,
    /// Time zone of a person.
    pub zone: Option<Zone>,
    /// First day of activity (joined).
    pub from: i64,
    /// Day activity stops (left), `i64::MAX` when still there.
    pub to: i64,
}

/// An AWS identity an attack can borrow (its usual habits included, so an attacker can mimic
/// them or not).
#[derive(Debug, Clone)]
pub struct AwsPersona {
    /// Routine identity label.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Caller (session key refreshed by the attack).
    pub caller: aws::Caller,
    /// Usual account (index in [`crate::org::ACCOUNTS`]).
    pub account: usize,
    /// Usual source address.
    pub ip: String,
    /// Usual client.
    pub ua: String,
    /// Machine roles it works on.
    pub roles: Vec<&'static str>,
    /// Time zone of a person.
    pub zone: Option<Zone>,
    /// Instance-profile callers: the `Role` tag of the host the credentials live on.
    pub host: Option<&'static str>,
    /// Active days.
    pub from: i64,
    /// Active until.
    pub to: i64,
}

/// An Azure identity an attack can borrow.
#[derive(Debug, Clone)]
pub struct AzPersona {
    /// Routine identity label.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Caller.
    pub caller: azure::Caller,
    /// Usual subscription (index in [`SUBS`]).
    pub sub: usize,
    /// Resource groups it works on.
    pub rgs: Vec<&'static str>,
    /// Usual source address.
    pub ip: String,
    /// Time zone of a person.
    pub zone: Option<Zone>,
}

/// A Google Cloud identity an attack can borrow.
#[derive(Debug, Clone)]
pub struct GcpPersona {
    /// Routine identity label (the email).
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Usual project (index in [`crate::org::PROJECTS`]).
    pub project: usize,
    /// Usual source address.
    pub ip: String,
    /// Usual client.
    pub ua: String,
    /// Who impersonates it (pipelines).
    pub delegator: Option<String>,
    /// Time zone of a person.
    pub zone: Option<Zone>,
}

/// Generator state.
#[derive(Debug)]
pub struct Gen {
    /// Seed.
    pub seed: u64,
    /// Calendar.
    pub clock: Clock,
    /// Machines.
    pub fleet: Fleet,
    ids: Rng,
    /// Records written.
    pub out: Vec<Record>,
    /// Routine identities.
    pub identities: BTreeMap<String, IdentityInfo>,
    /// AWS personas for the attack library.
    pub aws_cast: Vec<AwsPersona>,
    /// Azure personas for the attack library.
    pub az_cast: Vec<AzPersona>,
    /// Google Cloud personas for the attack library.
    pub gcp_cast: Vec<GcpPersona>,
}

impl Gen {
    /// A generator for a seed and calendar.
    pub fn new(seed: u64, clock: Clock) -> Gen {
        let fleet = Fleet::new(seed, clock.days);
        Gen {
            seed,
            clock,
            fleet,
            ids: Rng::stream(seed, "ids"),
            out: Vec::new(),
            identities: BTreeMap::new(),
            aws_cast: Vec::new(),
            az_cast: Vec::new(),
            gcp_cast: Vec::new(),
        }
    }

    /// An independent random stream for one part of the organisation.
    pub fn stream(&self, salt: &str) -> Rng {
        Rng::stream(self.seed, salt)
    }

    /// Registers a routine identity.
    pub fn register(&mut self, id: &str, kind: Kind, zone: Option<Zone>, from: i64, to: i64) {
        self.identities.insert(
            id.to_string(),
            IdentityInfo {
                kind,
                zone,
                from,
                to,
            },
        );
    }

    /// A fresh id (UUID shaped).
    pub fn uuid(&mut self) -> String {
        self.ids.uuid()
    }

    fn push(&mut self, time: Timestamp, json: String, label: Label, cloud: Cloud) {
        let warmup = time < self.clock.eval_start();
        self.out.push(Record {
            time,
            json,
            label,
            warmup,
            cloud,
        });
    }

    /// Writes an AWS call; now and then EventBridge delivers it twice.
    pub fn aws(&mut self, call: &aws::Call, label: Label) {
        let ids = &mut self.ids;
        let json = aws::event(call, || ids.uuid());
        if self.ids.chance(0.002) {
            let later = call.time + SignedDuration::from_secs(self.ids.range(1, 90));
            self.push(later, json.clone(), label.clone(), Cloud::Aws);
        }
        self.push(call.time, json, label, Cloud::Aws);
    }

    /// Writes an ARM operation: Event Grid for most subscriptions, Activity Log diagnostic
    /// records (two phases) for the platform subscription.
    pub fn azure(&mut self, call: &azure::Call, label: Label) {
        let ids = &mut self.ids;
        // The platform subscription is read from its Activity Log export; so is any call whose
        // request body matters (a VM's custom data): Event Grid would not carry it.
        if call.sub == SUBS[2].id || call.body.is_some() {
            let [start, done] = azure::activity_log(call, || ids.uuid().to_ascii_uppercase());
            // Only the Start record carries the request body: an attack step whose verdict rests
            // on it is expected there, and its Success record is context.
            let done_label = match (&label, call.body) {
                (Label::Attack { name, .. }, Some(_)) => Label::Attack { name, expect: None },
                _ => label.clone(),
            };
            self.push(start.0, start.1, label, Cloud::Azure);
            self.push(done.0, done.1, done_label, Cloud::Azure);
        } else {
            let json = azure::event_grid(call, || ids.uuid());
            if self.ids.chance(0.002) {
                let later = call.time + SignedDuration::from_secs(self.ids.range(5, 300));
                self.push(later, json.clone(), label.clone(), Cloud::Azure);
            }
            self.push(call.time, json, label, Cloud::Azure);
        }
    }
}

impl Gen {
    /// Writes a Google Cloud call: its audit log entry (and the completion entry of a
    /// long-running operation, which is context).
    pub fn gcp(&mut self, call: &gcp::Call, label: Label) {
        let ids = &mut self.ids;
        let entries = gcp::entries(call, || format!("{:x}", ids.below(u64::MAX)));
        for (i, (t, json)) in entries.into_iter().enumerate() {
            let label = match (&label, i) {
                (Label::Attack { name, .. }, 1) => Label::Attack { name, expect: None },
                _ => label.clone(),
            };
            self.push(t, json, label, Cloud::Gcp);
        }
    }
}

/// A routine label.
pub fn routine(identity: &str, kind: Kind) -> Label {
    Label::Routine {
        identity: identity.to_string(),
        kind,
    }
}
