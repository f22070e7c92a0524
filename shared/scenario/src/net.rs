//! Where calls come from (corporate egress, VPN, home ISPs, cloud runner pools, VPC endpoints,
//! attacker infrastructure) and with which clients (user agents and Azure client apps), with
//! version bumps over the weeks.

use crate::org::Zone;
use crate::rng::Rng;

/// A public address block: first two octets fixed, the rest drawn.
type Block = (u8, u8);

/// Corporate egress NAT pools per office (several /24s of one owner).
pub fn office_ip(rng: &mut Rng, zone: Zone) -> String {
    let pools: &[(u8, u8, u8)] = match zone {
        Zone::NewYork => &[(64, 124, 161), (64, 124, 162), (64, 124, 166)],
        Zone::London => &[(62, 31, 40), (62, 31, 41), (62, 31, 44)],
        Zone::Kolkata => &[(115, 112, 90), (115, 112, 91)],
    };
    let (a, b, c) = *rng.pick(pools);
    format!("{a}.{b}.{c}.{}", rng.range(2, 30))
}

/// The corporate VPN concentrators' egress (one /24).
pub fn vpn_ip(rng: &mut Rng) -> String {
    format!("193.105.73.{}", rng.range(10, 40))
}

/// A residential connection whose address changes now and then (DHCP lease, router reboot).
#[derive(Debug, Clone)]
pub struct Home {
    blocks: &'static [Block],
    ip: String,
    next_change: i64,
}

impl Home {
    /// A home connection in a region.
    pub fn new(rng: &mut Rng, zone: Zone) -> Home {
        let blocks: &'static [Block] = match zone {
            // Comcast, Verizon.
            Zone::NewYork => match rng.below(2) {
                0 => &[(73, 0), (73, 100), (24, 60), (98, 200)],
                _ => &[(71, 105), (108, 30), (173, 56)],
            },
            // BT, Virgin Media.
            Zone::London => match rng.below(2) {
                0 => &[(86, 128), (81, 150), (109, 150)],
                _ => &[(82, 0), (86, 0), (92, 233)],
            },
            // Jio, Airtel.
            Zone::Kolkata => match rng.below(2) {
                0 => &[(49, 36), (49, 37), (157, 32)],
                _ => &[(122, 161), (106, 210), (182, 64)],
            },
        };
        let mut h = Home {
            blocks,
            ip: String::new(),
            next_change: 0,
        };
        h.renew(rng, -1);
        h
    }

    fn renew(&mut self, rng: &mut Rng, day: i64) {
        // An ISP's block is drawn loosely (40 second octets), and some of those /16s hold a
        // cloud provider's published ranges: a person's home never does, so such a draw is
        // drawn again.
        for _ in 0..32 {
            let (a, b) = *rng.pick(self.blocks);
            self.ip = format!(
                "{a}.{}.{}.{}",
                b.saturating_add(rng.range(0, 40) as u8),
                rng.range(0, 255),
                rng.range(1, 254)
            );
            if !cadet_core::owner::owner_of(Some(&self.ip)).is_some_and(|o| o.hosting) {
                break;
            }
        }
        self.next_change = day + 1 + rng.exponential(21.0) as i64;
    }

    /// The address on a day (days must not go backwards).
    pub fn ip(&mut self, rng: &mut Rng, day: i64) -> String {
        if day >= self.next_change {
            self.renew(rng, day);
        }
        self.ip.clone()
    }
}

fn in_blocks(rng: &mut Rng, blocks: &[(u8, u8, u8)]) -> String {
    let (a, lo, hi) = *rng.pick(blocks);
    format!(
        "{a}.{}.{}.{}",
        rng.range(i64::from(lo), i64::from(hi)),
        rng.range(0, 255),
        rng.range(1, 254)
    )
}

/// Microsoft Azure public space (GitHub-hosted runners, Azure DevOps hosted agents, Azure
/// services' outbound addresses): first octet and a range of second octets, each checked
/// against the providers' published ranges (cadet-network's table: 150 draws per block, all
/// Microsoft's).
const AZURE: &[(u8, u8, u8)] = &[
    (4, 150, 255),
    (13, 64, 95),
    (20, 36, 127),
    (52, 148, 191),
    (104, 40, 47),
    (104, 208, 215),
];

