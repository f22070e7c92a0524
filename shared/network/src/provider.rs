//! The providers the table names: clouds with published ranges, and hosting networks declared
//! by AS number in `data/asn-providers.tsv`.

/// The operator behind an address: a cloud or hosting provider.
///
/// An address is a provider's when it lies in that provider's published ranges (then
/// [`Network::published`](crate::Network::published) is true, with service and region where
/// the list gives them), or when the AS that announces it is declared as that provider's in
/// `data/asn-providers.tsv`. A provider's whole network counts: `Gcp` is Google's AS15169 too
/// (8.8.8.8), `Azure` is Microsoft's AS8075 too (Microsoft 365).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Provider {
    /// Amazon Web Services (AS16509, AS14618, …).
    Aws,
    /// Microsoft Azure and Microsoft's network (AS8075, …).
    Azure,
    /// Google Cloud and Google's network (AS15169, AS396982, …).
    Gcp,
    /// Oracle Cloud Infrastructure (AS31898).
    Oracle,
    /// GitHub (AS36459). Hosted Actions runners run in Azure and AWS, and are those.
    GitHub,
    /// Cloudflare (AS13335, AS209242).
    Cloudflare,
    /// DigitalOcean (AS14061, AS393406).
    DigitalOcean,
    /// Akamai, Linode included (AS63949, AS16625, AS20940).
    Akamai,
    /// Hetzner (AS24940, AS213230).
    Hetzner,
    /// OVHcloud (AS16276).
    Ovh,
    /// Vultr (AS20473).
    Vultr,
    /// Alibaba Cloud (AS45102, AS37963).
    Alibaba,
    /// Tencent Cloud (AS132203, AS45090).
    Tencent,
    /// IBM Cloud (AS36351).
    Ibm,
    /// Scaleway (AS12876).
    Scaleway,
    /// Contabo (AS51167).
    Contabo,
    /// Fastly (AS54113).
    Fastly,
}

impl Provider {
    /// Every provider, in declaration order.
    pub const ALL: [Provider; 17] = [
        Provider::Aws,
        Provider::Azure,
        Provider::Gcp,
        Provider::Oracle,
        Provider::GitHub,
        Provider::Cloudflare,
        Provider::DigitalOcean,
        Provider::Akamai,
        Provider::Hetzner,
        Provider::Ovh,
        Provider::Vultr,
        Provider::Alibaba,
        Provider::Tencent,
        Provider::Ibm,
        Provider::Scaleway,
        Provider::Contabo,
        Provider::Fastly,
    ];

    /// The short stable name used in the data files and in [`Owner::key`](crate::Owner::key):
    /// `aws`, `azure`, `gcp`, …
    pub const fn slug(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
            Provider::Oracle => "oracle",
            Provider::GitHub => "github",
            Provider::Cloudflare => "cloudflare",
            Provider::DigitalOcean => "digitalocean",
            Provider::Akamai => "akamai",
            Provider::Hetzner => "hetzner",
            Provider::Ovh => "ovh",
            Provider::Vultr => "vultr",
            Provider::Alibaba => "alibaba",
            Provider::Tencent => "tencent",
            Provider::Ibm => "ibm",
            Provider::Scaleway => "scaleway",
            Provider::Contabo => "contabo",
            Provider::Fastly => "fastly",
        }
    }

    /// A name for people: `Amazon Web Services`, `Microsoft Azure`, …
    pub const fn name(self) -> &'static str {
        match self {
            Provider::Aws => "Amazon Web Services",
            Provider::Azure => "Microsoft Azure",
            Provider::Gcp => "Google Cloud",
            Provider::Oracle => "Oracle Cloud",
            Provider::GitHub => "GitHub",
            Provider::Cloudflare => "Cloudflare",
            Provider::DigitalOcean => "DigitalOcean",
            Provider::Akamai => "Akamai",
            Provider::Hetzner => "Hetzner",
            Provider::Ovh => "OVHcloud",
            Provider::Vultr => "Vultr",
            Provider::Alibaba => "Alibaba Cloud",
            Provider::Tencent => "Tencent Cloud",
            Provider::Ibm => "IBM Cloud",
            Provider::Scaleway => "Scaleway",
            Provider::Contabo => "Contabo",
            Provider::Fastly => "Fastly",
        }
    }

    /// The provider with this [`slug`](Provider::slug).
    pub fn from_slug(slug: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.slug() == slug)
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip_and_are_distinct() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_slug(p.slug()), Some(p));
        }
        let mut slugs: Vec<_> = Provider::ALL.iter().map(|p| p.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), Provider::ALL.len());
        assert_eq!(Provider::from_slug("AWS"), None);
    }
}
