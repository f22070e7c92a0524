//! The postcard encoding of stored profiles, and the upgrade of records written by older
//! schemas.
//!
//! postcard is not self-describing, so a field added to [`Profile`] makes older records
//! undecodable as the new type. Every postcard read goes through [`decode_profile`] /
//! [`decode_record`]: today's layout first, then the layout of state schema 4 (the fields up
//! to `joins`), converted with [`Profile::upgrade_from_v4`]. The record is written back in
//! today's layout on its next update, so a store upgrades itself as principals act; nothing
//! has to be rebuilt. (The Azure Table store keeps JSON, where the new fields default to
//! empty; it calls the same upgrade when a record lacks them.)

use std::collections::{BTreeMap, VecDeque};

use cadet_core::join::JoinEntry;
use cadet_core::model::Action;
use cadet_core::profile::{Profile, Recent, RecentTarget, Routine, Seen, SeenId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A profile as state schema 4 wrote it.
#[derive(Deserialize, Serialize)]
struct ProfileV4 {
    first_seen: Timestamp,
    last_seen: Timestamp,
    events: u64,
    actions: BTreeMap<Action, u64>,
    networks: Vec<Seen>,
    clients: Vec<Seen>,
    documents: Vec<Seen>,
    targets: Vec<Seen>,
    max_fan_out: u64,
    hours: Vec<u32>,
    recent: VecDeque<Recent>,
    recent_targets: VecDeque<RecentTarget>,
    seen_ids: VecDeque<SeenId>,
    active_hours: Vec<u32>,
    routines: Vec<Routine>,
    accounts: Vec<Seen>,
    joins: Vec<JoinEntry>,
}

impl From<ProfileV4> for Profile {
    fn from(v: ProfileV4) -> Profile {
        let mut p = Profile::new(v.first_seen);
        p.first_seen = v.first_seen;
        p.last_seen = v.last_seen;
        p.events = v.events;
        p.actions = v.actions;
        p.networks = v.networks;
        p.clients = v.clients;
        p.documents = v.documents;
        p.targets = v.targets;
        p.max_fan_out = v.max_fan_out;
        p.hours = v.hours;
        p.recent = v.recent;
        p.recent_targets = v.recent_targets;
        p.seen_ids = v.seen_ids;
        p.active_hours = v.active_hours;
        p.routines = v.routines;
        p.accounts = v.accounts;
        p.joins = v.joins;
        p.upgrade_from_v4();
        p
    }
}

/// A `(version, profile)` record as schema 4 wrote it (the fields schema 5 added dropped), for
/// upgrade tests.
#[cfg(test)]
pub(crate) fn schema_4_record(v: u64, p: &Profile) -> Vec<u8> {
    let old = ProfileV4 {
        first_seen: p.first_seen,
        last_seen: p.last_seen,
        events: p.events,
        actions: p.actions.clone(),
        networks: p.networks.clone(),
        clients: p.clients.clone(),
        documents: p.documents.clone(),
        targets: p.targets.clone(),
        max_fan_out: p.max_fan_out,
        hours: p.hours.clone(),
        recent: p.recent.clone(),
        recent_targets: p.recent_targets.clone(),
        seen_ids: p.seen_ids.clone(),
        active_hours: p.active_hours.clone(),
        routines: p.routines.clone(),
        accounts: p.accounts.clone(),
        joins: p.joins.clone(),
    };
    postcard::to_stdvec(&RecordV4 { v, p: old }).unwrap_or_default()
}

/// Encodes a profile in today's layout.
pub fn encode_profile(p: &Profile) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(p).map_err(|e| e.to_string())
}

/// Decodes a profile written by this schema or by schema 4 (upgraded).
pub fn decode_profile(bytes: &[u8]) -> Result<Profile, String> {
    match postcard::from_bytes::<Profile>(bytes) {
        Ok(p) => Ok(p),
        Err(now) => postcard::from_bytes::<ProfileV4>(bytes)
            .map(Profile::from)
            .map_err(|_| now.to_string()),
    }
}

#[derive(Deserialize)]
struct Record {
    v: u64,
    p: Profile,
}

#[derive(Deserialize, Serialize)]
struct RecordV4 {
    v: u64,
    p: ProfileV4,
}

/// `(version, profile)` as the redb store keeps it.
#[derive(Serialize)]
pub(crate) struct RecordRef<'a> {
    pub v: u64,
    pub p: &'a Profile,
}

/// Decodes a redb record `(version, profile)` of this schema or of schema 4 (upgraded).
pub fn decode_record(bytes: &[u8]) -> Result<(u64, Profile), String> {
    match postcard::from_bytes::<Record>(bytes) {
        Ok(r) => Ok((r.v, r.p)),
        Err(now) => postcard::from_bytes::<RecordV4>(bytes)
            .map(|r| (r.v, Profile::from(r.p)))
            .map_err(|_| now.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadet_core::operations::{code_of, AZURE_OPERATIONS, LEGACY_AWS_LEN};

    fn v4(recent_op: u16) -> ProfileV4 {
        let t = Timestamp::from_second(1_760_000_000).unwrap_or_default();
        let p = Profile::new(t);
        ProfileV4 {
            first_seen: t,
            last_seen: t,
            events: 3,
            actions: BTreeMap::from([(Action::RunCommand, 3)]),
            networks: Vec::new(),
            clients: Vec::new(),
            documents: Vec::new(),
            targets: Vec::new(),
            max_fan_out: 2,
            hours: p.hours.clone(),
            recent: VecDeque::from([Recent {
                time: t,
                op: recent_op,
                action: Action::RunCommand,
                document: None,
                denied: false,
                novel: 0,
            }]),
            recent_targets: VecDeque::new(),
            seen_ids: VecDeque::new(),
            active_hours: vec![1],
            routines: Vec::new(),
            accounts: Vec::new(),
            joins: Vec::new(),
        }
    }

    #[test]
    fn schema_4_records_decode_and_their_azure_codes_are_renumbered() {
        // Schema 4 coded Azure's first operation right after the 18 AWS ones.
        let old = postcard::to_stdvec(&RecordV4 {
            v: 7,
            p: v4(LEGACY_AWS_LEN),
        })
        .unwrap_or_default();
        let (v, p) = decode_record(&old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v, 7);
        assert_eq!(p.events, 3);
        assert_eq!(p.max_fan_out, 2);
        assert!(p.credentials.is_empty());
        assert_eq!(p.recent[0].operation(), AZURE_OPERATIONS[0].name);
        assert_eq!(Some(p.recent[0].op), code_of(AZURE_OPERATIONS[0].name));

        let bare = postcard::to_stdvec(&v4(3)).unwrap_or_default();
        let p = decode_profile(&bare).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.recent[0].op, 3, "AWS codes keep their numbers");

        // Today's layout round-trips unchanged (no renumbering).
        let now = encode_profile(&p).unwrap_or_default();
        assert_eq!(decode_profile(&now), Ok(p));
    }

    #[test]
    fn garbage_is_an_error_naming_todays_layout() {
        match decode_profile(&[0xff, 0xff, 0xff]) {
            Ok(p) => panic!("decoded garbage as {p:?}"),
            Err(e) => assert!(!e.is_empty()),
        }
    }
}