/// AWS public space (EIPs, NAT gateways, Lambda egress), checked the same way.
const AWS: &[(u8, u8, u8)] = &[
    (3, 208, 255),
    (18, 200, 235),
    (34, 192, 255),
    (35, 152, 183),
    (44, 192, 230),
    (52, 0, 95),
    (54, 64, 95),
    (54, 144, 255),
];

/// A GitHub-hosted runner or an Azure DevOps hosted agent: a new Azure address nearly every
/// run.
pub fn azure_pool_ip(rng: &mut Rng) -> String {
    in_blocks(rng, AZURE)
}

/// An address in AWS's public space.
pub fn aws_ip(rng: &mut Rng) -> String {
    in_blocks(rng, AWS)
}

/// Attacker infrastructure: rented VPS, hosting and anonymising VPN exits (owner, address).
pub fn attacker_ip(rng: &mut Rng) -> (&'static str, String) {
    let blocks: &[(&str, u8, u8)] = &[
        ("DigitalOcean", 159, 89),
        ("DigitalOcean", 167, 99),
        ("DigitalOcean", 138, 68),
        ("Vultr", 45, 76),
        ("Vultr", 45, 32),
        ("OVH", 51, 75),
        ("OVH", 145, 239),
        ("Hetzner", 95, 217),
        ("Hetzner", 65, 21),
        ("Linode", 172, 105),
        ("M247 (VPN exit)", 146, 70),
    ];
    let (owner, a, b) = *rng.pick(blocks);
    (
        owner,
        format!("{a}.{b}.{}.{}", rng.range(0, 255), rng.range(2, 254)),
    )
}

/// A person's or a host's client software, upgraded at random days.
#[derive(Debug, Clone)]
pub struct Upgrades {
    days: Vec<i64>,
}

impl Upgrades {
    /// Upgrades with a mean interval (days); the first install is weeks before day 0.
    pub fn new(rng: &mut Rng, mean_interval: f64, days: i64) -> Upgrades {
        let mut d = -(rng.range(20, 120));
        let mut out = vec![d];
        loop {
            d += 1 + rng.exponential(mean_interval) as i64;
            if d >= days {
                break;
            }
            out.push(d);
        }
        Upgrades { days: out }
    }

    /// The day of the release installed on a day.
    pub fn release_day(&self, day: i64) -> i64 {
        self.days
            .iter()
            .rev()
            .find(|d| **d <= day)
            .copied()
            .unwrap_or(self.days[0])
    }
}

/// Operating systems of laptops and servers, as the AWS SDKs print them.
pub const LAPTOP_OS: &[&str] = &[
    "os/macos#23.6.0 md/arch#arm64",
    "os/macos#24.1.0 md/arch#arm64",
    "os/windows#10 md/arch#amd64",
    "os/linux#6.8.0-47-generic md/arch#x86_64",
];

/// aws-cli v2 as released on a day (a patch release every few days).
pub fn aws_cli(release_day: i64, os: &str, command: &str) -> String {
    let n = 240 + (release_day + 200) / 4;
    format!(
        "aws-cli/2.{}.{} md/awscrt#0.22.0 ua/2.0 {os} lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{command}",
        n / 50,
        n % 50
    )
}

/// Boto3 as released on a day.
pub fn boto3(release_day: i64, os: &str, extra: &str) -> String {
    let n = 3_400 + (release_day + 200) / 2;
    let v = format!("1.{}.{}", n / 100, n % 100);
    format!(
        "Boto3/{v} md/Botocore#{v} ua/2.0 {os} lang/python#3.11.9 md/pyimpl#CPython {extra}cfg/retry-mode#legacy Botocore/{v}"
    )
}

/// Terraform with the AWS provider released on a day.
pub fn terraform(release_day: i64) -> String {
    let p = 60 + (release_day + 200) / 14;
    format!(
        "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.{p}.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.{} os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/ssm#1.55.{}",
        p % 10,
        p % 7
    )
}

