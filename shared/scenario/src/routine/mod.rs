//! Routine activity: every identity kind's habits, drawn from distributions.
//!
//! People follow their zone's working day (start time per person, lunch, evenings now and
//! then), skip their region's holidays and a vacation, join and leave; their daily volume is
//! a per-person lognormal rate times a lognormal day factor (heavy-tailed: most do a little,
//! a few do a lot, and every one has busy days). Machines follow schedules with jitter,
//! skipped runs and retries.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::net::{self, Home, Upgrades};
use crate::org::{Clock, Zone};
use crate::rng::Rng;
use crate::sim::Gen;

pub mod aws_ci;
pub mod aws_machines;
pub mod aws_people;
pub mod azure;
pub mod gcp;

/// Writes the whole organisation's routine.
pub fn generate(g: &mut Gen) {
    let mut names = Names::default();
    aws_people::generate(g, &mut names);
    aws_machines::generate(g);
    azure::generate(g, &mut names);
    gcp::generate(g, &mut names);
}

/// When a person works.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Time zone and holidays.
    pub zone: Zone,
    /// Local minute the working day starts.
    pub start: i64,
    /// Mean calls per working day.
    pub rate: f64,
    /// First day (joined).
    pub from: i64,
    /// Day they stop (left).
    pub to: i64,
    /// Vacation days (from, to exclusive).
    pub vacation: Option<(i64, i64)>,
    /// Share of calls in the evening.
    pub evening: f64,
}

impl Schedule {
    /// A schedule with a lognormal rate of the given median.
    pub fn draw(rng: &mut Rng, zone: Zone, median_rate: f64, days: i64) -> Schedule {
        let vacation = rng.chance(0.45).then(|| {
            let from = rng.range(0, days - 5);
            (from, from + rng.range(5, 12))
        });
        Schedule {
            zone,
            start: rng.range(7 * 60 + 30, 10 * 60 + 15),
            rate: rng.lognormal(median_rate, 0.8),
            from: -365,
            to: i64::MAX,
            vacation,
            evening: rng.unit() * 0.12,
        }
    }

    /// Employed and not away on a day.
    pub fn present(&self, day: i64) -> bool {
        day >= self.from
            && day < self.to
            && !self.vacation.is_some_and(|(a, b)| day >= a && day < b)
    }

    /// A working day for this person.
    pub fn works(&self, clock: &Clock, day: i64) -> bool {
        self.present(day) && clock.workday(self.zone, day)
    }

    /// Calls on a working day (new people ramp up over their first two weeks).
    pub fn calls(&self, rng: &mut Rng, day: i64) -> u64 {
        let ramp = ((day - self.from + 1) as f64 / 10.0).clamp(0.2, 1.0);
        rng.poisson_spread(self.rate * ramp, 0.7)
    }

    /// A time on a working day: the working hours with a lunch dip, sometimes the evening.
    /// Returns the time and whether it is an evening.
    pub fn time(&self, rng: &mut Rng, clock: &Clock, day: i64) -> (Timestamp, bool) {
        if rng.chance(self.evening) {
            let m = rng.range(19 * 60, 23 * 60);
            return (seconds(rng, clock.local(self.zone, day, m)), true);
        }
        loop {
            let m = self.start + rng.range(0, 9 * 60 + 30);
            let lunch = (12 * 60 + 20..13 * 60 + 20).contains(&m);
            if !lunch || rng.chance(0.25) {
                return (seconds(rng, clock.local(self.zone, day, m)), false);
            }
        }
    }
}

/// `t` (a whole minute) at a random second of it: a person's calls are not aligned to the
/// minute, and two in the same minute are two calls.
pub fn seconds(rng: &mut Rng, t: Timestamp) -> Timestamp {
    t + jiff::SignedDuration::from_secs(rng.range(0, 59))
}

/// Where a person connects from and with what.
#[derive(Debug, Clone)]
pub struct Person {
    /// `first.last`.
    pub handle: String,
    /// Display name.
    pub name: String,
    /// Schedule.
    pub sched: Schedule,
    /// Home connection.
    pub home: Home,
    /// Share of office days.
    pub office: f64,
    /// Share of VPN use when not in the office.
    pub vpn: f64,
    /// Laptop OS (AWS SDK spelling).
    pub os: &'static str,
    /// Client upgrades.
    pub upgrades: Upgrades,
    /// Share of calls through the console.
    pub console: f64,
}

