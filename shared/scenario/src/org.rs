//! The organisation's fixed facts: calendar and time zones, AWS accounts and Azure
//! subscriptions, and the machine fleets whose members are replaced over the weeks.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::rng::Rng;

/// Where a person works: a time zone and the region whose public holidays they keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Zone {
    /// America/New_York.
    NewYork,
    /// Europe/London.
    London,
    /// Asia/Kolkata.
    Kolkata,
}

impl Zone {
    /// Every zone.
    pub const ALL: [Zone; 3] = [Zone::NewYork, Zone::London, Zone::Kolkata];

    /// IANA name.
    pub fn tz_name(self) -> &'static str {
        match self {
            Zone::NewYork => "America/New_York",
            Zone::London => "Europe/London",
            Zone::Kolkata => "Asia/Kolkata",
        }
    }

    /// Public holidays of the region (autumn 2026 and the turn of the year; a date outside
    /// the simulated weeks is simply never reached).
    fn holidays(self) -> &'static [&'static str] {
        match self {
            // Labor Day, Columbus Day (company holiday), Thanksgiving, Christmas.
            Zone::NewYork => &["2026-09-07", "2026-10-12", "2026-11-26", "2026-12-25"],
            // Christmas, Boxing Day (the summer bank holiday falls before the weeks).
            Zone::London => &["2026-12-25", "2026-12-28"],
            // Gandhi Jayanti, Dussehra, Diwali.
            Zone::Kolkata => &["2026-10-02", "2026-10-20", "2026-11-09"],
        }
    }
}

/// The simulated weeks: day 0 is a Monday; days are counted in each zone's own calendar.
#[derive(Debug, Clone)]
pub struct Clock {
    /// First day.
    pub start: Date,
    /// Days of warm-up (the baseline starts empty).
    pub warm_days: i64,
    /// All days (warm-up and evaluation).
    pub days: i64,
    zones: [TimeZone; 3],
}

impl Clock {
    /// A clock starting on Monday 2026-09-07.
    pub fn new(warm_days: i64, days: i64) -> Clock {
        let tz = |z: Zone| TimeZone::get(z.tz_name()).unwrap_or(TimeZone::UTC);
        Clock {
            start: jiff::civil::date(2026, 9, 7),
            warm_days,
            days,
            zones: [tz(Zone::NewYork), tz(Zone::London), tz(Zone::Kolkata)],
        }
    }

    /// The calendar date of a day.
    pub fn date(&self, day: i64) -> Date {
        self.start
            .checked_add(jiff::Span::new().days(day))
            .unwrap_or(self.start)
    }

    /// Monday to Friday.
    pub fn weekday(&self, day: i64) -> bool {
        day.rem_euclid(7) < 5
    }

    /// A working day in a zone: a weekday that is not a public holiday there.
    pub fn workday(&self, zone: Zone, day: i64) -> bool {
        self.weekday(day) && !self.holiday(zone, day)
    }

    /// A public holiday in a zone.
    pub fn holiday(&self, zone: Zone, day: i64) -> bool {
        let d = self.date(day).to_string();
        zone.holidays().contains(&d.as_str())
    }

    /// Local wall-clock time (minutes after local midnight, may run past 24 h) in a zone.
    pub fn local(&self, zone: Zone, day: i64, minute: i64) -> Timestamp {
        let tz = &self.zones[zone as usize];
        let midnight = self.date(day).to_datetime(jiff::civil::Time::midnight());
        let base = tz
            .to_ambiguous_timestamp(midnight)
            .compatible()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        base + SignedDuration::from_secs(minute * 60)
    }

    /// UTC time: day and minutes after midnight.
    pub fn utc(&self, day: i64, minute: i64) -> Timestamp {
        let midnight = self
            .date(day)
            .to_datetime(jiff::civil::Time::midnight())
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        midnight + SignedDuration::from_secs(minute * 60)
    }

    /// Start of the evaluation weeks.
    pub fn eval_start(&self) -> Timestamp {
        self.utc(self.warm_days, 0)
    }
}

