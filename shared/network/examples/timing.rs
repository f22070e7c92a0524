//! Load and lookup times of the embedded table (`cargo run --release -p cadet-network --example
//! timing`), plus the owner of any addresses given as arguments.
//!
//! Load: inflating and checking the table, as the first lookup in a process (an AWS Lambda
//! cold start) pays it; the median of several fresh parses. Lookup: the mean over a million
//! pseudo-random public addresses, IPv4 and IPv6 separately, after the table is loaded.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        for a in &args {
            match cadet_network::owner_of(a) {
                Ok(Some(o)) => println!("{a}\t{}\t{o:?}", o.key()),
                Ok(None) => println!("{a}\t-\tno owner"),
                Err(e) => println!("{a}\t!\t{e}"),
            }
        }
        return;
    }
    println!("data: {}", cadet_network::data_version());
    let first = Instant::now();
    let summary = match cadet_network::check() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let first = first.elapsed();
    let mut loads: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            let _ = black_box(cadet_network::parse_uncached());
            t.elapsed()
        })
        .collect();
    loads.sort();
    println!(
        "table: {} owners, {} IPv4 + {} IPv6 ranges, {:.1} MB inflated",
        summary.owners,
        summary.ipv4_ranges,
        summary.ipv6_ranges,
        summary.inflated_bytes as f64 / 1e6
    );
    println!(
        "load (first lookup in a process): first {first:?}, median of 7 {:?}",
        loads[3]
    );

    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const N: u32 = 1_000_000;
    let v4: Vec<IpAddr> = (0..N)
        .map(|_| IpAddr::V4(Ipv4Addr::from(next() as u32)))
        .collect();
    // Global unicast 2000::/3, where the table has ranges.
    let v6: Vec<IpAddr> = (0..N)
        .map(|_| {
            let hi = (next() & 0x1FFF_FFFF_FFFF_FFFF) | 0x2000_0000_0000_0000;
            IpAddr::V6(Ipv6Addr::from((u128::from(hi) << 64) | u128::from(next())))
        })
        .collect();
    for (label, ips) in [("IPv4", &v4), ("IPv6", &v6)] {
        let t = Instant::now();
        let mut found = 0u32;
        for ip in ips {
            found += u32::from(black_box(cadet_network::owner(*ip)).is_some());
        }
        let per = t.elapsed() / N;
        println!("lookup {label}: {per:?} per address ({found} of {N} with an owner)");
    }
}