impl Person {
    /// Draws a person in a zone.
    pub fn draw(rng: &mut Rng, names: &mut Names, zone: Zone, rate: f64, days: i64) -> Person {
        let (handle, name) = names.next(rng, zone);
        Person {
            handle,
            name,
            sched: Schedule::draw(rng, zone, rate, days),
            home: Home::new(rng, zone),
            office: rng.unit() * 0.8,
            vpn: rng.unit() * 0.6,
            os: net::LAPTOP_OS[rng.below(net::LAPTOP_OS.len() as u64) as usize],
            upgrades: {
                let mean = rng.range(10, 40) as f64;
                Upgrades::new(rng, mean, days)
            },
            console: rng.unit() * rng.unit() * 0.6,
        }
    }

    /// The address of a call. Office days are decided per day (so a day is either at the
    /// office or remote), VPN per call.
    pub fn ip(&mut self, rng: &mut Rng, day: i64, evening: bool) -> String {
        let mut day_rng = Rng::stream(day as u64, &self.handle);
        let at_office = !evening && day_rng.chance(self.office);
        if at_office {
            net::office_ip(rng, self.sched.zone)
        } else if rng.chance(self.vpn) {
            net::vpn_ip(rng)
        } else {
            self.home.ip(rng, day)
        }
    }
}

/// Unique people names per zone.
#[derive(Debug, Default)]
pub struct Names {
    used: BTreeSet<String>,
}

impl Names {
    /// A new `first.last` and display name.
    pub fn next(&mut self, rng: &mut Rng, zone: Zone) -> (String, String) {
        let (first, last): (&[&str], &[&str]) = match zone {
            Zone::NewYork => (
                &[
                    "james", "maria", "david", "sarah", "michael", "jennifer", "robert", "linda",
                    "kevin", "emily", "daniel", "ashley", "chris", "megan", "brian", "laura",
                ],
                &[
                    "smith",
                    "johnson",
                    "garcia",
                    "miller",
                    "davis",
                    "rodriguez",
                    "martinez",
                    "lopez",
                    "wilson",
                    "anderson",
                    "taylor",
                    "moore",
                    "jackson",
                    "nguyen",
                ],
            ),
            Zone::London => (
                &[
                    "oliver", "amelia", "george", "isla", "harry", "ava", "jack", "mia", "charlie",
                    "grace", "thomas", "sophie", "william", "ella", "alfie", "lily",
                ],
                &[
                    "jones", "williams", "brown", "evans", "walker", "wright", "robinson",
                    "thompson", "white", "hughes", "edwards", "green", "hall", "wood",
                ],
            ),
            Zone::Kolkata => (
                &[
                    "arjun", "priya", "rahul", "ananya", "vikram", "sneha", "amit", "pooja",
                    "rohan", "kavya", "sanjay", "divya", "aditya", "neha", "suresh", "isha",
                ],
                &[
                    "sharma",
                    "iyer",
                    "banerjee",
                    "chatterjee",
                    "das",
                    "ghosh",
                    "mukherjee",
                    "sen",
                    "bose",
                    "reddy",
                    "nair",
                    "gupta",
                    "rao",
                    "kumar",
                ],
            ),
        };
        let (f, l) = (*rng.pick(first), *rng.pick(last));
        let mut handle = format!("{f}.{l}");
        let mut n = 2;
        while self.used.contains(&handle) {
            handle = format!("{f}.{l}{n}");
            n += 1;
        }
        self.used.insert(handle.clone());
        let cap = |s: &str| {
            let mut c = s.chars();
            c.next()
                .map(|x| x.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        };
        (handle, format!("{} {}", cap(f), cap(l)))
    }
}

/// Minutes of jitter drawn with a long tail (most runs on time, a few late).
pub fn jitter_secs(rng: &mut Rng, typical: f64) -> i64 {
    (rng.pareto(typical.max(1.0), 2.5) - typical.max(1.0)).min(typical * 20.0) as i64
}