/// One AWS account.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    /// Short name (environment).
    pub name: &'static str,
    /// Account id.
    pub id: &'static str,
    /// Regions with workloads (first: the home region).
    pub regions: &'static [&'static str],
}

/// The organisation's AWS accounts.
pub const ACCOUNTS: [Account; 5] = [
    Account {
        name: "prod",
        id: "111111111111",
        regions: &["us-east-1", "eu-west-1", "ap-south-1"],
    },
    Account {
        name: "stage",
        id: "222222222222",
        regions: &["us-east-1", "eu-west-1"],
    },
    Account {
        name: "dev",
        id: "333333333333",
        regions: &["eu-west-1"],
    },
    Account {
        name: "shared",
        id: "444444444444",
        regions: &["us-east-1"],
    },
    Account {
        name: "data",
        id: "555555555555",
        regions: &["eu-west-1", "us-east-1"],
    },
];
/// Index of each account in [`ACCOUNTS`].
pub const PROD: usize = 0;
/// Staging.
pub const STAGE: usize = 1;
/// Development.
pub const DEV: usize = 2;
/// Shared services (CI runners, tooling).
pub const SHARED: usize = 3;
/// Data platform.
pub const DATA: usize = 4;
/// An account vended during the weeks that no routine identity uses.
pub const NEW_ACCOUNT: &str = "666666666666";

/// One Azure subscription.
#[derive(Debug, Clone, Copy)]
pub struct Subscription {
    /// Short name.
    pub name: &'static str,
    /// Subscription id.
    pub id: &'static str,
}

/// The organisation's Entra tenant.
pub const TENANT: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
/// The organisation's Azure subscriptions (the last one exports its Activity Log through
/// diagnostic settings instead of Event Grid).
pub const SUBS: [Subscription; 3] = [
    Subscription {
        name: "prod",
        id: "0a0a0a0a-1111-4222-8333-444444444444",
    },
    Subscription {
        name: "nonprod",
        id: "0b0b0b0b-1111-4222-8333-444444444444",
    },
    Subscription {
        name: "platform",
        id: "0c0c0c0c-1111-4222-8333-444444444444",
    },
];

/// An EC2 instance and its lifetime.
#[derive(Debug, Clone)]
pub struct Instance {
    /// `i-…`.
    pub id: String,
    /// Index in [`ACCOUNTS`].
    pub account: usize,
    /// Region.
    pub region: &'static str,
    /// `Role` tag (web, app, worker, db, batch, win, bastion, tools, etl).
    pub role: &'static str,
    /// Windows (PowerShell documents, `PatchGroup=windows-…`).
    pub windows: bool,
    /// First day alive (negative: before the weeks).
    pub from: i64,
    /// Day it was terminated (exclusive); `i64::MAX` when alive at the end.
    pub to: i64,
    /// Private address (for instance-profile callers behind a VPC endpoint).
    pub private_ip: String,
}

/// An Azure VM and its lifetime.
#[derive(Debug, Clone)]
pub struct Vm {
    /// Index in [`SUBS`].
    pub sub: usize,
    /// Resource group.
    pub rg: &'static str,
    /// VM name.
    pub name: String,
    /// Windows.
    pub windows: bool,
    /// First day alive.
    pub from: i64,
    /// Day it was deleted (exclusive).
    pub to: i64,
}

impl Vm {
    /// ARM resource id.
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{}",
            SUBS[self.sub].id, self.rg, self.name
        )
    }
}

/// (account, role, slots, mean lifetime in days, windows).
const EC2: &[(usize, &str, usize, f64, bool)] = &[
    (PROD, "web", 12, 9.0, false),
    (PROD, "app", 10, 12.0, false),
    (PROD, "worker", 14, 5.0, false),
    (PROD, "db", 4, 90.0, false),
    (PROD, "batch", 6, 6.0, false),
    (PROD, "win", 6, 25.0, true),
    (PROD, "bastion", 2, 30.0, false),
    (STAGE, "web", 4, 7.0, false),
    (STAGE, "app", 4, 7.0, false),
    (STAGE, "worker", 6, 4.0, false),
    (STAGE, "db", 2, 60.0, false),
    (STAGE, "win", 2, 20.0, true),
    (DEV, "web", 3, 5.0, false),
    (DEV, "app", 4, 5.0, false),
    (DEV, "worker", 3, 4.0, false),
    (DEV, "sandbox", 10, 6.0, false),
    (SHARED, "tools", 4, 40.0, false),
    (SHARED, "runner", 8, 3.0, false),
    (DATA, "etl", 6, 8.0, false),
    (DATA, "db", 3, 90.0, false),
];