/// A browser on the AWS console (Session Manager, Run Command, Fleet Manager pages).
pub fn browser(release_day: i64, mac: bool) -> String {
    let chrome = 128 + (release_day + 200) / 28;
    if mac {
        format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36")
    } else {
        format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.0.0")
    }
}

/// The GitHub-hosted runner image of a day (a new image every week).
pub fn runner_os(day: i64) -> String {
    format!(
        "os/linux#6.8.0-10{}-azure md/arch#x86_64",
        40 + (day + 100) / 7 % 50
    )
}

/// Azure client applications (the `appid` claim of a user's token).
pub mod azure_app {
    /// Azure portal.
    pub const PORTAL: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";
    /// Azure CLI.
    pub const CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    /// Azure PowerShell.
    pub const POWERSHELL: &str = "1950a258-227b-4e31-a9cf-717495945fc2";
    /// Visual Studio Code's Azure account extension.
    pub const VSCODE: &str = "aebc6443-996d-45c2-90f0-388ff96faa56";
    /// Microsoft Office (AADInternals borrows its client id).
    pub const OFFICE: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";
}

/// The Cloud SDK (`gcloud`) released on a day, running a command.
pub fn gcloud(release_day: i64, command: &str) -> String {
    let n = 480 + (release_day + 200) / 7;
    format!(
        "google-cloud-sdk gcloud/{n}.0.0 command/gcloud.{command} invocation-id/{:032x} environment/None environment-version/None client-os/MACOSX client-os-ver/24.1.0 client-pltf-arch/arm interactive/True from-script/False python/3.12.7 term/xterm-256color,gzip(gfe)",
        crate::emit::fnv(&format!("{release_day}{command}")) as u128 * 0x9e37_79b9
    )
}

/// Terraform with the Google provider released on a day.
pub fn terraform_google(release_day: i64) -> String {
    let p = 8 + (release_day + 200) / 14;
    format!(
        "Terraform/1.9.8 (+https://www.terraform.io) Terraform-Plugin-SDK/2.33.0 terraform-provider-google/6.{p}.0,gzip(gfe)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadet_core::owner::owner_of;

    /// Where each generator's addresses land in the shipped owner table: people's homes,
    /// offices and the VPN in ISP space, never a cloud provider's (a person calling from AWS is
    /// a signal, so the simulator must not do it by accident); runner pools and instance egress
    /// in their provider's space; attacker infrastructure on hosting networks.
    #[test]
    fn generated_addresses_belong_to_the_owners_they_stand_for() {
        let mut rng = Rng::new(7);
        let mut wrong = Vec::new();
        for zone in [Zone::NewYork, Zone::London, Zone::Kolkata] {
            for i in 0..400 {
                let mut home = Home::new(&mut rng, zone);
                for ip in [
                    home.ip(&mut rng, i),
                    office_ip(&mut rng, zone),
                    vpn_ip(&mut rng),
                ] {
                    if owner_of(Some(&ip)).is_some_and(|o| o.hosting) {
                        wrong.push(format!("{ip} (a person's network) is a provider's"));
                    }
                }
            }
        }
        let mut hosted = 0u32;
        for _ in 0..2000 {
            for (want, ip) in [
                ("azure", azure_pool_ip(&mut rng)),
                ("aws", aws_ip(&mut rng)),
            ] {
                let got = owner_of(Some(&ip)).map(|o| o.key);
                if got.as_deref() != Some(want) {
                    wrong.push(format!("{ip}: {got:?}, not {want}"));
                }
            }
            // A VPN exit's AS is not in the providers' table: it looks like an ISP, as it does
            // to a real detector; and the table's prefixes do not cover every address of a host.
            let (_, ip) = attacker_ip(&mut rng);
            hosted += u32::from(owner_of(Some(&ip)).is_some_and(|o| o.hosting));
        }
        assert!(
            hosted > 1600,
            "{hosted} of 2000 attacker addresses on hosting networks"
        );
        wrong.sort();
        wrong.dedup();
        assert!(
            wrong.is_empty(),
            "{} wrong:\n{}",
            wrong.len(),
            wrong[..wrong.len().min(40)].join("\n")
        );
    }
}