/// (subscription, resource group, slots, mean lifetime in days, windows).
const AZ_VMS: &[(usize, &str, usize, f64, bool)] = &[
    (0, "rg-web", 6, 30.0, false),
    (0, "rg-app", 8, 25.0, false),
    (0, "rg-data", 3, 120.0, false),
    (0, "rg-win", 5, 40.0, true),
    (0, "rg-batch", 6, 10.0, false),
    (1, "rg-web-dev", 4, 12.0, false),
    (1, "rg-app-dev", 5, 12.0, false),
    (1, "rg-test", 6, 6.0, true),
    (2, "rg-ops", 3, 60.0, false),
    (2, "rg-build", 4, 15.0, true),
];

/// Every machine of the weeks, on both clouds.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// EC2 instances, replaced over time.
    pub instances: Vec<Instance>,
    /// Azure VMs, rebuilt over time.
    pub vms: Vec<Vm>,
}

impl Fleet {
    /// Draws the fleets: each slot holds a succession of machines with exponential lifetimes.
    pub fn new(seed: u64, days: i64) -> Fleet {
        let mut rng = Rng::stream(seed, "fleet");
        let mut instances = Vec::new();
        for &(account, role, slots, life, windows) in EC2 {
            let regions = ACCOUNTS[account].regions;
            for slot in 0..slots {
                let region = regions[slot % regions.len()];
                let mut from = -(rng.exponential(life * 3.0) as i64) - 1;
                while from < days {
                    let to = from + 1 + rng.exponential(life) as i64;
                    let subnet = 10 + account * 10 + slot % 3;
                    instances.push(Instance {
                        id: format!("i-0{}", rng.hex(16)),
                        account,
                        region,
                        role,
                        windows,
                        from,
                        to: if to >= days { i64::MAX } else { to },
                        private_ip: format!(
                            "10.{subnet}.{}.{}",
                            rng.range(1, 30),
                            rng.range(4, 250)
                        ),
                    });
                    from = to;
                }
            }
        }
        let mut vms = Vec::new();
        for &(sub, rg, slots, life, windows) in AZ_VMS {
            let stem = rg.trim_start_matches("rg-");
            let mut n = 0;
            for _ in 0..slots {
                let mut from = -(rng.exponential(life * 3.0) as i64) - 1;
                while from < days {
                    n += 1;
                    let to = from + 1 + rng.exponential(life) as i64;
                    vms.push(Vm {
                        sub,
                        rg,
                        name: format!("vm-{stem}-{n:02}"),
                        windows,
                        from,
                        to: if to >= days { i64::MAX } else { to },
                    });
                    from = to;
                }
            }
        }
        Fleet { instances, vms }
    }

    /// Instances of an account (and role, when given) alive on a day.
    pub fn alive(&self, account: usize, role: Option<&str>, day: i64) -> Vec<&Instance> {
        self.instances
            .iter()
            .filter(|i| i.account == account && i.from <= day && day < i.to)
            .filter(|i| role.is_none_or(|r| i.role == r))
            .collect()
    }

    /// VMs of a subscription (and resource group, when given) alive on a day.
    pub fn vms_alive(&self, sub: usize, rg: Option<&str>, day: i64) -> Vec<&Vm> {
        self.vms
            .iter()
            .filter(|v| v.sub == sub && v.from <= day && day < v.to)
            .filter(|v| rg.is_none_or(|r| v.rg == r))
            .collect()
    }

    /// Roles present in an account.
    pub fn roles(account: usize) -> Vec<&'static str> {
        let mut r: Vec<&str> = EC2.iter().filter(|e| e.0 == account).map(|e| e.1).collect();
        r.dedup();
        r
    }

    /// Resource groups of a subscription.
    pub fn resource_groups(sub: usize) -> Vec<&'static str> {
        AZ_VMS.iter().filter(|e| e.0 == sub).map(|e| e.1).collect()
    }

    /// Machines that replaced an earlier one during the weeks (instances and VMs).
    pub fn replacements(&self, days: i64) -> usize {
        self.instances
            .iter()
            .filter(|i| i.from > 0 && i.from < days)
            .count()
            + self
                .vms
                .iter()
                .filter(|v| v.from > 0 && v.from < days)
                .count()
    }
}

/// One Google Cloud project and the managed instance groups it runs.
#[derive(Debug, Clone, Copy)]
pub struct Project {
    /// Project id.
    pub id: &'static str,
    /// Project number (IAP tunnel resource names use it).
    pub number: &'static str,
    /// Zones with VMs.
    pub zones: &'static [&'static str],
    /// Managed instance groups: base name and size. Their VMs are recreated with new name
    /// suffixes at each rollout, every week or two.
    pub groups: &'static [(&'static str, u64)],
    /// Whether OS Login is off (then `gcloud compute ssh` writes SSH keys into metadata).
    pub metadata_ssh_keys: bool,
}

/// The organisation's Google Cloud projects.
pub const PROJECTS: [Project; 3] = [
    Project {
        id: "acme-prod-web-4711",
        number: "381726354019",
        zones: &["europe-west1-b", "europe-west1-c", "us-east1-b"],
        groups: &[("web", 6), ("api", 4), ("worker", 5)],
        metadata_ssh_keys: false,
    },
    Project {
        id: "acme-data-0042",
        number: "502918273645",
        zones: &["europe-west1-b", "europe-west1-d"],
        groups: &[("etl", 4), ("db", 3), ("airflow", 2)],
        metadata_ssh_keys: false,
    },
    Project {
        id: "acme-ops-9001",
        number: "660011223344",
        zones: &["europe-west1-b"],
        groups: &[("bastion", 2), ("tools", 3), ("ci-runner", 6)],
        metadata_ssh_keys: true,
    },
];

/// A Compute Engine VM of the fleet on a day.
#[derive(Debug, Clone)]
pub struct GceVm {
    /// Zone.
    pub zone: &'static str,
    /// Instance name (`web-x7k2`).
    pub name: String,
    /// Numeric instance id.
    pub numeric: u64,
    /// Managed instance group.
    pub group: &'static str,
}

impl GceVm {
    /// `projects/P/zones/Z/instances/NAME`.
    pub fn resource(&self, project: &Project) -> String {
        format!(
            "projects/{}/zones/{}/instances/{}",
            project.id, self.zone, self.name
        )
    }

    /// The IAP tunnel resource of the VM on a port.
    pub fn tunnel(&self, project: &Project, port: u16) -> String {
        format!(
            "projects/{}/iap_tunnel/zones/{}/instances/{}/{port}",
            project.number, self.zone, self.numeric
        )
    }
}

/// The VMs of a project on a day: each group's VMs carry the suffix of its current rollout.
pub fn gce_vms(seed: u64, project: usize, day: i64) -> Vec<GceVm> {
    let p = &PROJECTS[project];
    let mut out = Vec::new();
    for (g, (group, size)) in p.groups.iter().enumerate() {
        let salt = format!("{}/{group}", p.id);
        let mut rng = Rng::stream(seed, &salt);
        let period = rng.range(7, 15);
        let offset = rng.range(0, period);
        let generation = (day + offset).div_euclid(period);
        for k in 0..*size {
            let h = crate::emit::fnv(&format!("{seed}/{salt}/{generation}/{k}"));
            let suffix: String = (0..4)
                .map(|i| {
                    char::from(b"abcdefghjkmnpqrstuvwxyz23456789"[((h >> (i * 5)) % 31) as usize])
                })
                .collect();
            out.push(GceVm {
                zone: p.zones[(g + k as usize) % p.zones.len()],
                name: format!("{group}-{suffix}"),
                numeric: 1_000_000_000_000_000_000 + h % 8_000_000_000_000_000_000,
                group,
            });
        }
    }
    out
}
